//! The init layer: `BUNDLE/etc/{hosts,hostname,resolv.conf}`, generated per container
//! and bind-mounted over the image's, as docker does, so they never land in the
//! overlay's upper dir and `commit` never captures them.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use super::options::BundleOptions;

pub(crate) const FILES: [&str; 3] = ["hosts", "hostname", "resolv.conf"];

fn hosts(hostname: &str, opts: &BundleOptions, host_net: bool) -> Result<String> {
    let mut s = if host_net {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
        )
    };
    for h in &opts.add_hosts {
        let Some((name, ip)) = h.split_once(':') else {
            bail!("parse --add-host {h:?}: expected HOST:IP");
        };
        if name.is_empty() || ip.is_empty() {
            bail!("parse --add-host {h:?}: expected HOST:IP");
        }
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    Ok(s)
}

/// From --dns/--dns-search, else the host's resolv.conf; without the host's network,
/// loopback resolvers are unreachable, so they are dropped (docker then falls back to
/// public resolvers, as here).
fn resolv_conf(opts: &BundleOptions, host_net: bool) -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut servers = 0;
    if opts.dns.is_empty() {
        for line in host.lines() {
            let mut f = line.split_whitespace();
            if f.next() == Some("nameserver") {
                let ip = f.next().unwrap_or("");
                if !host_net && (ip.starts_with("127.") || ip == "::1") {
                    continue;
                }
                servers += 1;
                out.push_str(&format!("nameserver {ip}\n"));
            } else if line.starts_with("search") && !opts.dns_search.is_empty() {
                continue;
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        if servers == 0 {
            out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        }
    } else {
        for ip in &opts.dns {
            out.push_str(&format!("nameserver {ip}\n"));
        }
    }
    if !opts.dns_search.is_empty() {
        out.push_str(&format!("search {}\n", opts.dns_search.join(" ")));
    }
    out
}

pub(crate) fn write_init_files(
    bundle: &Path,
    hostname: &str,
    opts: &BundleOptions,
    host_net: bool,
) -> Result<()> {
    let dir = bundle.join("etc");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {dir:?}"))?;
    let contents = [
        hosts(hostname, opts, host_net)?,
        format!("{hostname}\n"),
        resolv_conf(opts, host_net),
    ];
    for (name, text) in FILES.iter().zip(contents) {
        let p = dir.join(name);
        std::fs::write(&p, text).with_context(|| format!("write {p:?}"))?;
    }
    Ok(())
}

pub(crate) fn init_mounts(bundle: &Path, read_only: bool) -> Vec<Value> {
    FILES
        .iter()
        .map(|name| {
            let mut options = vec!["rbind", "rprivate"];
            if read_only {
                options.push("ro");
            }
            json!({
                "destination": format!("/etc/{name}"),
                "type": "bind",
                "source": bundle.join("etc").join(name),
                "options": options,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_resolv() {
        let opts = BundleOptions {
            add_hosts: vec!["db:10.0.0.5".into()],
            dns: vec!["1.1.1.1".into()],
            dns_search: vec!["example.org".into()],
            ..Default::default()
        };
        let h = hosts("box", &opts, false).unwrap();
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("127.0.1.1\tbox\n") && h.ends_with("10.0.0.5\tdb\n"));
        assert_eq!(
            resolv_conf(&opts, false),
            "nameserver 1.1.1.1\nsearch example.org\n"
        );
        let bad = BundleOptions {
            add_hosts: vec!["nocolon".into()],
            ..Default::default()
        };
        assert!(hosts("box", &bad, false).is_err());
    }
}
