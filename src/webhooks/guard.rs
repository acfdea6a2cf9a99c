//! The SSRF guard: a webhook URL is `https` (plain `http` only when allowed), and every address
//! its host resolves to is public (private, loopback and link-local ones only when allowed).
//! Checked when an endpoint is made and again before every attempt, which then connects to
//! the addresses checked, so DNS cannot answer differently between the check and the request.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use tokio::time::Instant;

use super::WebhookSettings;

/// The longest URL an endpoint keeps, as given and as normalised.
pub(crate) const MAX_URL_BYTES: usize = 2048;

/// Why a URL may not be delivered to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    #[error("must be an absolute http(s) URL")]
    Malformed,
    #[error("must not contain control characters (CR, LF, tab, NUL, ...)")]
    Control,
    #[error("must be at most 2048 bytes, written out in full")]
    TooLong,
    #[error("must use https")]
    NotHttps,
    #[error("must not carry a username or password")]
    Credentials,
    #[error("resolves to {0}, a private, loopback, link-local or other special-purpose address")]
    Private(IpAddr),
    #[error("does not resolve: {0}")]
    Unresolved(String),
}

/// The URL parsed and its scheme checked, before any DNS. The answer is the normalised form
/// (scheme and host in lower case, the default port and dot segments dropped, the rest
/// percent-encoded), which is what an endpoint stores. A URL parser drops tabs and line breaks
/// silently, so any control character is refused before parsing, never cleaned away.
pub(crate) fn check_url(text: &str, settings: &WebhookSettings) -> Result<Url, Refused> {
    if text.chars().any(char::is_control) {
        return Err(Refused::Control);
    }
    if text.len() > MAX_URL_BYTES {
        return Err(Refused::TooLong);
    }
    let mut url = Url::parse(text).map_err(|_| Refused::Malformed)?;
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
    // A fragment never reaches the receiver.
    url.set_fragment(None);
    if url.as_str().len() > MAX_URL_BYTES {
        return Err(Refused::TooLong);
    }
    Ok(url)
}

