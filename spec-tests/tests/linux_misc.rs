//! config-linux "Sysctl" and "Personality", and config "Annotations".

use serde_json::json;
use spec_tests::{is_runc, Bundle, Runtime};

#[test]
fn sysctl_in_the_container_namespaces() {
    let mut b = Bundle::sh(
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname /proc/sys/kernel/msgmax",
    );
    b.set(
        "/linux/sysctl",
        json!({"net.ipv4.ip_forward": "1", "kernel.domainname": "sysctl.example", "kernel.msgmax": "12345"}),
    );
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();
    let host_dom = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap_or_default();
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "1\nsysctl.example\n12345\n");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default(),
        host_fwd
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap_or_default(),
        host_dom
    );
}

#[test]
fn personality_linux32() {
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("skip: LINUX32 reports i686 only on x86_64");
        return;
    }
    let mut b = Bundle::new(&["uname", "-m"]);
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "x86_64\n");
    // The observation itself: the kernel reports i686 under PER_LINUX32.
    b.set("/process/args", json!(["linux32", "uname", "-m"]));
    assert_eq!(rt.run_ok(&b), "i686\n");
    if is_runc() {
        eprintln!("skip: runc 1.1 ignores linux.personality (added in runc 1.2)");
        return;
    }
    b.set("/process/args", json!(["uname", "-m"]));
    b.set("/linux/personality", json!({"domain": "LINUX32"}));
    assert_eq!(rt.run_ok(&b), "i686\n");
}

#[test]
fn annotations_show_in_state() {
    let mut b = Bundle::new(&["sleep", "100"]);
    b.set(
        "/annotations",
        json!({"com.example.a": "1", "com.example.b": "two words"}),
    );
    let rt = Runtime::new();
    let id = rt.id("annot");
    rt.create(&b, &id).expect_ok();
    let st = rt.state(&id);
    assert_eq!(
        st["annotations"],
        json!({"com.example.a": "1", "com.example.b": "two words"}),
        "{st}"
    );
    rt.delete(&id).expect_ok();
}
