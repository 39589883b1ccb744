#!/usr/bin/env bash
# Regenerates runtime/startup.order: the functions `skiff` runs when a client
# (containerd, podman, the bench) drives a container, in the order the linker
# should lay them out (runtime/build.rs passes the file to lld).
#
# Why: the kernel maps a binary's file pages 64 KiB at a time around each
# page fault (fault-around), so with the start-up code spread over the whole
# text every `skiff run` had nearly all of it resident (README, peak RSS).
# Packed together, the code a start runs spans a few hundred KiB.
#
# The file names functions by mangled symbol, and symbol hashes change with
# the profile, the compiler and dependency versions: regenerate it after such
# a change, or when a new start-up path appears (the build only warns nothing;
# a stale order costs memory, never correctness). `bench/runtime.sh` prints
# how many of its symbols the binary still has.
#
#   sudo bench/startup-order.sh [SKIFF...]
#
# With no binary given it builds the two a checkout makes, `cargo build
# --release -p skiff-runtime` and `cargo build --release --workspace` (make
# build): their symbols differ, because feature unification across the
# workspace changes the dependencies' metadata and with it every hash. The
# order lists each binary's functions (bench/startup_order.py); each build
# finds its own.
#
# Needs root, python3, busybox-static and binaries with their symbol table
# (the release profile strips only debuginfo from the runtime).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=runtime/startup.order
[ "$(id -u)" = 0 ] || { echo "startup-order: run as root" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "startup-order: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/skiff-order.XXXXXX)
SKIFF=
cleanup() {
    if [ -n "$SKIFF" ]; then
        for id in $("$SKIFF" --root "$WORK/root" list -q 2>/dev/null || true); do
            "$SKIFF" --root "$WORK/root" delete -f "$id" >/dev/null 2>&1 || true
        done
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

BINS=()
if [ $# -eq 0 ]; then
    cargo build --release -p skiff-runtime
    cp target/release/skiff "$WORK/skiff-package"
    cargo build --release --workspace
    cp target/release/skiff "$WORK/skiff-workspace"
    BINS=("$WORK/skiff-package" "$WORK/skiff-workspace")
else
    for b in "$@"; do BINS+=("$(realpath "$b")"); done
fi
for b in "${BINS[@]}"; do
    [ -n "$(nm "$b" 2>/dev/null | head -1)" ] || { echo "startup-order: $b has no symbol table" >&2; exit 2; }
done
python3 bench/bundles.py "$WORK"

# The client paths, traced as one shell script per binary: with and without
# the bench's wrapper (crun's mount namespace without the cgroup2 mount), so
# both cgroup layouts' detection runs.
traces=()
for SKIFF in "${BINS[@]}"; do
    R="$SKIFF --root $WORK/root"
    cat >"$WORK/scenarios.sh" <<EOF
set -e
wrap() { unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "\$@"' sh "\$@"; }
wrap $R run --bundle $WORK/true order-run
$R run --bundle $WORK/true order-run-hybrid
wrap $R run -d --bundle $WORK/sleep order-d
wrap $R delete -f order-d
wrap $R run --bundle $WORK/limited order-limited
$R create --bundle $WORK/sleep order-c
$R start order-c
$R state order-c >/dev/null
$R exec order-c /bin/true
$R kill order-c KILL
$R delete -f order-c
EOF
    trace="$WORK/trace-${#traces[@]}"
    python3 bench/trace_functions.py "$SKIFF" "$trace" -- sh "$WORK/scenarios.sh"
    traces+=("$trace")
done
python3 bench/startup_order.py "$OUT" "${traces[@]}"
