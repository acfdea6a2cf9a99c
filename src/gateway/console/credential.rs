//! What a person signs in to the dashboard with: a key, or an operator's address and password.
//! Sessions are opened by one (`sessions.rs`), and sign-in counts attempts against it
//! (`sign_in.rs`).

/// What a person signs in with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Credential<'a> {
    /// A project's secret key or the root token.
    Key(&'a str),
    /// An operator's address (lower-cased) and password.
    Password { email: &'a str, password: &'a str },
}
