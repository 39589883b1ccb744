//! Root tests of the v2 driver on the real cgroup2 mount
//! (/sys/fs/cgroup/unified): a cgroup that lives only there.

use super::*;

/// The v2 driver against the real cgroup2 mount: a cgroup that lives only
/// in /sys/fs/cgroup/unified.
#[test]
fn v2_driver_on_the_unified_mount() {
    let mount = read_mounts()
        .unwrap()
        .into_iter()
        .find(|m| m.unified)
        .expect("cgroup2 mount");
    let dir = mount
        .mount_point
        .join(unique_path().trim_start_matches('/'));
    let cg = Cgroup::from_parts(
        CgroupLayout::V2,
        Default::default(),
        Some((dir.clone(), mount.mount_point.clone())),
    );
    cg.create().unwrap();
    let mut g = Guard::new(cg);
    let limit = LinuxHugepageLimitBuilder::default()
        .page_size("2MB")
        .limit(-1i64)
        .build()
        .unwrap();
    g.cg.apply(
        &LinuxResourcesBuilder::default()
            .hugepage_limits(vec![limit])
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(read(&dir, "hugetlb.2MB.max").trim(), "max");
    // Controllers this mount lacks are named with their file.
    let e = format!(
        "{:#}",
        g.cg.apply(
            &LinuxResourcesBuilder::default()
                .pids(LinuxPidsBuilder::default().limit(5i64).build().unwrap())
                .build()
                .unwrap()
        )
        .unwrap_err()
    );
    assert!(e.contains("pids.max") && e.contains("No such file"), "{e}");

    let i = g.spawn_waiting("sleep 60");
    g.go(i);
    let pid = g.children[i].id() as i32;
    assert_eq!(g.cg.pids().unwrap(), vec![pid]);
    g.cg.freeze().unwrap();
    assert!(g.cg.is_frozen().unwrap());
    g.cg.thaw().unwrap();
    assert!(!g.cg.is_frozen().unwrap());
    g.cg.kill_all(libc::SIGKILL).unwrap();
    let status = g.children[i].wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

/// The eBPF device program on a real cgroup2 directory: denied, then
/// allowed by an update that replaces (not adds to) the program.
#[test]
fn v2_device_program_is_enforced_and_replaced() {
    let mount = read_mounts()
        .unwrap()
        .into_iter()
        .find(|m| m.unified)
        .expect("cgroup2 mount");
    let dir = mount
        .mount_point
        .join(unique_path().trim_start_matches('/'));
    let cg = Cgroup::from_parts(
        CgroupLayout::V2,
        Default::default(),
        Some((dir.clone(), mount.mount_point.clone())),
    );
    cg.create().unwrap();
    let mut g = Guard::new(cg);
    g.cg.apply(&deny_all_resources(vec![])).unwrap();
    let (ok, err) = run_in(&mut g, OPEN_KMSG);
    assert!(!ok && err.contains("Operation not permitted"), "{err}");
    let (ok, err) = run_in(&mut g, OPEN_NULL);
    assert!(ok, "{err}");
    g.cg.apply(&deny_all_resources(vec![allow_kmsg()])).unwrap();
    let (ok, err) = run_in(&mut g, OPEN_KMSG);
    assert!(ok, "{err}");
    let f = std::fs::File::open(&dir).unwrap();
    let progs =
        crate::sys::cgroups::query_cgroup_device_progs(std::os::fd::AsFd::as_fd(&f)).unwrap();
    assert_eq!(progs.len(), 1, "the old program was detached");
}
