//! AWS Signature Version 4 for a Bedrock upstream without an API key: each request signed, as
//! it goes, over its method, URL, headers and exact body bytes, with AWS's own signer
//! (`aws-sigv4`), from the standard credentials of the node's environment.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// The service Bedrock's runtime signs as.
const SERVICE: &str = "bedrock";

/// The credentials and region an upstream's requests are signed with.
pub(crate) struct Signer {
    identity: Identity,
    region: String,
}

impl Signer {
    pub(crate) fn new(access_key: String, secret: String, session_token: Option<String>, region: String) -> Signer {
        let credentials = Credentials::new(access_key, secret, session_token, None, "quota-gateway environment");
        Signer {
            identity: credentials.into(),
            region,
        }
    }

    /// Adds the signature's headers (`authorization`, `x-amz-date`, the session token) to
    /// `request`, over the headers it carries now; Err when it cannot be signed (a streamed body).
    pub(crate) fn sign(&self, request: &mut reqwest::Request) -> Result<(), String> {
        let body = match request.body() {
            None => SignableBody::Bytes(&[]),
            Some(body) => SignableBody::Bytes(body.as_bytes().ok_or("a streamed body cannot be signed")?),
        };
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v)))
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            request.url().as_str(),
            headers.into_iter(),
            body,
        )
        .map_err(|e| e.to_string())?;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let (instructions, _) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
        let (headers, _) = instructions.into_parts();
        for header in headers {
            let value = reqwest::header::HeaderValue::from_str(header.value()).map_err(|e| e.to_string())?;
            request.headers_mut().insert(header.name(), value);
        }
        Ok(())
    }
}
