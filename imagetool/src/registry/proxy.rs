//! Proxies from the environment, as Go's `http.ProxyFromEnvironment` reads them for
//! skopeo, podman and docker: `HTTPS_PROXY` for https registries, `HTTP_PROXY` for plain
//! ones (the upper-case name first, then the lower-case one), and `NO_PROXY` for hosts
//! reached directly. Loopback hosts are never proxied, so local registries keep working
//! behind a corporate proxy.
//!
//! Three kinds of proxy are spoken to, as Go speaks them:
//! - HTTP (`http://[USER:PASS@]HOST[:PORT]`, port 80 by default, the scheme optional):
//!   https registries through a `CONNECT` tunnel, plain ones with absolute request
//!   targets, credentials as Basic `Proxy-Authorization`;
//! - HTTPS (`https://…`, port 443 by default): the same as HTTP, inside TLS to the proxy,
//!   verified with the registry's TLS settings, as Go uses one TLS configuration for both;
//! - SOCKS5 (`socks5://[USER:PASS@]HOST[:PORT]`, port 1080 by default; RFC 1928, with
//!   RFC 1929 credentials): a tunnel to the registry's name, which the proxy resolves.
//!
//! Other schemes are refused by name rather than silently bypassed.

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use std::net::IpAddr;

/// A proxy to reach registries through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    pub kind: ProxyKind,
    /// `HOST:PORT` to connect to.
    pub address: String,
    /// User and password from the URL's user information (%-decoded).
    pub credentials: Option<(String, String)>,
    /// The variable it came from, for errors.
    pub source: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    Http,
    Https,
    Socks5,
}

impl Proxy {
    /// The proxy's host, without port or brackets (its TLS name, for https proxies).
    pub fn host(&self) -> &str {
        let host = self
            .address
            .rsplit_once(':')
            .map_or(self.address.as_str(), |(h, _)| h);
        host.trim_start_matches('[').trim_end_matches(']')
    }

    /// `Basic …` for `Proxy-Authorization`, when the URL has credentials.
    pub fn authorization(&self) -> Option<String> {
        let (user, pass) = self.credentials.as_ref()?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        Some(format!("Basic {encoded}"))
    }
}

/// The proxy settings of one process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proxies {
    https: Option<Proxy>,
    http: Option<Proxy>,
    no_proxy: Vec<Bypass>,
}

/// One `NO_PROXY` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Bypass {
    All,
    /// A domain and its subdomains (`example.com`), or only the subdomains
    /// (`.example.com`, `*.example.com`); with a port, only that port.
    Domain {
        name: String,
        subdomains_only: bool,
        port: Option<u16>,
    },
    Ip(IpAddr, Option<u16>),
    Network(IpAddr, u8),
}

impl Proxies {
    /// The settings in this process's environment.
    pub fn from_env() -> Result<Proxies> {
        Proxies::from_vars(|name| std::env::var(name).ok())
    }

    /// The settings in the variables `get` returns (empty counts as unset).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Proxies> {
        let any = |names: [&'static str; 2]| {
            names
                .into_iter()
                .find_map(|n| get(n).filter(|v| !v.trim().is_empty()).map(|v| (n, v)))
        };
        let https = any(["HTTPS_PROXY", "https_proxy"])
            .map(|(n, v)| parse_proxy(n, &v))
            .transpose()?;
        let http = any(["HTTP_PROXY", "http_proxy"])
            .map(|(n, v)| parse_proxy(n, &v))
            .transpose()?;
        let no_proxy = match any(["NO_PROXY", "no_proxy"]) {
            Some((n, v)) => parse_no_proxy(&v).with_context(|| format!("parse {n}={v:?}"))?,
            None => Vec::new(),
        };
        Ok(Proxies {
            https,
            http,
            no_proxy,
        })
    }

    /// The proxy for `host:port` (host without brackets), or None to connect directly.
    pub fn for_target(&self, tls: bool, host: &str, port: u16) -> Option<&Proxy> {
        let proxy = if tls { &self.https } else { &self.http }.as_ref()?;
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if super::is_loopback_host(&host) {
            return None;
        }
        if self.no_proxy.iter().any(|b| bypasses(b, &host, port)) {
            return None;
        }
        Some(proxy)
    }
}

