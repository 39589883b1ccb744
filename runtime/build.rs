//! Embeds the git commit for `skiff --version` (runc prints one too), and
//! links `skiff` for a small start-up footprint when the linker is lld.
fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SKIFF_COMMIT={commit}");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs/heads");
    link_for_startup();
}

/// The kernel maps an executable's file pages 64 KiB at a time around each
/// fault (fault-around), so what `skiff` has resident is every 64 KiB window
/// of its text that any code it runs lies in. startup.order (written by
/// bench/startup-order.sh) lists the functions client-driven starts run;
/// lld lays them out first and together, and the rest of the binary stays
/// on disk. A symbol the order names that this build lacks is skipped, so a
/// stale order costs memory, never a failed link.
///
/// The relative relocations are packed (DT_RELR, `-z pack-relative-relocs`):
/// as RELA entries they were 280 KiB that ld.so reads in full at every
/// start; packed they are a few KiB. glibc runs such binaries from 2.36 on
/// (the version of the build host is checked, as the binary already needs
/// that host's glibc).
///
/// GNU ld has no symbol ordering option, so only rustc's own rust-lld (the
/// default for x86_64-unknown-linux-gnu since Rust 1.90) gets these flags;
/// with another linker the binary is the same, only laid out in the
/// compiler's order and with RELA relocations.
fn link_for_startup() {
    println!("cargo:rerun-if-changed=startup.order");
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    if !uses_rust_lld() {
        println!("cargo:warning=not linking with rust-lld: startup.order is not applied");
        return;
    }
    let order = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("startup.order");
    if order.exists() {
        println!(
            "cargo:rustc-link-arg-bin=skiff=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bin=skiff=-Wl,--no-warn-symbol-ordering");
    }
    if glibc_runs_relr() {
        println!("cargo:rustc-link-arg-bin=skiff=-Wl,-z,pack-relative-relocs");
    }
}

/// `getconf GNU_LIBC_VERSION` says "glibc 2.36" or later.
fn glibc_runs_relr() -> bool {
    let out = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut version = out
        .trim()
        .strip_prefix("glibc ")
        .unwrap_or_default()
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (version.next().unwrap_or(0), version.next().unwrap_or(0));
    (major, minor) >= (2, 36)
}

/// rustc links x86_64-unknown-linux-gnu with its bundled lld from 1.90 on,
/// unless a linker or linker flavour was chosen in the flags.
fn uses_rust_lld() -> bool {
    let target = std::env::var("TARGET").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if target != "x86_64-unknown-linux-gnu" || flags.contains("linker") {
        return false;
    }
    if std::env::vars().any(|(k, _)| k.starts_with("CARGO_TARGET_") && k.ends_with("_LINKER")) {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let minor = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}
