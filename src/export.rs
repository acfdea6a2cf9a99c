//! `quota-gateway export`: the usage ledger of a range into a file, through the HTTP API
//! (NDJSON or CSV, streamed), with a progress line on standard error. Entry ids are stable, so
//! a billing system fed twice with overlapping exports deduplicates them.

use std::io::Write;
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
    let name = out.display().to_string();
    let file = std::fs::File::create(out).map_err(|e| ExportError::Write(name.clone(), e))?;
    let mut file = std::io::BufWriter::new(file);
    let mut done = Exported { lines: 0, bytes: 0 };
    let mut shown = Instant::now();
    let mut response = response;
    while let Some(chunk) = response.chunk().await? {
        file.write_all(&chunk)
            .map_err(|e| ExportError::Write(name.clone(), e))?;
        done.bytes += chunk.len() as u64;
        done.lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        if progress && shown.elapsed() > Duration::from_millis(200) {
            eprint!("\rexported {} lines, {:.1} MB", done.lines, done.bytes as f64 / 1e6);
            shown = Instant::now();
        }
    }
    file.flush().map_err(|e| ExportError::Write(name.clone(), e))?;
    if progress {
        eprintln!(
            "\rexported {} lines, {:.1} MB to {name}",
            done.lines,
            done.bytes as f64 / 1e6
        );
    }
    Ok(done)
}