fn parse_proxy(var: &'static str, value: &str) -> Result<Proxy> {
    let value = value.trim();
    let bad = |why: &str| anyhow!("{var}={value:?}: {why}");
    let (kind, default_port, rest) = match value.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (ProxyKind::Http, 80, rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => {
            (ProxyKind::Https, 443, rest)
        }
        // socks5h is curl's name for the same: the proxy resolves the name.
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("socks5") || scheme.eq_ignore_ascii_case("socks5h") =>
        {
            (ProxyKind::Socks5, 1080, rest)
        }
        Some((scheme, _)) => {
            return Err(bad(&format!(
                "{scheme} proxies are not supported (only http://, https:// and socks5://)"
            )))
        }
        None => (ProxyKind::Http, 80, value),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if hostport.is_empty() || hostport.bytes().any(|b| b <= b' ') {
        return Err(bad("no proxy host"));
    }
    let has_port = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !p.contains(']') => {
            p.parse::<u16>().map_err(|_| bad("invalid port"))?;
            true
        }
        _ => false,
    };
    let address = if has_port {
        hostport.to_string()
    } else {
        format!("{hostport}:{default_port}")
    };
    let credentials = userinfo
        .map(|u| -> Result<(String, String)> {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            Ok((percent_decode(user)?, percent_decode(pass)?))
        })
        .transpose()
        .map_err(|e| bad(&format!("{e:#}")))?;
    if kind == ProxyKind::Socks5 {
        // RFC 1929 gives each a one-byte length.
        if let Some((u, p)) = &credentials {
            if u.is_empty() || u.len() > 255 || p.len() > 255 {
                return Err(bad(
                    "SOCKS5 user and password must be 1-255 and 0-255 bytes",
                ));
            }
        }
    }
    Ok(Proxy {
        kind,
        address,
        credentials,
        source: var,
    })
}

