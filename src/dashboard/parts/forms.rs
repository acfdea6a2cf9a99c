//! What a form or a URL's query carries, read one way on every page (the last value of a
//! repeated name wins), and the nonce a form carries so that sending it twice is one request.

use std::collections::HashMap;

use actix_web::{web, HttpRequest};

use crate::secrets::random_bytes;

/// A urlencoded form body as name -> value (the last value of a repeated name wins).
pub(crate) fn form(body: &[u8]) -> HashMap<String, String> {
    let text = std::str::from_utf8(body).unwrap_or("");
    web::Query::<Vec<(String, String)>>::from_query(text)
        .map(|q| q.into_inner().into_iter().collect())
        .unwrap_or_default()
}

/// A URL's query as name -> value, read as a form is.
pub(crate) fn query(req: &HttpRequest) -> HashMap<String, String> {
    form(req.query_string().as_bytes())
}

/// A form's nonce: 16 random bytes, base64url: with it a form sent twice is one request.
pub(crate) fn nonce() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    URL_SAFE_NO_PAD.encode(random_bytes::<16>())
}
