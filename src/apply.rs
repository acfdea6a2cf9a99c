//! Plans as code: `quota-gateway apply FILE` creates or updates every plan in a JSON file
//! through the HTTP API, and says what changed. The file holds `{"plans": [...]}`, an array of
//! plans, or one plan; every plan names its `id`.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0} is not valid JSON: {1}")]
    Json(String, serde_json::Error),
    #[error("{0}")]
    Shape(String),
    #[error("cannot reach the gateway: {0}")]
    Http(#[from] reqwest::Error),
    #[error("plan {plan}: the gateway answered {status}: {detail}")]
    Refused {
        plan: String,
        status: StatusCode,
        detail: String,
    },
}

/// What applying did to one plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Created { plan: String, version: u64 },
    Updated { plan: String, from: u64, to: u64 },
    Unchanged { plan: String, version: u64 },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Created { plan, version } => write!(f, "created   {plan} (version {version})"),
            Change::Updated { plan, from, to } => write!(f, "updated   {plan} (version {from} -> {to})"),
            Change::Unchanged { plan, version } => write!(f, "unchanged {plan} (version {version})"),
        }
    }
}

/// The plans of a plans file, each with its id.
pub fn read_plans(path: &Path) -> Result<Vec<(String, Value)>, ApplyError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ApplyError::Read(name.clone(), e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| ApplyError::Json(name.clone(), e))?;
    let plans = match value {
        Value::Object(mut map) if map.contains_key("plans") => map.remove("plans").unwrap_or_default(),
        Value::Object(_) => Value::Array(vec![value]),
        other => other,
    };
    let Value::Array(plans) = plans else {
        return Err(ApplyError::Shape(format!(
            "{name}: expected {{\"plans\": [...]}}, an array of plans, or a plan"
        )));
    };
    plans
        .into_iter()
        .enumerate()
        .map(|(i, plan)| match plan["id"].as_str() {
            Some(id) => Ok((id.to_string(), plan)),
            None => Err(ApplyError::Shape(format!("{name}: plan {i} has no \"id\""))),
        })
        .collect()
}

/// Creates or updates every plan of the file at `url` (the gateway's base URL) with `key`.
pub async fn apply(url: &str, key: &str, path: &Path) -> Result<Vec<Change>, ApplyError> {
    let plans = read_plans(path)?;
    let client = reqwest::Client::new();
    let base = url.trim_end_matches('/');
    let mut changes = Vec::with_capacity(plans.len());
    for (id, plan) in plans {
        let address = format!("{base}/v1/plans/{id}");
        let before = client.get(&address).bearer_auth(key).send().await?;
        let before = match before.status() {
            StatusCode::OK => before.json::<Value>().await?["version"].as_u64(),
            StatusCode::NOT_FOUND => None,
            status => return Err(refused(&id, status, before).await),
        };
        let put = client.put(&address).bearer_auth(key).json(&plan).send().await?;
        if put.status() != StatusCode::OK {
            return Err(refused(&id, put.status(), put).await);
        }
        let version = put.json::<Value>().await?["version"].as_u64().unwrap_or(0);
        changes.push(match before {
            None => Change::Created { plan: id, version },
            Some(from) if from == version => Change::Unchanged { plan: id, version },
            Some(from) => Change::Updated {
                plan: id,
                from,
                to: version,
            },
        });
    }
    Ok(changes)
}

async fn refused(plan: &str, status: StatusCode, response: reqwest::Response) -> ApplyError {
    let body: Value = response.json().await.unwrap_or_default();
    let detail = body["detail"].as_str().unwrap_or("no detail").to_string();
    ApplyError::Refused {
        plan: plan.to_string(),
        status,
        detail,
    }
}
