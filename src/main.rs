//! The `quota-gateway` binary: command line and wiring. The only place `anyhow` appears.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use quota_gateway::config::Config;
use quota_gateway::gateway::FirstStart;
use quota_gateway::managed_redis::ManagedRedis;
use quota_gateway::startup::Application;

/// The node allocates a few hundred small blocks a proxied call (its JSON, the hold, the
/// answers); glibc's malloc and free were a fifth of the node's instructions a call
/// (docs/decisions/0133-the-node-allocates-with-mimalloc.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "quota-gateway",
    version,
    about = "A Redis-backed atomic quota gateway for AI apps"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve(Config),
    /// Create or update every plan in a JSON file, and print what changed.
    Apply(ApplyArgs),
    /// Write the usage ledger of a range to a file (NDJSON or CSV), for invoicing and analytics.
    Export(ExportArgs),
    /// Replay a cohort's recorded usage against a candidate plan (the pricing lab), and print
    /// what would change.
    Simulate(SimulateArgs),
    /// The model catalog: `catalog diff OLD NEW` prints every model added or removed and every
    /// changed price, limit or alias, for a person to review before a node loads NEW
    /// (`QG_CATALOG`); `catalog check FILE` checks a file as a node would at start;
    /// `catalog import FILE` converts a community price list into a catalog file.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Print the data plane's Lua function library exactly as a node loads it (FUNCTION LOAD):
    /// its first line names it, and each function is <name>_<function>.
    Library,
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Print every difference between two catalog files; `built-in` names the one built in.
    Diff { old: String, new: String },
    /// Check a catalog file as a node does at start, naming the entry at fault.
    Check { file: std::path::PathBuf },
    /// Convert a price list in the community's `model_prices_and_context_window.json` format
    /// into a catalog file: every price exact, with its provenance; each model left out and
    /// each field not carried is reported on stderr. Review it with `catalog diff` before a
    /// node loads it.
    Import {
        file: std::path::PathBuf,
        /// The https address the list was read from: every model's `source` unless its entry
        /// names its own.
        #[arg(long)]
        source: String,
        /// The day the prices were read (YYYY-MM-DD); today when absent.
        #[arg(long)]
        as_of: Option<String>,
        /// The catalog's version; `imported-<as of>` when absent.
        #[arg(long)]
        version: Option<String>,
        /// Write the catalog here instead of stdout.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("plan_to_try").required(true).args(["candidate", "candidate_plan"])))]
#[command(group(clap::ArgGroup::new("whose_usage").required(true).args(["cohort", "users", "users_file"])))]
struct SimulateArgs {
    /// A JSON file holding the plan document to try, as PUT /v1/plans takes it (its id optional).
    #[arg(long, value_name = "FILE")]
    candidate: Option<std::path::PathBuf>,
    /// A stored plan to try, by id.
    #[arg(long, value_name = "PLAN_ID")]
    candidate_plan: Option<String>,
    /// Replay the users on this plan.
    #[arg(long, value_name = "PLAN_ID")]
    cohort: Option<String>,
    /// Replay these users (ids separated by commas).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    users: Option<Vec<String>>,
    /// Replay the users of a file, one id a line.
    #[arg(long, value_name = "FILE")]
    users_file: Option<std::path::PathBuf>,
    /// From this time on (RFC 3339, or a date for its UTC midnight); default: 30 days before --to.
    #[arg(long)]
    from: Option<String>,
    /// Up to this time (RFC 3339, or a date for its UTC midnight); default: now.
    #[arg(long)]
    to: Option<String>,
    /// Also write the per-user rows as CSV to this file.
    #[arg(long, value_name = "FILE")]
    csv: Option<std::path::PathBuf>,
    /// Give up waiting after this many seconds (the simulation goes on in the gateway).
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_seconds: u64,
    /// The gateway's base URL.
    #[arg(long, env = "QG_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A secret key of the project to simulate in.
    #[arg(long, env = "QG_API_KEY", hide_env_values = true)]
    key: String,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// From this time on (RFC 3339), inclusive.
    #[arg(long)]
    from: Option<String>,
    /// Up to this time (RFC 3339), exclusive.
    #[arg(long)]
    to: Option<String>,
    /// One user only; without it, every user of the project.
    #[arg(long)]
    user: Option<String>,
    /// ndjson (one JSON entry a line) or csv (one row per entry and group).
    #[arg(long, default_value = "ndjson", value_parser = ["ndjson", "csv"])]
    format: String,
    /// The file to write.
    #[arg(long)]
    out: std::path::PathBuf,
    /// The gateway's base URL.
    #[arg(long, env = "QG_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A secret key of the project to export.
    #[arg(long, env = "QG_API_KEY", hide_env_values = true)]
    key: String,
}

#[derive(clap::Args)]
struct ApplyArgs {
    /// The plans file: {"plans": [...]}, an array of plans, or one plan.
    file: std::path::PathBuf,
    /// The gateway's base URL.
    #[arg(long, env = "QG_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// A secret key of the project the plans belong to.
    #[arg(long, env = "QG_API_KEY", hide_env_values = true)]
    key: String,
}

/// Errors end the process with one line on standard error and exit code 1: a person reads it,
/// so it says what went wrong and what to do, without a backtrace (even with RUST_BACKTRACE set).
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Apply(args)) => apply(args),
        Some(Command::Export(args)) => export(args),
        Some(Command::Simulate(args)) => simulate(args),
        Some(Command::Catalog(command)) => catalog(command),
        Some(Command::Library) => print_library(),
        Some(Command::Serve(config)) => serve_with_logs(config),
        None => serve_with_logs(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("quota-gateway: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The library's text on standard output; a reader that stops early (`| head -1`) is no error.
fn print_library() -> anyhow::Result<()> {
    use std::io::Write;
    let text = &quota_gateway::surface::store::library::LIBRARY.text;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}

fn serve_with_logs(config: Config) -> anyhow::Result<()> {
    init_logs();
    actix_web::rt::System::new().block_on(serve(config))
}

/// Logs go to standard error: JSON lines (one per request, with its span's request id, route,
/// status and latency), or readable text when `QG_LOG_FORMAT=pretty` or standard error is a
/// terminal. `RUST_LOG` sets the level (default info).
fn init_logs() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let pretty = match std::env::var("QG_LOG_FORMAT").as_deref() {
        Ok("json") => false,
        Ok("pretty") => true,
        _ => std::io::stderr().is_terminal(),
    };
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if pretty {
        logs.init();
    } else {
        logs.json().with_current_span(true).with_span_list(false).init();
    }
}

fn catalog(command: CatalogCommand) -> anyhow::Result<()> {
    use quota_gateway::surface::quota::catalog::{diff, Catalog, BUILT_IN};
    let load = |name: &str| -> anyhow::Result<Catalog> {
        let text = match name {
            "built-in" => BUILT_IN.to_string(),
            path => std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))?,
        };
        Catalog::parse(&text).map_err(|e| anyhow::anyhow!("{name}: {e}"))
    };
    match command {
        CatalogCommand::Diff { old, new } => {
            let (before, after) = (load(&old)?, load(&new)?);
            println!("catalog {} -> {}", before.version(), after.version());
            let changes = diff(&before, &after);
            for change in &changes {
                println!("{change}");
            }
            println!("{} change(s)", changes.len());
        }
        CatalogCommand::Import {
            file,
            source,
            as_of,
            version,
            out,
        } => import_catalog(&file, &source, as_of, version, out)?,
        CatalogCommand::Check { file } => {
            let checked = load(&file.display().to_string())?;
            println!(
                "{}: version {}, {} models",
                file.display(),
                checked.version(),
                checked.doc.models.len()
            );
        }
    }
    Ok(())
}

