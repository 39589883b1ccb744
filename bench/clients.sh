#!/usr/bin/env bash
# Benchmark the paths the clients take (ARCHITECTURE.md: "Benchmarks measure
# skiff beside its peers in the same run and print ratios"):
#
#   ctr run --rm : `ctr run --rm IMAGE ID /bin/true` end to end through a
#                  private containerd, with skiff's shim driving skiff, and
#                  with containerd's runc shim driving runc, crun and skiff
#   shim RSS     : peak RSS (VmHWM, KiB) of the shim serving one container
#                  through run -d, three execs, metrics, pause and resume
#   podman       : `podman run --rm --net none IMAGE /bin/true` with skiff,
#                  runc and crun as the runtime, private storage
#
# containerd and podman run inside the same wrapper as bench/runtime.sh (a
# mount namespace with /sys/fs/cgroup/unified unmounted, which crun 1.8.1
# needs on this hybrid host), so every runtime sees the same host.
#
# Env: SKIFF_RUNTIME (default target/release/skiff), SKIFF_SHIM (default
#      beside it), BENCH_RUNS (default 20), BENCH_WARMUP (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-20}
WARMUP=${BENCH_WARMUP:-2}
SKIFF=${SKIFF_RUNTIME:-$PWD/target/release/skiff}
SHIM=${SKIFF_SHIM:-$(dirname "$SKIFF")/containerd-shim-skiff-v2}
SKIFF_IMAGE=${SKIFF_IMAGE:-$(dirname "$SKIFF")/skiff-image}
RUNC=${RUNC:-$(command -v runc || true)}
CRUN=${CRUN:-$(command -v crun || true)}
IMAGE=docker.io/skiff-bench/bb:1

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is required ($2)" >&2; exit 2; }; }
need hyperfine "apt-get install hyperfine"
need containerd "apt-get install containerd"
need ctr "apt-get install containerd"
need python3 "python3"
for b in "$SKIFF" "$SHIM" "$SKIFF_IMAGE"; do
    [ -x "$b" ] || { echo "bench: $b is not built (make build)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/skiff-bench-clients.XXXXXX)
NS=bench-$$
CTRD_PID=
PODMAN_NAMES=()
cleanup() {
    if [ -n "$CTRD_PID" ]; then
        for id in $(ctr_ task ls -q 2>/dev/null); do ctr_ task kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
        sleep 0.3
        for id in $(ctr_ task ls -q 2>/dev/null); do ctr_ task delete -f "$id" >/dev/null 2>&1 || true; done
        for id in $(ctr_ container ls -q 2>/dev/null); do ctr_ container delete "$id" >/dev/null 2>&1 || true; done
        kill "$CTRD_PID" 2>/dev/null && wait "$CTRD_PID" 2>/dev/null || true
    fi
    for r in "${PODMAN_NAMES[@]}"; do podman_ "$r" rm -af -t 0 >/dev/null 2>&1 || true; done
    # (no mount left is the usual case: grep's status 1 must not end the trap under -e)
    { grep -o " $WORK[^ ]*" /proc/self/mountinfo 2>/dev/null || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    for c in /sys/fs/cgroup/*/"$NS" /sys/fs/cgroup/*/libpod_parent; do
        [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    rmdir "/run/containerd/skiff/$NS" /run/containerd/skiff 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

wrap() { unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' sh "$@"; }
ctr_() { ctr --address "$WORK/c.sock" -n "$NS" "$@"; }

# The image: the host's busybox-static, through skiff-image import + save.
mkdir -p "$WORK/rootfs/bin"
cp /bin/busybox "$WORK/rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$WORK/rootfs/bin/$a"; done
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
"$SKIFF_IMAGE" --root "$WORK/store" import "$WORK/rootfs.tar" skiff-bench/bb:1 >/dev/null
"$SKIFF_IMAGE" --root "$WORK/store" save -o "$WORK/bb.tar" skiff-bench/bb:1

# A private containerd, its shims found on its PATH (skiff's first).
cat >"$WORK/config.toml" <<EOF
version = 2
root = "$WORK/ctrd-root"
state = "$WORK/ctrd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$WORK/c.sock"
[ttrpc]
  address = "$WORK/c.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
# Not through the wrap function: `wrap ... &` forks a subshell, and $! would be that
# subshell's pid, not containerd's (the cleanup then left containerd running).
# unshare without --fork and sh's exec keep containerd at $!.
PATH="$(dirname "$SHIM"):$PATH" unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' sh \
    containerd --config "$WORK/config.toml" >"$WORK/containerd.log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 100); do ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
ctr_ version >/dev/null || { echo "bench: containerd did not start: $(tail -5 "$WORK/containerd.log")" >&2; exit 1; }
ctr_ images import "$WORK/bb.tar" >/dev/null
echo "BinaryName = \"$SKIFF\"" >"$WORK/skiff.toml"

# name -> ctr run flags
declare -a PATHS=()
declare -A FLAGS=()
add_path() { PATHS+=("$1"); FLAGS[$1]=$2; }
add_path "skiff shim + skiff" "--runtime io.containerd.skiff.v2 --runtime-config-path $WORK/skiff.toml"
[ -n "$RUNC" ] && add_path "runc shim + runc" "--runc-binary $RUNC"
[ -n "$CRUN" ] && add_path "runc shim + crun" "--runc-binary $CRUN"
add_path "runc shim + skiff" "--runc-binary $SKIFF"

status=0
declare -A CTR_MS=() SHIM_RSS=()
i=0
for p in "${PATHS[@]}"; do
    i=$((i + 1))
    flags=${FLAGS[$p]}
    # shellcheck disable=SC2086
    if ! out=$(ctr_ run --rm $flags "$IMAGE" "smoke-$i" /bin/true 2>&1); then
        echo "bench: $p failed to run a container: $out" >&2
        status=1
        continue
    fi
    cmd="ctr --address $WORK/c.sock -n $NS run --rm $flags $IMAGE b$i-\$\$ /bin/true"
    if ! hyperfine --style none --warmup "$WARMUP" --runs "$RUNS" --export-json "$WORK/ctr-$i.json" "$cmd" >"$WORK/ctr-$i.log" 2>&1; then
        echo "bench: hyperfine failed for $p: $(tail -5 "$WORK/ctr-$i.log")" >&2
        status=1
        continue
    fi
    CTR_MS[$p]=$(python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$WORK/ctr-$i.json")
    # shellcheck disable=SC2086
    ctr_ run -d $flags "$IMAGE" "rss-$i" sleep 1000 >/dev/null
    for e in 1 2 3; do ctr_ task exec --exec-id "e$e" "rss-$i" /bin/true; done
    ctr_ task metrics "rss-$i" >/dev/null
    ctr_ task pause "rss-$i" && ctr_ task resume "rss-$i"
    shim=$(pgrep -f "containerd-shim-.* -id rss-$i( |\$)" | head -1)
    SHIM_RSS[$p]=$(awk '/VmHWM/{print $2}' "/proc/$shim/status")
    ctr_ task kill -s SIGKILL "rss-$i" && sleep 0.3
    ctr_ task delete "rss-$i" >/dev/null 2>&1 && ctr_ container delete "rss-$i"
done

# podman: private storage, no network, this host's rlimits.
podman_() { # runtime-name args...
    local r=$1; shift
    podman --root "$WORK/podman-$r/root" --runroot "$WORK/podman-$r/run" --tmpdir "$WORK/podman-$r/tmp" \
        --cgroup-manager cgroupfs --events-backend file --storage-driver vfs --runtime "${PODMAN_RT[$r]}" "$@"
}
declare -A PODMAN_RT=([skiff]=$SKIFF)
[ -n "$RUNC" ] && PODMAN_RT[runc]=$RUNC
[ -n "$CRUN" ] && PODMAN_RT[crun]=$CRUN
declare -A PODMAN_MS=()
if command -v podman >/dev/null; then
    for r in skiff runc crun; do
        [ -n "${PODMAN_RT[$r]:-}" ] || continue
        PODMAN_NAMES+=("$r")
        wrap_podman="unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec \"\$@\"' sh"
        base="podman --root $WORK/podman-$r/root --runroot $WORK/podman-$r/run --tmpdir $WORK/podman-$r/tmp --cgroup-manager cgroupfs --events-backend file --storage-driver vfs --runtime ${PODMAN_RT[$r]}"
        podman_ "$r" load -i "$WORK/bb.tar" >/dev/null 2>&1
        run_cmd="$wrap_podman $base run --rm --net none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 $IMAGE /bin/true"
        if ! out=$(sh -c "$run_cmd" 2>&1); then
            echo "bench: podman with $r failed: $out" >&2
            status=1
            continue
        fi
        if hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" --export-json "$WORK/podman-$r.json" "$run_cmd" >"$WORK/podman-$r.log" 2>&1; then
            PODMAN_MS[$r]=$(python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$WORK/podman-$r.json")
        else
            echo "bench: hyperfine failed for podman with $r: $(tail -5 "$WORK/podman-$r.log")" >&2
            status=1
        fi
    done
else
    echo "bench: podman not found; its line is skipped" >&2
fi

ratio() { python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print("%.2f" % (a / b))' "$1" "$2"; }
echo
echo "client paths: $(nproc) cores, $(uname -r), $RUNS runs (+$WARMUP warmup), medians"
printf '| %-18s | %-22s | %-20s |\n' "containerd path" "ctr run --rm true (ms)" "shim peak RSS (KiB)"
printf '|%s|%s|%s|\n' -------------------- ------------------------ ----------------------
for p in "${PATHS[@]}"; do
    printf '| %-18s | %22s | %20s |\n' "$p" "${CTR_MS[$p]:-failed}" "${SHIM_RSS[$p]:--}"
done
skiff_path="skiff shim + skiff"
for p in "${PATHS[@]}"; do
    [ "$p" = "$skiff_path" ] && continue
    if [ -n "${CTR_MS[$skiff_path]:-}" ] && [ -n "${CTR_MS[$p]:-}" ]; then
        echo "($skiff_path)/($p): ctr run $(ratio "${CTR_MS[$skiff_path]}" "${CTR_MS[$p]}")x, shim RSS $(ratio "${SHIM_RSS[$skiff_path]:-0}" "${SHIM_RSS[$p]:-1}")x"
    fi
done
if [ ${#PODMAN_NAMES[@]} -gt 0 ]; then
    echo
    printf '| %-8s | %-25s |\n' runtime "podman run --rm true (ms)"
    printf '|%s|%s|\n' ---------- ---------------------------
    for r in "${PODMAN_NAMES[@]}"; do printf '| %-8s | %25s |\n' "$r" "${PODMAN_MS[$r]:-failed}"; done
    for r in runc crun; do
        if [ -n "${PODMAN_MS[skiff]:-}" ] && [ -n "${PODMAN_MS[$r]:-}" ]; then
            echo "podman skiff/$r: $(ratio "${PODMAN_MS[skiff]}" "${PODMAN_MS[$r]}")x"
        fi
    done
fi
exit $status
