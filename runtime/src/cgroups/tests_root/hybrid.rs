//! Root tests through `cgroup_for` on the hybrid host: v1 controllers,
//! the unified companion directory for hugetlb.

use super::*;

#[test]
fn this_host_is_hybrid() {
    assert_eq!(detect_layout().unwrap(), CgroupLayout::Hybrid);
    let cg = cgroup_for(Some("/x"), "x").unwrap();
    assert!(cg
        .v1_dir("memory")
        .unwrap()
        .starts_with("/sys/fs/cgroup/memory"));
    assert!(cg
        .unified_dir()
        .unwrap()
        .starts_with("/sys/fs/cgroup/unified"));
    // The state file round trip the coordinator relies on.
    let back: Cgroup = serde_json::from_str(&serde_json::to_string(&cg).unwrap()).unwrap();
    assert_eq!(back, cg);
}

#[test]
fn v1_limits_are_written_and_read_back() {
    let g = hybrid_cgroup();
    let deny = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .unwrap();
    let null = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(LinuxDeviceType::C)
        .major(1i64)
        .minor(3i64)
        .access("rwm")
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .reservation(32 << 20)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50000i64)
                .period(100000u64)
                .cpus("0")
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(20i64).build().unwrap())
        .devices(vec![deny, null])
        .build()
        .unwrap();
    g.cg.apply(&res).unwrap();
    let d = |c| g.cg.v1_dir(c).unwrap();
    assert_eq!(
        read(d("memory"), "memory.limit_in_bytes").trim(),
        (64u64 << 20).to_string()
    );
    assert_eq!(
        read(d("memory"), "memory.soft_limit_in_bytes").trim(),
        (32u64 << 20).to_string()
    );
    assert_eq!(read(d("cpu"), "cpu.shares").trim(), "512");
    assert_eq!(read(d("cpu"), "cpu.cfs_quota_us").trim(), "50000");
    assert_eq!(read(d("cpuset"), "cpuset.cpus").trim(), "0");
    assert!(
        !read(d("cpuset"), "cpuset.mems").trim().is_empty(),
        "mems copied from parent"
    );
    assert_eq!(read(d("pids"), "pids.max").trim(), "20");
    let list = read(d("devices"), "devices.list");
    // The kernel's list is what the no-op check predicts, so an update with
    // the same rules really writes nothing.
    let rules = crate::cgroups::devices::container_rules(res.devices().as_ref().unwrap()).unwrap();
    assert_eq!(
        crate::cgroups::v1::devices::predicted_list(&rules).as_deref(),
        Some(list.as_str())
    );
    assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
    assert!(
        list.lines().any(|l| l == "c 136:* rwm"),
        "runc's defaults appended: {list}"
    );
    assert!(!list.contains("a *:*"), "{list}");

    // An empty resources object changes nothing.
    g.cg.apply(&LinuxResources::default()).unwrap();
    assert_eq!(read(d("pids"), "pids.max").trim(), "20");

    // BFQ weights exist in non-root blkio cgroups when the host's disks can use
    // BFQ; leaf weights (CFQ) never do, and the error names the file. Without BFQ
    // there is no weight file at all, and a weight fails as with runc, naming it.
    let io = |b: oci_spec::runtime::LinuxBlockIoBuilder| {
        LinuxResourcesBuilder::default()
            .block_io(b.build().unwrap())
            .build()
            .unwrap()
    };
    let blkio = oci_spec::runtime::LinuxBlockIoBuilder::default;
    if d("blkio").join("blkio.bfq.weight").exists() {
        g.cg.apply(&io(blkio().weight(300u16))).unwrap();
        assert_eq!(read(d("blkio"), "blkio.bfq.weight").trim(), "300");
    } else {
        let e = format!("{:#}", g.cg.apply(&io(blkio().weight(300u16))).unwrap_err());
        assert!(
            e.starts_with("write \"300\" to blkio.weight in \"/sys/fs/cgroup/blkio/")
                && e.ends_with(": No such file or directory"),
            "{e}"
        );
    }
    let e = format!(
        "{:#}",
        g.cg.apply(&io(blkio().leaf_weight(300u16))).unwrap_err()
    );
    assert!(
        e.starts_with("write \"300\" to blkio.leaf_weight in \"/sys/fs/cgroup/blkio/"),
        "{e}"
    );
    assert!(e.ends_with(": No such file or directory"), "{e}");
    let net = LinuxResourcesBuilder::default()
        .network(
            oci_spec::runtime::LinuxNetworkBuilder::default()
                .class_id(1u32)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = format!("{:#}", g.cg.apply(&net).unwrap_err());
    assert!(
        e.contains("net_cls controller") && e.contains("net_cls.classid"),
        "{e}"
    );

    let stats = g.cg.stats().unwrap();
    assert_eq!(stats["pids"]["limit"], 20);
    assert_eq!(stats["memory"]["usage"]["limit"], 64u64 << 20);
    assert_eq!(stats["cpuset"]["cpus"], serde_json::json!([0]));
}