fn import_catalog(
    file: &std::path::Path,
    source: &str,
    as_of: Option<String>,
    version: Option<String>,
    out: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    use quota_gateway::surface::quota::catalog_import::{import, Provenance};
    let text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%d").to_string());
    let version = version.unwrap_or_else(|| format!("imported-{as_of}"));
    let provenance = Provenance {
        version: &version,
        as_of: &as_of,
        source,
    };
    let imported = import(&text, &provenance).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let json = serde_json::to_string_pretty(&imported.catalog.doc)?;
    match &out {
        Some(path) => std::fs::write(path, format!("{json}\n"))?,
        None => println!("{json}"),
    }
    eprintln!(
        "imported {} models; left out {}",
        imported.catalog.doc.models.len(),
        imported.skipped.len()
    );
    for (model, reason) in &imported.skipped {
        eprintln!("  left out {model}: {reason}");
    }
    if !imported.not_carried.is_empty() {
        eprintln!("fields the catalog does not carry (models that had each):");
        for (field, count) in &imported.not_carried {
            eprintln!("  {field}: {count}");
        }
    }
    Ok(())
}

fn apply(args: ApplyArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let changes = runtime.block_on(quota_gateway::apply::apply(&args.url, &args.key, &args.file))?;
    for change in changes {
        println!("{change}");
    }
    Ok(())
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let request = quota_gateway::export::ExportRequest {
        url: &args.url,
        key: &args.key,
        from: args.from.as_deref(),
        to: args.to.as_deref(),
        user: args.user.as_deref(),
        csv: args.format == "csv",
    };
    runtime.block_on(quota_gateway::export::export(&request, &args.out, true))?;
    Ok(())
}

fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    use quota_gateway::simulate::{Candidate, Cohort};
    let candidate = match (args.candidate, args.candidate_plan) {
        (Some(file), _) => Candidate::File(file),
        (None, Some(plan)) => Candidate::Stored(plan),
        (None, None) => anyhow::bail!("--candidate or --candidate-plan names the plan to try"),
    };
    let cohort = match (args.cohort, args.users, args.users_file) {
        (Some(plan), _, _) => Cohort::Plan(plan),
        (None, Some(users), _) => Cohort::Users(users),
        (None, None, Some(file)) => Cohort::UsersFile(file),
        (None, None, None) => anyhow::bail!("--cohort, --users or --users-file names whose usage to replay"),
    };
    let request = quota_gateway::simulate::SimulateRequest {
        url: &args.url,
        key: &args.key,
        candidate,
        cohort,
        from: args.from.as_deref(),
        to: args.to.as_deref(),
        timeout: std::time::Duration::from_secs(args.timeout_seconds),
        csv: args.csv.as_deref(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let simulated = runtime.block_on(quota_gateway::simulate::simulate(&request, true))?;
    print!("{}", quota_gateway::simulate::summary(&simulated));
    if let Some(csv) = &args.csv {
        eprintln!("wrote {} rows to {}", simulated.report.rows.len(), csv.display());
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!(listen = %config.listen, "starting");
    tracing::debug!(?config, "configuration");
    let (managed, redis_url) = match &config.redis_url {
        Some(url) => (None, url.clone()),
        None => {
            let redis = ManagedRedis::start(&config.data_dir)
                .await
                .context("cannot start the managed redis-server")?;
            let url = redis.url().to_string();
            (Some(redis), url)
        }
    };
    let result = run(&config, &redis_url).await;
    if let Some(redis) = managed {
        redis.stop().await;
    }
    result
}

async fn run(config: &Config, redis_url: &str) -> anyhow::Result<()> {
    let mut app = Application::build(config, redis_url).await.context("start-up failed")?;
    let started = app.started();
    let url = format!("http://{}:{}", config.listen.ip(), app.port());
    let data = match &config.redis_url {
        None => Some(config.data_dir.display().to_string()),
        Some(_) => None,
    };
    tokio::spawn(async move {
        let Some(first) = started.await else { return };
        println!("{}", banner(&url, &first, data.as_deref()));
    });
    app.run_until_signalled().await.context("server failed")
}

/// What a person needs once start-up has finished, in one block after the start-up logs.
fn banner(url: &str, first: &FirstStart, data_dir: Option<&str>) -> String {
    let mut lines = vec![
        format!("quota-gateway is ready on {url}"),
        format!("  dashboard:   {url}/dashboard (sign in with the secret key or the root token)"),
    ];
    if let Some(token) = &first.root_token {
        lines.push(format!("  root token:  {token}   (shown once: keep it safe)"));
    }
    if let Some(key) = &first.default_key {
        lines.push(format!("  secret key:  {key}   (project `default`, shown once)"));
    }
    match data_dir {
        Some(dir) => {
            lines.push(format!("  data:        {dir} (the gateway's own redis-server)"));
            lines.push(format!("  start over:  stop the gateway and delete {dir}"));
        }
        None => lines.push("  data:        the Redis at QG_REDIS_URL".to_string()),
    }
    lines.join("\n")
}
