#!/usr/bin/env bash
# Benchmark skiff-image beside skopeo and umoci on one image, in the same run
# (ARCHITECTURE.md: "Benchmarks measure skiff beside its peers in the same run
# and print ratios").
#
#   push   : oci: layout -> docker://127.0.0.1:PORT (private docker-registry)
#   pull   : docker:// -> oci: layout
#   unpack : oci layout -> runnable bundle; umoci unpack (full copy) beside
#            skiff-image unpack cold (layers extracted into the store) and
#            warm (layers already stored: only the overlay mount)
#   peak RSS of one push and one pull (/usr/bin/time -f %M, KiB)
#
# The image: BENCH_LAYERS (default 6) gzip layers of BENCH_LAYER_MB (default
# 16) MiB of random bytes each, plus the host's busybox so the bundle runs.
# The registry is the real docker-registry on loopback, storage in a temp dir,
# blob descriptor cache off so every push really uploads.
#
# Env: SKIFF_IMAGE (default target/release/skiff-image), BENCH_RUNS (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-5}
LAYERS=${BENCH_LAYERS:-6}
LAYER_MB=${BENCH_LAYER_MB:-16}
SKIFF_IMAGE=${SKIFF_IMAGE:-$PWD/target/release/skiff-image}
REGISTRY=${REGISTRY:-/usr/bin/docker-registry}

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is required ($2)" >&2; exit 2; }; }
need hyperfine "apt-get install hyperfine"
need python3 "python3"
need skopeo "apt-get install skopeo"
need umoci "apt-get install umoci"
[ -x "$REGISTRY" ] || { echo "bench: $REGISTRY missing (apt-get install docker-registry)" >&2; exit 2; }
[ -x "$SKIFF_IMAGE" ] || { echo "bench: $SKIFF_IMAGE is not built (make build)" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "bench: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/skiff-bench-image.XXXXXX)
REG_PID=
cleanup() {
    [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
    for b in "$WORK"/bundle-*; do
        [ -d "$b" ] && "$SKIFF_IMAGE" --root "$WORK/store" rm-bundle "$b" >/dev/null 2>&1
        mountpoint -q "$b/rootfs" 2>/dev/null && umount -l "$b/rootfs"
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "bench: building a ${LAYERS}x${LAYER_MB} MiB image" >&2
python3 - "$WORK/layout" "$LAYERS" "$LAYER_MB" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d
def layer(files):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for name, data, mode in files:
            if data is None:
                i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = "busybox"; t.addfile(i)
            else:
                i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; t.addfile(i, io.BytesIO(data))
    raw = raw.getvalue()
    gz = gzip.compress(raw, compresslevel=1, mtime=0)
    return put(gz), len(gz), "sha256:" + hashlib.sha256(raw).hexdigest()
bb = open("/bin/busybox", "rb").read()
layers = [layer([("bin/busybox", bb, 0o755), ("bin/sh", None, 0), ("bin/true", None, 0)])]
for k in range(n):
    layers.append(layer([("data/%d.bin" % k, os.urandom(mb << 20), 0o644)]))
config = json.dumps({"architecture": "amd64", "os": "linux",
    "config": {"Cmd": ["/bin/true"], "Env": ["PATH=/bin"]},
    "rootfs": {"type": "layers", "diff_ids": [l[2] for l in layers]}}).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s} for d, s, _ in layers]}).encode()
