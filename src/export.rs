//! `quota-gateway export`: the usage ledger of a range into a file, through the HTTP API
//! (NDJSON or CSV, streamed), with a progress line on standard error. Entry ids are stable, so
//! a billing system fed twice with overlapping exports deduplicates them.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {0}: {1}")]
    Write(String, std::io::Error),
    #[error("cannot reach the gateway: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the gateway answered {0}: {1}")]
    Refused(reqwest::StatusCode, String),
    #[error("the export ended early after {lines} lines ({source}); nothing was kept, run it again")]
    Cut { lines: u64, source: reqwest::Error },
}

/// What to export.
pub struct ExportRequest<'a> {
    pub url: &'a str,
    pub key: &'a str,
    /// RFC 3339 times; either may be absent.
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub user: Option<&'a str>,
    /// "ndjson" or "csv".
    pub csv: bool,
}

/// How much was written: entries (NDJSON lines or CSV rows) and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    pub lines: u64,
    pub bytes: u64,
}

pub async fn export(request: &ExportRequest<'_>, out: &Path, progress: bool) -> Result<Exported, ExportError> {
    let mut query: Vec<(&str, &str)> = Vec::new();
    for (name, value) in [("from", request.from), ("to", request.to), ("userId", request.user)] {
        if let Some(value) = value {
            query.push((name, value));
        }
    }
    let accept = if request.csv {
        "text/csv"
    } else {
        "application/x-ndjson"
    };
    let response = reqwest::Client::new()
        .get(format!("{}/v1/usage-events", request.url.trim_end_matches('/')))
        .query(&query)
        .bearer_auth(request.key)
        .header("Accept", accept)
        .send()
        .await?;
    if !response.status().is_success() {
        let status = response.status();
        return Err(ExportError::Refused(status, response.text().await.unwrap_or_default()));
    }
    // Written beside the target and renamed only when the stream ended whole: a stream the
    // gateway cut (Redis failed midway) must not leave a file that looks like a short export.
    let name = out.display().to_string();
    let partial = out.with_file_name(format!(
        ".{}.partial",
        out.file_name().map_or("export".into(), |n| n.to_string_lossy())
    ));
    let written = write_stream(response, &partial, progress).await;
    let done = match written {
        Ok(done) => done,
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
    };
    std::fs::rename(&partial, out).map_err(|e| ExportError::Write(name.clone(), e))?;
    if progress {
        // Over the live line on a terminal; a log or a pipe gets the one line alone.
        let over = if live(progress) { "\r" } else { "" };
        eprintln!(
            "{over}exported {} lines, {:.1} MB to {name}",
            done.lines,
            done.bytes as f64 / 1e6
        );
    }
    Ok(done)
}

/// Whether the progress line is redrawn as the export goes: only on a terminal, where `\r`
/// moves back over it; written to a log or a pipe it would pile up as one long line.
fn live(progress: bool) -> bool {
    progress && std::io::stderr().is_terminal()
}

/// Streams the answer into `path`; a body that ends in an error is `Cut`, never a short file.
async fn write_stream(mut response: reqwest::Response, path: &Path, progress: bool) -> Result<Exported, ExportError> {
    let name = path.display().to_string();
    let file = std::fs::File::create(path).map_err(|e| ExportError::Write(name.clone(), e))?;
    let mut file = std::io::BufWriter::new(file);
    let mut done = Exported { lines: 0, bytes: 0 };
    let mut shown = Instant::now();
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(source) => {
                return Err(ExportError::Cut {
                    lines: done.lines,
                    source,
                })
            }
        };
        file.write_all(&chunk)
            .map_err(|e| ExportError::Write(name.clone(), e))?;
        done.bytes += chunk.len() as u64;
        done.lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        if live(progress) && shown.elapsed() > Duration::from_millis(200) {
            eprint!("\rexported {} lines, {:.1} MB", done.lines, done.bytes as f64 / 1e6);
            shown = Instant::now();
        }
    }
    file.flush().map_err(|e| ExportError::Write(name.clone(), e))?;
    Ok(done)
}