fn percent_decode(s: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .context("truncated %-escape in user information")?;
            out.push(u8::from_str_radix(hex, 16).context("bad %-escape in user information")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("user information is not UTF-8")
}

fn parse_no_proxy(value: &str) -> Result<Vec<Bypass>> {
    let mut out = Vec::new();
    for entry in value.split(',').map(|e| e.trim().to_ascii_lowercase()) {
        if entry.is_empty() {
            continue;
        }
        if entry == "*" {
            out.push(Bypass::All);
            continue;
        }
        if let Some((net, bits)) = entry.split_once('/') {
            let ip: IpAddr = net
                .parse()
                .with_context(|| format!("entry {entry:?}: not an address"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits: u8 = bits
                .parse()
                .ok()
                .filter(|b| *b <= max)
                .with_context(|| format!("entry {entry:?}: bad prefix length"))?;
            out.push(Bypass::Network(ip, bits));
            continue;
        }
        let (host, port) =
            split_port(&entry).with_context(|| format!("entry {entry:?}: invalid port"))?;
        if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse() {
            out.push(Bypass::Ip(ip, port));
            continue;
        }
        let (name, subdomains_only) =
            match host.strip_prefix("*.").or_else(|| host.strip_prefix('.')) {
                Some(n) => (n, true),
                None => (host, false),
            };
        if name.is_empty() {
            bail!("entry {entry:?}: no host");
        }
        out.push(Bypass::Domain {
            name: name.trim_end_matches('.').to_string(),
            subdomains_only,
            port,
        });
    }
    Ok(out)
}

/// `host[:port]` with IPv6 addresses in brackets when a port follows.
fn split_port(entry: &str) -> Result<(&str, Option<u16>)> {
    let port_sep = if entry.starts_with('[') {
        entry.rfind("]:").map(|i| i + 1)
    } else if entry.matches(':').count() == 1 {
        entry.find(':')
    } else {
        None
    };
    match port_sep {
        Some(i) => Ok((&entry[..i], Some(entry[i + 1..].parse()?))),
        None => Ok((entry, None)),
    }
}

fn bypasses(b: &Bypass, host: &str, port: u16) -> bool {
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    match b {
        Bypass::All => true,
        Bypass::Ip(a, p) => ip == Some(*a) && p.is_none_or(|p| p == port),
        Bypass::Network(net, bits) => ip.is_some_and(|ip| in_network(ip, *net, *bits)),
        Bypass::Domain {
            name,
            subdomains_only,
            port: p,
        } => {
            let sub = host.len() > name.len()
                && host.ends_with(name.as_str())
                && host.as_bytes()[host.len() - name.len() - 1] == b'.';
            (sub || (!subdomains_only && host == name)) && p.is_none_or(|p| p == port)
        }
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(vars: &[(&str, &str)]) -> Result<Proxies> {
        Proxies::from_vars(|n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn each_scheme_takes_its_own_variable_upper_case_first() {
        let p = proxies(&[
            ("HTTPS_PROXY", "http://tunnel:3128"),
            ("https_proxy", "http://ignored:1"),
            ("http_proxy", "forward"),
        ])
        .unwrap();
        let s = p.for_target(true, "registry.example.com", 443).unwrap();
        assert_eq!(
            (s.address.as_str(), s.source),
            ("tunnel:3128", "HTTPS_PROXY")
        );
        let h = p.for_target(false, "registry.example.com", 80).unwrap();
        assert_eq!((h.address.as_str(), h.source), ("forward:80", "http_proxy"));
        assert!(proxies(&[("HTTP_PROXY", "p:1")])
            .unwrap()
            .for_target(true, "registry.example.com", 443)
            .is_none());
    }

    #[test]
    fn loopback_and_no_proxy_hosts_are_reached_directly() {
        let p = proxies(&[
            ("HTTPS_PROXY", "p:3128"),
            (
                "NO_PROXY",
                " internal.example , .corp.example, 10.0.0.0/8, 192.0.2.7, mirror.example:5000, [2001:db8::1]:443",
            ),
        ])
        .unwrap();
        let direct = |h: &str, port| p.for_target(true, h, port).is_none();
        assert!(direct("localhost", 443) && direct("127.0.0.5", 443) && direct("::1", 443));
        assert!(direct("internal.example", 443) && direct("a.internal.example", 443));
        assert!(!direct("xinternal.example", 443));
        assert!(direct("a.corp.example", 443) && !direct("corp.example", 443));
        assert!(direct("10.2.3.4", 443) && !direct("11.2.3.4", 443));
        assert!(direct("192.0.2.7", 443) && !direct("192.0.2.8", 443));
        assert!(direct("mirror.example", 5000) && !direct("mirror.example", 443));
        assert!(direct("2001:db8::1", 443) && !direct("2001:db8::1", 5000));
        assert!(!direct("registry.example.com", 443));
        let all = proxies(&[("HTTPS_PROXY", "p:1"), ("no_proxy", "*")]).unwrap();
        assert!(all.for_target(true, "registry.example.com", 443).is_none());
    }

    #[test]
    fn user_information_becomes_basic_proxy_authorization() {
        let p = proxies(&[("HTTPS_PROXY", "http://us%40er:p%3Ass@proxy.example:8080/")]).unwrap();
        let s = p.for_target(true, "r.example", 443).unwrap();
        assert_eq!(s.address, "proxy.example:8080");
        let want = base64::engine::general_purpose::STANDARD.encode("us@er:p:ss");
        assert_eq!(
            s.authorization().as_deref(),
            Some(format!("Basic {want}").as_str())
        );
    }

    #[test]
    fn https_proxies_default_to_port_443_and_know_their_tls_name() {
        let p = proxies(&[
            ("HTTPS_PROXY", "https://proxy.example"),
            ("HTTP_PROXY", "https://[::1]:8443"),
        ])
        .unwrap();
        let s = p.for_target(true, "r.example", 443).unwrap();
        assert_eq!(
            (s.kind, s.address.as_str(), s.host()),
            (ProxyKind::Https, "proxy.example:443", "proxy.example")
        );
        let h = p.for_target(false, "r.example", 80).unwrap();
        assert_eq!((h.address.as_str(), h.host()), ("[::1]:8443", "::1"));
    }

    #[test]
    fn socks5_proxies_default_to_port_1080_and_keep_their_credentials() {
        let p = proxies(&[
            ("HTTPS_PROXY", "socks5://u:p%2F@tunnel"),
            ("HTTP_PROXY", "socks5h://t:9"),
        ])
        .unwrap();
        let s = p.for_target(true, "r.example", 443).unwrap();
        assert_eq!(
            (s.kind, s.address.as_str()),
            (ProxyKind::Socks5, "tunnel:1080")
        );
        assert_eq!(s.credentials, Some(("u".into(), "p/".into())));
        let h = p.for_target(false, "r.example", 80).unwrap();
        assert_eq!((h.kind, h.address.as_str()), (ProxyKind::Socks5, "t:9"));
    }

    #[test]
    fn unsupported_or_malformed_settings_are_one_line_errors() {
        for (var, value, want) in [
            (
                "HTTPS_PROXY",
                "socks4://p:1080",
                "socks4 proxies are not supported",
            ),
            (
                "HTTPS_PROXY",
                "socks5://:pw@p:1080",
                "SOCKS5 user and password",
            ),
            ("HTTP_PROXY", "http://p:99999", "invalid port"),
            ("HTTP_PROXY", "http://", "no proxy host"),
            ("NO_PROXY", "10.0.0.0/40", "bad prefix length"),
        ] {
            let e = format!("{:#}", proxies(&[(var, value)]).unwrap_err());
            assert!(e.contains(var) && e.contains(want), "{value}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
