//! The test fixtures' own promises, since every registry test leans on them.

mod common;
use common::*;
use std::net::TcpListener;

/// A registry whose port another socket holds must not be reported ready: before, a
/// connect to that other listener passed for readiness, the registry died on "address in
/// use", and the test failed later with "connection refused" (seen in CI).
#[test]
fn a_registry_whose_port_is_taken_is_not_reported_ready() {
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    assert!(Registry::start_on(&RegistryConfig::default(), port).is_none());
    let reg = Registry::start(RegistryConfig::default());
    assert_ne!(reg.port, port);
}

/// Ports handed to servers come from below the ephemeral range, which `bind(0)` and
/// outgoing connections never use. (A port may still be briefly held by a probe socket a
/// parallel fork inherited; `Registry::start` retries on a new port for that.)
#[test]
fn free_ports_are_below_the_ephemeral_range() {
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let port = free_port();
        assert!(port < low, "{port} is in the ephemeral range from {low}");
        assert!(seen.insert(port), "{port} handed out twice");
    }
}