/// The addresses to connect to for `url`: every one its host resolves to, all allowed. The
/// system's resolver has no time limit of its own, so the lookup is given up at `deadline`.
pub(crate) async fn resolve(
    url: &Url,
    settings: &WebhookSettings,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, Refused> {
    resolve_with(url, settings, deadline, system_lookup).await
}

async fn system_lookup(host: String, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    Ok(tokio::net::lookup_host((host.as_str(), port)).await?.collect())
}

/// As `resolve`, with the lookup given: the seam a test uses for a resolver that never answers.
pub(crate) async fn resolve_with<F, Fut>(
    url: &Url,
    settings: &WebhookSettings,
    deadline: Instant,
    lookup: F,
) -> Result<Vec<SocketAddr>, Refused>
where
    F: FnOnce(String, u16) -> Fut,
    Fut: Future<Output = std::io::Result<Vec<SocketAddr>>>,
{
    let host = url.host_str().ok_or(Refused::Malformed)?;
    let port = url.port_or_known_default().ok_or(Refused::Malformed)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = tokio::time::timeout_at(deadline, lookup(host.to_string(), port))
        .await
        .map_err(|_| Refused::Unresolved("no answer from DNS in time".into()))?
        .map_err(|e| Refused::Unresolved(e.to_string()))?;
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

/// Whether an address is on the public internet: in no range of the IANA IPv4 and IPv6
/// special-purpose address registries (private, loopback, link-local, shared, documentation,
/// benchmarking, reserved, protocol assignments, discard, ...), nor multicast or broadcast.
/// An IPv6 address that embeds an IPv4 one (mapped, compatible, translated, NAT64, 6to4) is
/// judged by the IPv4 address it carries, so `[::7f00:1]` is loopback and `[2002:a9fe:a9fe::1]`
/// the metadata address.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

/// `a` is within `net`/`bits`.
fn in_v4(a: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    u32::from(a) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn public_v4(ip: Ipv4Addr) -> bool {
    // The IANA IPv4 special-purpose registry, then multicast (224.0.0.0/4).
    const SPECIAL: [([u8; 4], u32); 19] = [
        ([0, 0, 0, 0], 8),
        ([10, 0, 0, 0], 8),
        ([100, 64, 0, 0], 10),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 24),
        ([192, 0, 2, 0], 24),
        ([192, 31, 196, 0], 24),
        ([192, 52, 193, 0], 24),
        ([192, 88, 99, 0], 24),
        ([192, 168, 0, 0], 16),
        ([192, 175, 48, 0], 24),
        ([198, 18, 0, 0], 15),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        ([240, 0, 0, 0], 4),
        ([255, 255, 255, 255], 32),
        ([224, 0, 0, 0], 4),
    ];
    !SPECIAL.iter().any(|(net, bits)| in_v4(ip, *net, *bits))
}

/// `a` is within `net`/`bits`.
fn in_v6(a: Ipv6Addr, net: [u16; 8], bits: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
    u128::from(a) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

/// The IPv4 address an IPv6 address carries, in the forms that carry one: IPv4-mapped
/// (::ffff:0:0/96), IPv4-compatible (::/96, deprecated but still routed by some stacks),
/// IPv4-translated (::ffff:0:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let carries_low = [
        ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),
        ([0, 0, 0, 0, 0, 0, 0, 0], 96),
        ([0, 0, 0, 0, 0xffff, 0, 0, 0], 96),
        ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
    ];
    // :: and ::1 are IPv6's own unspecified and loopback addresses, judged as such.
    if ip.is_unspecified() || ip.is_loopback() {
        return None;
    }
    if carries_low.iter().any(|(net, n)| in_v6(ip, *net, *n)) {
        return Some(low);
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

fn public_v6(ip: Ipv6Addr) -> bool {
    // The IANA IPv6 special-purpose registry (the IPv4-embedding ranges are judged by what they
    // carry), the deprecated site-local range, and multicast.
    const SPECIAL: [([u16; 8], u32); 13] = [
        ([0, 0, 0, 0, 0, 0, 0, 1], 128),
        ([0, 0, 0, 0, 0, 0, 0, 0], 128),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        ([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
    ];
    !SPECIAL.iter().any(|(net, bits)| in_v6(ip, *net, *bits))
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
            // IPv4 inside IPv6: NAT64 of the metadata address, compatible, 6to4, translated.
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "::7f00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "::ffff:0:7f00:1",
            // Special-purpose ranges of both registries.
            "fec0::1",
            "2001:db8::1",
            "2001::1",
            "64:ff9b:1::1",
            "100::1",
            "ff02::1",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.1",
            "192.0.2.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "198.20.0.1",
            "2606:4700:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn a_resolver_that_never_answers_is_given_up_at_the_deadline() {
        let settings = WebhookSettings::default();
        let url = check_url("https://hangs.example/hook", &settings).unwrap();
        let deadline = Instant::now() + std::time::Duration::from_millis(50);
        let never = |_: String, _: u16| std::future::pending::<std::io::Result<Vec<SocketAddr>>>();
        let refused = resolve_with(&url, &settings, deadline, never).await;
        assert!(
            matches!(refused, Err(Refused::Unresolved(ref why)) if why.contains("in time")),
            "{refused:?}"
        );
        // A resolver that answers is asked for the URL's host and port, and judged as usual.
        let asked = |host: String, port: u16| async move {
            assert_eq!((host.as_str(), port), ("hangs.example", 443));
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        };
        let far = Instant::now() + std::time::Duration::from_secs(60);
        let refused = resolve_with(&url, &settings, far, asked).await;
        assert_eq!(refused, Err(Refused::Private("127.0.0.1".parse().unwrap())));
    }

    #[test]
    fn urls_are_stored_normalised() {
        let strict = WebhookSettings::default();
        for (given, stored) in [
            ("HTTPS://Example.COM:443/a/../hook", "https://example.com/hook"),
            ("https://example.com", "https://example.com/"),
            ("https://example.com/h%6fok?x=1#frag", "https://example.com/h%6fok?x=1"),
            ("https://bücher.example/ü", "https://xn--bcher-kva.example/%C3%BC"),
            (
                "https://[2606:4700:4700:0:0:0:0:1111]/x",
                "https://[2606:4700:4700::1111]/x",
            ),
            (" https://example.com/a b ", "https://example.com/a%20b"),
        ] {
            assert_eq!(check_url(given, &strict).unwrap().as_str(), stored, "{given}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert_eq!(check_url(&long, &strict), Err(Refused::TooLong));
        // Within the bound as given, past it once percent-encoded.
        let grows = format!("https://example.com/{}", "ü".repeat(600));
        assert_eq!(check_url(&grows, &strict), Err(Refused::TooLong));
    }

    #[test]
    fn urls_are_https_without_credentials() {
        let strict = WebhookSettings::default();
        assert_eq!(check_url("http://example.com/x", &strict), Err(Refused::NotHttps));
        assert_eq!(check_url("ftp://example.com", &strict), Err(Refused::Malformed));
        assert_eq!(check_url("https://u:p@example.com", &strict), Err(Refused::Credentials));
        assert_eq!(check_url("not a url", &strict), Err(Refused::Malformed));
        assert!(check_url("https://example.com/hook", &strict).is_ok());
        for smuggled in [
            "https://example.com/hook\r\nX-Injected: 1",
            "https://example.com/\nhook",
            "https://exa\tmple.com/hook",
            "https://example.com/hook\0",
            "https://example.com/hook\u{7f}",
            "https://example.com/hook\u{85}",
        ] {
            assert_eq!(check_url(smuggled, &strict), Err(Refused::Control), "{smuggled:?}");
        }
        let lax = WebhookSettings {
            allow_http: true,
            ..strict
        };
        assert!(check_url("http://127.0.0.1:9/x", &lax).is_ok());
    }
}
