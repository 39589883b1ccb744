#!/usr/bin/env bash
# Benchmark skiff beside runc and crun on one busybox bundle (ARCHITECTURE.md:
# "Benchmarks measure skiff beside its peers in the same run and print ratios").
#
#   run      : `run` of /bin/true in the foreground (create+start+wait+delete)
#   run-d    : `run -d` of a sleeping container, then `delete -f`
#   limited  : `run` of /bin/true with memory, pids and cpu limits and a
#              seccomp profile (cgroup set-up and filter cost included)
#   exec     : `exec` of /bin/true into a running container
#   exec ptrace : the same into a container holding CAP_SYS_PTRACE (skiff
#              then runs exec from a sealed memfd copy of its binary)
#   peak RSS : /usr/bin/time -f %M of one `run` (KiB): the largest ru_maxrss
#              among the runtime and the processes it waits for (its forks)
#
# Every runtime goes through the same wrapper, a private mount namespace with
# /sys/fs/cgroup/unified unmounted (crun 1.8.1 refuses the hybrid layout
# otherwise), and gets its own --root. Exit status is non-zero only when a
# runtime that is present fails to run the bundle, never because of a ratio.
#
# Env: SKIFF_RUNTIME (default target/release/skiff), RUNC, CRUN,
#      BENCH_RUNS (default 30), BENCH_WARMUP (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-30}
WARMUP=${BENCH_WARMUP:-3}
SKIFF=${SKIFF_RUNTIME:-$PWD/target/release/skiff}
RUNC=${RUNC:-$(command -v runc || true)}
CRUN=${CRUN:-$(command -v crun || true)}

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is required ($2)" >&2; exit 2; }; }
need hyperfine "apt-get install hyperfine"
need python3 "python3"
need unshare "util-linux"
[ -x /bin/busybox ] || { echo "bench: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 2; }
if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
    else
        echo "bench: /usr/bin/time missing (apt-get install time); peak RSS skipped" >&2
    fi
fi

WORK=$(mktemp -d /tmp/skiff-bench.XXXXXX)
cleanup() {
    for r in "$WORK"/root-*; do
        [ -d "$r" ] || continue
        name=${r##*/root-}
        bin=$(cat "$WORK/bin-$name" 2>/dev/null || true)
        [ -n "$bin" ] || continue
        for id in $("$bin" --root "$r" list -q 2>/dev/null || true); do
            wrap "$bin" --root "$r" delete -f "$id" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# The common wrapper (see header).
wrap() { unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' sh "$@"; }
WRAP="unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec \"\$@\"' sh"

# One rootfs, three bundles sharing it (bench/bundles.py).
python3 bench/bundles.py "$WORK"

declare -a NAMES=()
declare -A BIN=()
add() { # name bin
    if [ -n "$2" ] && [ -x "$2" ]; then NAMES+=("$1"); BIN[$1]=$2; else echo "bench: $1 not found${2:+ at $2}; skipped" >&2; fi
}
add skiff "$SKIFF"
[ -x "$SKIFF" ] || echo "bench: skiff is not built (run \`make build\`); reporting its peers only" >&2
add runc "$RUNC"
add crun "$CRUN"
[ ${#NAMES[@]} -gt 0 ] || { echo "bench: no runtime to measure" >&2; exit 1; }

status=0
declare -A RUN_MS=() RUND_MS=() LIM_MS=() EXEC_MS=() EXECP_MS=() RSS=()
for n in "${NAMES[@]}"; do
    bin=${BIN[$n]}
    root="$WORK/root-$n"
    mkdir -p "$root"
    echo "$bin" >"$WORK/bin-$n"
    # Smoke test: a runtime that cannot run the bundle fails the bench.
    if ! out=$(wrap "$bin" --root "$root" run --bundle "$WORK/true" "smoke-$n" 2>&1); then
        echo "bench: $n failed to run the bundle: $out" >&2
        status=1
        continue
    fi
    run_cmd="$WRAP $bin --root $root run --bundle $WORK/true bench-$n"
    rund_cmd="$WRAP sh -c '$bin --root $root run -d --bundle $WORK/sleep benchd-$n && $bin --root $root delete -f benchd-$n'"
    lim_cmd="$WRAP $bin --root $root run --bundle $WORK/limited benchl-$n"
    exec_cmd="$WRAP $bin --root $root exec benche-$n /bin/true"
    execp_cmd="$WRAP $bin --root $root exec benchp-$n /bin/true"
    if ! wrap "$bin" --root "$root" run -d --bundle "$WORK/sleep" "benche-$n" >"$WORK/$n.exec.log" 2>&1 ||
        ! wrap "$bin" --root "$root" run -d --bundle "$WORK/ptrace" "benchp-$n" >>"$WORK/$n.exec.log" 2>&1; then
        echo "bench: $n failed to start the exec targets: $(cat "$WORK/$n.exec.log")" >&2
        status=1
        continue
    fi
    # Write back what the set-up dirtied (the bundles, the exec targets'
    # state) now, not in the middle of whichever runtime is measured first.
    sync
    if ! hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" \
        --export-json "$WORK/$n.json" -n run "$run_cmd" -n run-d "$rund_cmd" \
        -n limited "$lim_cmd" -n exec "$exec_cmd" -n exec-ptrace "$execp_cmd" >"$WORK/$n.log" 2>&1; then
        echo "bench: hyperfine failed for $n:" >&2
        cat "$WORK/$n.log" >&2
        status=1
        continue
    fi
    wrap "$bin" --root "$root" delete -f "benche-$n" >/dev/null 2>&1 || true
    wrap "$bin" --root "$root" delete -f "benchp-$n" >/dev/null 2>&1 || true
    read -r RUN_MS[$n] RUND_MS[$n] LIM_MS[$n] EXEC_MS[$n] EXECP_MS[$n] < <(python3 -c '
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
print("%.2f %.2f %.2f %.2f %.2f" % (r["run"], r["run-d"], r["limited"], r["exec"], r["exec-ptrace"]))' "$WORK/$n.json")
    if [ -x /usr/bin/time ]; then
        # time runs inside the wrapper's namespace; -o keeps its number apart
        # from the runtime's own stderr.
        if wrap /usr/bin/time -o "$WORK/rss-$n" -f %M "$bin" --root "$root" run --bundle "$WORK/true" "rss-$n" >/dev/null 2>&1; then
            RSS[$n]=$(tail -n 1 "$WORK/rss-$n")
        else
            echo "bench: $n failed under /usr/bin/time" >&2
            status=1
        fi
    fi
done

echo
echo "skiff benchmark: $(nproc) cores, $(uname -r), $RUNS runs (+$WARMUP warmup), medians"
printf '| %-8s | %-18s | %-23s | %-25s | %-11s | %-14s |\n' runtime "run /bin/true (ms)" "run -d + delete -f (ms)" "run with limits+seccomp (ms)" "exec (ms)" "peak RSS (KiB)"
printf '|%s|%s|%s|%s|%s|%s|\n' ---------- -------------------- ------------------------- --------------------------- ------------- ----------------
for n in "${NAMES[@]}"; do
    printf '| %-8s | %18s | %23s | %25s | %11s | %14s |\n' "$n" "${RUN_MS[$n]:-failed}" "${RUND_MS[$n]:-failed}" "${LIM_MS[$n]:-failed}" "${EXEC_MS[$n]:-failed}" "${RSS[$n]:--}"
done
echo "exec into a CAP_SYS_PTRACE container (ms): $(for n in "${NAMES[@]}"; do printf '%s %s, ' "$n" "${EXECP_MS[$n]:-failed}"; done | sed 's/, $//')"
if [ -n "${EXECP_MS[skiff]:-}" ] && [ -n "${EXEC_MS[skiff]:-}" ]; then
    echo "skiff's sealed exec costs $(python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) - float(sys.argv[2])))' "${EXECP_MS[skiff]}" "${EXEC_MS[skiff]}") ms over a plain exec"
fi
ratio() { python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print("%.2f" % (a / b))' "$1" "$2"; }
for peer in runc crun; do
    if [ -n "${RUN_MS[skiff]:-}" ] && [ -n "${RUN_MS[$peer]:-}" ]; then
        echo "skiff/$peer: run $(ratio "${RUN_MS[skiff]}" "${RUN_MS[$peer]}")x, run-d+delete $(ratio "${RUND_MS[skiff]}" "${RUND_MS[$peer]}")x, limited $(ratio "${LIM_MS[skiff]}" "${LIM_MS[$peer]}")x, exec $(ratio "${EXEC_MS[skiff]}" "${EXEC_MS[$peer]}")x${RSS[skiff]:+, peak RSS $(ratio "${RSS[skiff]}" "${RSS[$peer]:-1}")x}"
    fi
done
# A stale startup.order (runtime/build.rs) costs memory, not correctness:
# say how much of it this binary still has.
if [ -x "$SKIFF" ] && [ -f runtime/startup.order ] && command -v nm >/dev/null; then
    listed=$(grep -vc '^#' runtime/startup.order || true)
    found=$(nm "$SKIFF" 2>/dev/null | awk '{print $3}' | sort -u |
        comm -12 - <(grep -v '^#' runtime/startup.order | sort -u) | wc -l)
    echo "startup.order: $found of $listed functions are in this binary (regenerate with bench/startup-order.sh when low)"
fi
exit $status
