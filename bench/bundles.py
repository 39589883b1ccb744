#!/usr/bin/env python3
"""The benchmark bundles (bench/runtime.sh, bench/startup-order.sh):

    bundles.py WORK

WORK/rootfs is /bin/busybox with sh, true and sleep; three bundles share it:
WORK/true (/bin/true), WORK/sleep (sleep 1000, for run -d and exec) and
WORK/limited (/bin/true with memory, pids and cpu limits and a seccomp
profile); WORK/ptrace is WORK/sleep with CAP_SYS_PTRACE, where skiff's exec
runs from a sealed copy of its binary (issue 4, CVE-2019-5736)."""
import json
import os
import shutil
import sys

work = sys.argv[1]
for d in ("bin", "proc", "sys", "dev", "tmp"):
    os.makedirs(f"{work}/rootfs/{d}", exist_ok=True)
shutil.copy("/bin/busybox", f"{work}/rootfs/bin/busybox")
for applet in ("sh", "true", "sleep"):
    os.symlink("busybox", f"{work}/rootfs/bin/{applet}")
for b in ("true", "sleep", "limited", "ptrace"):
    os.makedirs(f"{work}/{b}", exist_ok=True)

caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def config(args):
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args,
                    "env": ["PATH=/bin"], "cwd": "/",
                    "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                    "noNewPrivileges": True},
        "root": {"path": work + "/rootfs", "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
                  "maskedPaths": ["/proc/kcore", "/sys/firmware"], "readonlyPaths": ["/proc/sys"]},
    }
json.dump(config(["/bin/true"]), open(work + "/true/config.json", "w"))
json.dump(config(["/bin/sleep", "1000"]), open(work + "/sleep/config.json", "w"))
ptrace = config(["/bin/sleep", "1000"])
ptrace["process"]["capabilities"] = {
    k: caps + ["CAP_SYS_PTRACE"] for k in ("bounding", "effective", "permitted")}
json.dump(ptrace, open(work + "/ptrace/config.json", "w"))
limited = config(["/bin/true"])
limited["linux"]["resources"] = {
    "memory": {"limit": 64 << 20},
    "pids": {"limit": 64},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000},
}
# Deny a handful of syscalls, allow the rest: the filter's compile and load
# cost without changing what /bin/true does.
limited["linux"]["seccomp"] = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["kexec_load", "open_by_handle_at", "init_module", "finit_module",
                            "delete_module", "iopl", "ioperm", "swapon", "swapoff", "reboot"],
                  "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
}
json.dump(limited, open(work + "/limited/config.json", "w"))