#[test]
fn child_joins_freezes_thaws_and_is_killed() {
    let mut g = hybrid_cgroup();
    let i = g.spawn_waiting("sleep 60");
    g.go(i);
    let pid = g.children[i].id() as i32;
    assert!(g.cg.pids().unwrap().contains(&pid));
    let unified = g.cg.unified_dir().unwrap().to_path_buf();
    assert!(read(&unified, "cgroup.procs")
        .lines()
        .any(|l| l == pid.to_string()));

    g.cg.freeze().unwrap();
    assert!(g.cg.is_frozen().unwrap());
    assert_eq!(
        read(g.cg.v1_dir("freezer").unwrap(), "freezer.state").trim(),
        "FROZEN"
    );
    g.cg.thaw().unwrap();
    assert!(!g.cg.is_frozen().unwrap());

    g.cg.kill_all(libc::SIGKILL).unwrap();
    let status = g.children[i].wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

#[test]
fn fork_past_pids_max_fails() {
    let mut g = hybrid_cgroup();
    g.cg.apply(
        &LinuxResourcesBuilder::default()
            .pids(LinuxPidsBuilder::default().limit(3i64).build().unwrap())
            .build()
            .unwrap(),
    )
    .unwrap();
    let i = g.spawn_waiting("for i in 1 2 3 4 5 6; do sleep 30 >/dev/null 2>&1 & done; wait");
    g.go(i);
    let out = g.children.remove(i).wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("fork"),
        "{out:?}"
    );
    let events = read(g.cg.v1_dir("pids").unwrap(), "pids.events");
    assert_ne!(events.trim(), "max 0");
}

