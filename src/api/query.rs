//! Query strings, read by hand so every error names its parameter: a route names the
//! parameters it takes (all optional), and any other name is a 400 naming it.

use actix_web::web;

use crate::http::ApiError;

/// The values of `names` in `query`, in their order (None where absent; the last one given wins).
pub(crate) fn params<const N: usize>(query: &str, names: [&str; N]) -> Result<[Option<String>; N], ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|_| ApiError::invalid("query", "must be name=value pairs joined by &, percent-encoded"))?;
    let mut values: [Option<String>; N] = std::array::from_fn(|_| None);
    for (name, value) in pairs.into_inner() {
        let Some(i) = names.iter().position(|n| *n == name) else {
            return Err(ApiError::invalid(name, "is not a parameter of this route"));
        };
        values[i] = Some(value);
    }
    Ok(values)
}

/// A page size: `default` when absent, else a whole number from 1 to `max`.
pub(crate) fn limit(text: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match text {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| ApiError::invalid("limit", format!("must be a whole number from 1 to {max}"))),
    }
}

pub(crate) use crate::quota::ids::stream_position;
