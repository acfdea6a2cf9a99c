//! The SSRF guard: a webhook URL is `https` (plain `http` only when allowed), and every address
//! its host resolves to is public (private, loopback and link-local ones only when allowed).
//! Checked when an endpoint is made and again before every attempt, which then connects to
//! the addresses checked, so DNS cannot answer differently between the check and the request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

use super::WebhookSettings;

/// Why a URL may not be delivered to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("must be an absolute http(s) URL")]
    Malformed,
    #[error("must use https")]
    NotHttps,
    #[error("must not carry a username or password")]
    Credentials,
    #[error("resolves to {0}, a private, loopback or link-local address")]
    Private(IpAddr),
    #[error("does not resolve: {0}")]
    Unresolved(String),
}

/// The URL parsed and its scheme checked, before any DNS.
pub fn check_url(text: &str, settings: &WebhookSettings) -> Result<Url, Refused> {
    let url = Url::parse(text).map_err(|_| Refused::Malformed)?;
    match url.scheme() {
        "https" => {}
        "http" if settings.allow_http => {}
        "http" => return Err(Refused::NotHttps),
        _ => return Err(Refused::Malformed),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Refused::Malformed);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Credentials);
    }
    Ok(url)
}

/// The addresses to connect to for `url`: every one its host resolves to, all allowed.
pub async fn resolve(url: &Url, settings: &WebhookSettings) -> Result<Vec<SocketAddr>, Refused> {
    let host = url.host_str().ok_or(Refused::Malformed)?;
    let port = url.port_or_known_default().ok_or(Refused::Malformed)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Refused::Unresolved(e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(Refused::Unresolved("no address".into()));
    }
    if !settings.allow_private {
        if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(Refused::Private(bad.ip()));
        }
    }
    Ok(addrs)
}

/// Whether an address is on the public internet (not private, loopback, link-local, shared,
/// documentation, unspecified, broadcast or multicast).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)))
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_are_https_without_credentials() {
        let strict = WebhookSettings::default();
        assert_eq!(check_url("http://example.com/x", &strict), Err(Refused::NotHttps));
        assert_eq!(check_url("ftp://example.com", &strict), Err(Refused::Malformed));
        assert_eq!(check_url("https://u:p@example.com", &strict), Err(Refused::Credentials));
        assert_eq!(check_url("not a url", &strict), Err(Refused::Malformed));
        assert!(check_url("https://example.com/hook", &strict).is_ok());
        let lax = WebhookSettings {
            allow_http: true,
            ..strict
        };
        assert!(check_url("http://127.0.0.1:9/x", &lax).is_ok());
    }
}
