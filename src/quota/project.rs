//! A project's settings (default plan, allowed origins, ledger) and the rules their values
//! follow, one rule for every surface that changes them.

use serde::{Deserialize, Serialize};

use super::ids::check_id;
use super::plan_check::Problem;

/// At most this many allowed origins per project.
const MAX_ORIGINS: usize = 32;

/// A project's settings, stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSettings {
    #[serde(default)]
    pub default_plan: Option<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Whether usage changes are also written to the usage ledger (projects stored before the
    /// ledger existed keep one).
    #[serde(default = "keeps_ledger")]
    pub ledger: bool,
    /// Whether a proxied call's trace names its end user (`enduser.id`), when the node exports
    /// traces; off unless the project says so.
    #[serde(default)]
    pub trace_users: bool,
}

fn keeps_ledger() -> bool {
    true
}

impl Default for ProjectSettings {
    fn default() -> ProjectSettings {
        ProjectSettings {
            default_plan: None,
            allowed_origins: Vec::new(),
            ledger: true,
            trace_users: false,
        }
    }
}

impl ProjectSettings {
    /// Whether browsers from `origin` may read usage: an allowed origin equal to it, or a
    /// subdomain pattern (`https://*.example.com`) it is a subdomain of, at any depth.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|allowed| origin_matches(allowed, origin))
    }
}

fn origin_matches(allowed: &str, origin: &str) -> bool {
    let Some((scheme, suffix)) = allowed.split_once("://*") else {
        return allowed == origin;
    };
    let Some(host) = origin
        .strip_prefix(scheme)
        .and_then(|rest| rest.strip_prefix("://"))
        .and_then(|rest| rest.strip_suffix(suffix))
    else {
        return false;
    };
    // What the wildcard stands for: one or more whole labels, nothing else.
    !host.is_empty()
        && !host.starts_with('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

fn problem(field: impl Into<String>, detail: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        detail: detail.into(),
    }
}

/// A default plan's id, checked as any plan id (`defaultPlan`).
pub(crate) fn checked_default_plan(plan: Option<String>) -> Result<Option<String>, Problem> {
    if let Some(plan) = &plan {
        check_id(plan).map_err(|d| problem("defaultPlan", d))?;
    }
    Ok(plan)
}

/// Allowed origins, at most 32, each an origin or a subdomain pattern (`allowedOrigins[i]`).
pub(crate) fn checked_origins(origins: Vec<String>) -> Result<Vec<String>, Problem> {
    if origins.len() > MAX_ORIGINS {
        return Err(problem("allowedOrigins", "must have at most 32 origins"));
    }
    for (i, origin) in origins.iter().enumerate() {
        check_origin(origin).map_err(|d| problem(format!("allowedOrigins[{i}]"), d))?;
    }
    Ok(origins)
}

/// An origin as browsers send it (scheme, host and optional port, nothing else), or a
/// subdomain pattern whose host starts with `*.` (`https://*.example.com`).
fn check_origin(origin: &str) -> Result<(), &'static str> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let host = match rest {
        Some(host) if !host.is_empty() && host.len() <= 253 && !host.contains(['/', '?', '#', ' ', ',', '@']) => host,
        _ => return Err("must be an origin like https://app.example.com"),
    };
    if host.contains('*') {
        let Some(domain) = host.strip_prefix("*.") else {
            return Err("may only use * as a whole first label, like https://*.example.com");
        };
        if domain.contains('*') || !domain.contains('.') {
            return Err("may only use * as a whole first label, like https://*.example.com");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_patterns_match_subdomains_only() {
        let settings = ProjectSettings {
            allowed_origins: vec!["https://*.example.com".into(), "http://localhost:3000".into()],
            ..ProjectSettings::default()
        };
        assert!(settings.allows_origin("https://app.example.com"));
        assert!(settings.allows_origin("https://a.b.example.com"));
        assert!(settings.allows_origin("http://localhost:3000"));
        for refused in [
            "https://example.com",
            "http://app.example.com",
            "https://app.example.com.evil.io",
            "https://evilexample.com",
            "https://.example.com",
            "https://a:1@x.example.com",
            "https://app.example.com:8443",
            "http://localhost:3001",
        ] {
            assert!(!settings.allows_origin(refused), "{refused}");
        }
    }
}