index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": put(manifest), "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}
json.dump(index, open(os.path.join(out, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
PY

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $WORK/registry}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$PORT}
EOF
"$REGISTRY" serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
    sleep 0.1
done
REG=127.0.0.1:$PORT
REPOS=$WORK/registry/docker/registry/v2/repositories
# Seed one repo per tool for the pulls.
"$SKIFF_IMAGE" copy -q "oci:$WORK/layout:bench" "docker://$REG/seed/bench:1"

H=(hyperfine -N --style none --runs "$RUNS" --warmup 1)
"${H[@]}" --export-json "$WORK/push.json" \
    --prepare "rm -rf $REPOS/push-skiff $REPOS/push-skopeo" \
    -n skiff-image "$SKIFF_IMAGE copy -q oci:$WORK/layout:bench docker://$REG/push-skiff/bench:1" \
    -n skopeo "skopeo copy -q --dest-tls-verify=false oci:$WORK/layout:bench docker://$REG/push-skopeo/bench:1" \
    >"$WORK/push.log" 2>&1 || { cat "$WORK/push.log" >&2; exit 1; }
"${H[@]}" --export-json "$WORK/pull.json" \
    --prepare "rm -rf $WORK/pulled" \
    -n skiff-image "$SKIFF_IMAGE copy -q docker://$REG/seed/bench:1 oci:$WORK/pulled:bench" \
    -n skopeo "skopeo copy -q --src-tls-verify=false docker://$REG/seed/bench:1 oci:$WORK/pulled:bench" \
    >"$WORK/pull.log" 2>&1 || { cat "$WORK/pull.log" >&2; exit 1; }

"$SKIFF_IMAGE" --root "$WORK/store" copy -q "oci:$WORK/layout:bench" "skiff:bench:latest" 2>/dev/null ||
    "$SKIFF_IMAGE" --root "$WORK/store" pull -q "$REG/seed/bench:1" >/dev/null
IMG=$("$SKIFF_IMAGE" --root "$WORK/store" images -q | head -n 1)
unpack_ok=0
if "$SKIFF_IMAGE" --root "$WORK/store" unpack "$IMG" "$WORK/bundle-probe" >/dev/null 2>&1; then
    "$SKIFF_IMAGE" --root "$WORK/store" rm-bundle "$WORK/bundle-probe"
    unpack_ok=1
    # cold: the store's extracted layers removed before each run (gc with no
    # image in use would do it too, but the image must stay).
    "${H[@]}" --export-json "$WORK/unpack.json" \
        --prepare "sh -c '$SKIFF_IMAGE --root $WORK/store rm-bundle $WORK/bundle-s 2>/dev/null; rm -rf $WORK/store/layers $WORK/bundle-u'" \
        -n "skiff-image (cold)" "$SKIFF_IMAGE --root $WORK/store unpack $IMG $WORK/bundle-s" \
        -n umoci "umoci unpack --image $WORK/layout:bench $WORK/bundle-u" \
        >"$WORK/unpack.log" 2>&1 || { cat "$WORK/unpack.log" >&2; exit 1; }
    "$SKIFF_IMAGE" --root "$WORK/store" rm-bundle "$WORK/bundle-s" 2>/dev/null || true
    "${H[@]}" --export-json "$WORK/unpack-warm.json" \
        --prepare "sh -c '$SKIFF_IMAGE --root $WORK/store rm-bundle $WORK/bundle-s 2>/dev/null; true'" \
        -n "skiff-image (warm)" "$SKIFF_IMAGE --root $WORK/store unpack $IMG $WORK/bundle-s" \
        >"$WORK/unpack-warm.log" 2>&1 || { cat "$WORK/unpack-warm.log" >&2; exit 1; }
    "$SKIFF_IMAGE" --root "$WORK/store" rm-bundle "$WORK/bundle-s" 2>/dev/null || true
else
    echo "bench: skiff-image unpack is not available in this build; unpack row skipped" >&2
fi

rss() { # label cmd...
    local f="$WORK/rss-$1"; shift
    /usr/bin/time -o "$f" -f %M "$@" >/dev/null 2>&1 && tail -n 1 "$f" || echo -
}
rm -rf "$REPOS/push-skiff" "$REPOS/push-skopeo" "$WORK/pulled"
RSS_PUSH_S=$(rss ps "$SKIFF_IMAGE" copy -q "oci:$WORK/layout:bench" "docker://$REG/push-skiff/bench:1")
RSS_PUSH_K=$(rss pk skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:bench" "docker://$REG/push-skopeo/bench:1")
RSS_PULL_S=$(rss ls "$SKIFF_IMAGE" copy -q "docker://$REG/seed/bench:1" "oci:$WORK/pulled:bench")
rm -rf "$WORK/pulled"
RSS_PULL_K=$(rss lk skopeo copy -q --src-tls-verify=false "docker://$REG/seed/bench:1" "oci:$WORK/pulled:bench")

python3 - "$WORK" "$unpack_ok" "$RSS_PUSH_S" "$RSS_PUSH_K" "$RSS_PULL_S" "$RSS_PULL_K" "$LAYERS" "$LAYER_MB" "$RUNS" <<'PY'
import json, os, sys
work, unpack_ok = sys.argv[1], sys.argv[2] == "1"
rss_push_s, rss_push_k, rss_pull_s, rss_pull_k, layers, mb, runs = sys.argv[3:10]
def med(name):
    return {r["command"]: r["median"] * 1000 for r in json.load(open(os.path.join(work, name)))["results"]}
push, pull = med("push.json"), med("pull.json")
print()
print("skiff-image benchmark: %d cores, %s layers x %s MiB random + busybox, %s runs, medians" % (os.cpu_count(), layers, mb, runs))
print("| operation | skiff-image (ms) | peer | peer (ms) | ratio | skiff-image RSS (KiB) | peer RSS (KiB) |")
print("|---|---|---|---|---|---|---|")
def row(op, s, peer, p, rs="-", rp="-"):
    print("| %s | %.0f | %s | %.0f | %.2fx | %s | %s |" % (op, s, peer, p, s / p, rs, rp))
row("push (copy oci: -> docker://)", push["skiff-image"], "skopeo", push["skopeo"], rss_push_s, rss_push_k)
row("pull (copy docker:// -> oci:)", pull["skiff-image"], "skopeo", pull["skopeo"], rss_pull_s, rss_pull_k)
if unpack_ok:
    u, w = med("unpack.json"), med("unpack-warm.json")
    row("unpack, layers not yet stored", u["skiff-image (cold)"], "umoci unpack", u["umoci"])
    row("unpack, layers already stored", w["skiff-image (warm)"], "umoci unpack", u["umoci"])
PY