#[test]
fn allocation_past_memory_limit_is_oom_killed() {
    let mut g = hybrid_cgroup();
    g.cg.apply(
        &LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(16 << 20)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(g.cg.oom_kill_count().unwrap(), 0);
    // dd's 64 MiB buffer is filled from /dev/zero, so every page is touched.
    let i = g.spawn_waiting("exec dd if=/dev/zero of=/dev/null bs=64M count=1");
    g.go(i);
    let status = g.children[i].wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    assert!(g.cg.oom_kill_count().unwrap() >= 1);
    let stats = g.cg.stats().unwrap();
    assert!(stats["memory"]["usage"]["failcnt"].as_u64().unwrap() > 0);
}

#[test]
fn v1_device_rules_are_enforced() {
    let mut g = hybrid_cgroup();
    g.cg.apply(&deny_all_resources(vec![])).unwrap();
    let (ok, err) = run_in(&mut g, OPEN_KMSG);
    assert!(!ok && err.contains("Operation not permitted"), "{err}");
    let (ok, err) = run_in(&mut g, OPEN_NULL);
    assert!(ok, "{err}");
    g.cg.apply(&deny_all_resources(vec![allow_kmsg()])).unwrap();
    let (ok, err) = run_in(&mut g, OPEN_KMSG);
    assert!(ok, "{err}");
}

#[test]
fn hybrid_hugetlb_goes_to_the_unified_hierarchy() {
    // create() enabled hugetlb for the companion directory (in the unified
    // root's cgroup.subtree_control, which is left enabled: other
    // cgroups may be using it by now).
    let g = hybrid_cgroup();
    let limit = LinuxHugepageLimitBuilder::default()
        .page_size("2MB")
        .limit(4i64 << 20)
        .build()
        .unwrap();
    g.cg.apply(
        &LinuxResourcesBuilder::default()
            .hugepage_limits(vec![limit])
            .build()
            .unwrap(),
    )
    .unwrap();
    let u = g.cg.unified_dir().unwrap();
    assert_eq!(read(u, "hugetlb.2MB.max").trim(), (4u64 << 20).to_string());
    assert!(g.cg.stats().unwrap()["hugetlb"]["2MB"].is_object());
}

/// The rest of the v1 files take the values in runc's formats.
#[test]
fn v1_other_files_take_runc_formats() {
    use oci_spec::runtime::{LinuxBlockIoBuilder, LinuxThrottleDeviceBuilder};
    let g = hybrid_cgroup();
    let d = |c| g.cg.v1_dir(c).unwrap();
    let mem = LinuxMemoryBuilder::default()
        .limit(128i64 << 20)
        .swappiness(30u64)
        .disable_oom_killer(true)
        .kernel_tcp(64i64 << 20)
        .use_hierarchy(true)
        .build()
        .unwrap();
    let cpu = LinuxCpuBuilder::default()
        .burst(1000u64)
        .quota(20000i64)
        .period(100000u64)
        .realtime_period(1000000u64)
        .realtime_runtime(10000i64)
        .build()
        .unwrap();
    let vda = read(Path::new("/sys/block/vda"), "dev");
    let (major, minor) = vda.trim().split_once(':').unwrap();
    let throttle = LinuxThrottleDeviceBuilder::default()
        .major(major.parse::<i64>().unwrap())
        .minor(minor.parse::<i64>().unwrap())
        .rate(1u64 << 20)
        .build()
        .unwrap();
    let io = LinuxBlockIoBuilder::default()
        .throttle_read_bps_device(vec![throttle])
        .build()
        .unwrap();
    let res = LinuxResourcesBuilder::default()
        .memory(mem)
        .cpu(cpu)
        .block_io(io)
        .build()
        .unwrap();
    g.cg.apply(&res).unwrap();
    assert_eq!(read(d("memory"), "memory.swappiness").trim(), "30");
    assert!(read(d("memory"), "memory.oom_control").contains("oom_kill_disable 1"));
    assert_eq!(
        read(d("memory"), "memory.kmem.tcp.limit_in_bytes").trim(),
        (64u64 << 20).to_string()
    );
    assert_eq!(read(d("cpu"), "cpu.cfs_burst_us").trim(), "1000");
    assert_eq!(read(d("cpu"), "cpu.rt_runtime_us").trim(), "10000");
    let bps = read(d("blkio"), "blkio.throttle.read_bps_device");
    assert_eq!(bps.trim(), format!("{} {}", vda.trim(), 1u64 << 20));

    // The kernel clamps cpu.shares; the clamp is reported, not accepted.
    let low = LinuxResourcesBuilder::default()
        .cpu(LinuxCpuBuilder::default().shares(1u64).build().unwrap())
        .build()
        .unwrap();
    let e = format!("{:#}", g.cg.apply(&low).unwrap_err());
    assert!(e.contains("the minimum allowed cpu-shares is 2"), "{e}");
    // A memory+swap limit below the memory limit is refused by the kernel;
    // the error names the file and the value.
    let bad = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64i64 << 20)
                .swap(32i64 << 20)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = format!("{:#}", g.cg.apply(&bad).unwrap_err());
    assert!(
        e.starts_with(
            "write \"33554432\" to memory.memsw.limit_in_bytes in \"/sys/fs/cgroup/memory/"
        ),
        "{e}"
    );
}
