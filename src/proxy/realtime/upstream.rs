//! The provider's side of a realtime session: a WebSocket to the upstream's own realtime path
//! (`ws` for `http`, `wss` for `https`), the caller's query without a key in it, the headers
//! the allow-list lets through and the provider's credential (a bearer token), opened within
//! the upstream's first-byte time.

use actix_web::HttpRequest;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::proxy::call::context::Ctx;
use crate::proxy::{forward, headers};

/// The provider's socket.
pub(super) type Provider = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A message either way, at most: what a client's audio chunk or a provider's event may be.
pub(super) const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// Opens the provider's side of the session; why not, otherwise (said to the caller as a 502).
pub(super) async fn connect(req: &HttpRequest, ctx: &Ctx) -> Result<Provider, String> {
    let upstream = ctx.upstream();
    let base = match upstream.base_url.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}"),
        Some(("http", rest)) => format!("ws://{rest}"),
        _ => return Err("the upstream's base URL is not http or https".into()),
    };
    let mut url = format!("{base}/{}", ctx.target.path);
    let query = match ctx.wire().key_param() {
        Some(name) => headers::query_without(req.query_string(), name),
        None => req.query_string().to_string(),
    };
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    for (name, value) in req.headers() {
        if forward::forwarded(name, upstream) {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                request.headers_mut().insert(name, value);
            }
        }
    }
    if let Some(key) = upstream.credential.as_deref() {
        let (name, value) = ctx.wire().socket_credential(key);
        let value = HeaderValue::from_str(&value).map_err(|_| "the credential is no header value")?;
        request.headers_mut().insert(name, value);
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    match tokio::time::timeout(upstream.timeouts.first_byte, connecting).await {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("the provider did not answer the session's opening in time".into()),
    }
}
