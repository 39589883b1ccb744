#!/usr/bin/env bash
# Benchmark skiff-image beside skopeo, umoci and tar on the same images and
# registries, in the same run (ARCHITECTURE.md: "Benchmarks measure skiff
# beside its peers in the same run and print ratios").
#
# Images (built here, no network):
#   big    : BENCH_LAYERS (6) gzip layers of real files from /usr, about
#            BENCH_IMAGE_MB (300) MB compressed, plus busybox so it runs
#   small  : busybox alone (one layer), for warm unpack beside big
#   many   : 150 layers (busybox and 149 one-file layers), more lowerdirs than
#            one page of mount options holds
#   multi  : a two-platform index (amd64, arm64) of small images
#   tags   : one small repo with 7 tags
#   huge   : one uncompressed layer of BENCH_HUGE_MB (1024) MiB, peak RSS only
#            (BENCH_HUGE_MB=0 skips it)
# Registries: two real docker-registry servers on loopback (A, B), storage in
# a temp dir, no blob descriptor cache, so every upload really uploads.
#
# Env: SKIFF_IMAGE (default target/release/skiff-image), BENCH_RUNS (3).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-3}
LAYERS=${BENCH_LAYERS:-6}
IMAGE_MB=${BENCH_IMAGE_MB:-300}
HUGE_MB=${BENCH_HUGE_MB:-1024}
SKIFF_IMAGE=${SKIFF_IMAGE:-$PWD/target/release/skiff-image}
REGISTRY=${REGISTRY:-/usr/bin/docker-registry}
SI=$SKIFF_IMAGE

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 is required ($2)" >&2; exit 2; }; }
need hyperfine "apt-get install hyperfine"
need python3 "python3"
need skopeo "apt-get install skopeo"
need umoci "apt-get install umoci"
need curl "apt-get install curl"
[ -x "$REGISTRY" ] || { echo "bench: $REGISTRY missing (apt-get install docker-registry)" >&2; exit 2; }
[ -x "$SI" ] || { echo "bench: $SI is not built (make build)" >&2; exit 2; }
[ -x /bin/busybox ] || { echo "bench: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/skiff-bench-image.XXXXXX)
# The 1-minute load average at the start, before each series and at the end: the
# VM is shared, and the times mean little without it.
load() { cut -d' ' -f1 /proc/loadavg >>"$WORK/load"; }
load
PIDS=()
cleanup() {
    # Not under set -e: one failed step must not leave the later ones undone (a
    # killed registry's wait returns 143, which once ended the trap early).
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    for b in "$WORK"/bundle-*; do
        [ -d "$b" ] || continue
        "$SI" --root "$WORK/store" rm-bundle "$b" >/dev/null 2>&1
    done
    # Whatever is still mounted under $WORK (a bundle rm-bundle refused, one an
    # interrupted unpack left), deepest first; only our own mounts, by path.
    awk -v w="$WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r m; do umount -l "$m"; done
    # --one-file-system: should a mount survive, rm does not reach through it.
    rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
# Long steps run in a session of their own and the shell waits for them: bash runs a
# trap only once the foreground command is done, so a signal would otherwise wait out a
# whole hyperfine series. The signal trap stops the step's process group, then exits,
# which runs cleanup.
STEP=
step() {
    local rc=0
    setsid "$@" <&0 &
    STEP=$!
    wait "$STEP" || rc=$?
    STEP=
    return "$rc"
}
on_signal() {
    if [ -n "$STEP" ]; then
        kill -TERM -- "-$STEP" 2>/dev/null
        for _ in $(seq 50); do kill -0 -- "-$STEP" 2>/dev/null || break; sleep 0.1; done
    fi
    exit "$1"
}
trap 'on_signal 129' HUP
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

echo "bench: building images (about $IMAGE_MB MB from /usr; this takes a minute)" >&2
step python3 - "$WORK" "$LAYERS" "$IMAGE_MB" "$HUGE_MB" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
from concurrent.futures import ProcessPoolExecutor
work, nlayers, image_mb, huge_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def layout(name):
    d = os.path.join(work, name)
    os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
    json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(d, "oci-layout"), "w"))
    return d

def put(d, data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(d, "blobs", "sha256", h), "wb") as f:
        f.write(data)
    return "sha256:" + h

def tar_bytes(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            if isinstance(e, tuple):
                name, data = e
                i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o755
                t.addfile(i, io.BytesIO(data))
            else:
                t.add(e, arcname=e.lstrip("/"), recursive=False)
    return raw.getvalue()

def gz_layer(args):
    d, entries = args
    raw = tar_bytes(entries)
    gz = gzip.compress(raw, compresslevel=6, mtime=0)
    return put(d, gz), len(gz), "sha256:" + hashlib.sha256(raw).hexdigest(), "application/vnd.oci.image.layer.v1.tar+gzip"

def image(d, layers, arch="amd64", tag=None, index=True):
    config = json.dumps({"architecture": arch, "os": "linux",
        "config": {"Cmd": ["/bin/sh", "-c", "true"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [l[2] for l in layers]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(d, config), "size": len(config)},
        "layers": [{"mediaType": mt, "digest": dg, "size": sz} for dg, sz, _, mt in layers]}).encode()
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(d, manifest), "size": len(manifest),
            "platform": {"architecture": arch, "os": "linux"}}
    if tag:
        desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
    return desc

def write_index(d, manifests):
    json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests},
              open(os.path.join(d, "index.json"), "w"))

busybox = ("bin/busybox", open("/bin/busybox", "rb").read())

# big: files from /usr, in the order os.walk finds them, cut into layers by
# uncompressed size (about 2.3x the compressed target: /usr packs ~2.3:1).
budget = image_mb * 23 // 10 << 20
per_layer = budget // nlayers
groups, cur, size = [], [], 0
for top in ("/usr/lib", "/usr/share", "/usr/bin"):
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not (os.path.isfile(p) or os.path.islink(p)) or not os.access(p, os.R_OK):
                continue
            cur.append(p); size += st.st_size if not os.path.islink(p) else 0
            if size >= per_layer:
                groups.append(cur); cur, size = [], 0
                if len(groups) == nlayers:
                    break
        if len(groups) == nlayers:
            break
    if len(groups) == nlayers:
        break
if cur and len(groups) < nlayers:
    groups.append(cur)
big = layout("big")
with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
    layers = list(ex.map(gz_layer, [(big, [busybox])] + [(big, g) for g in groups]))
write_index(big, [image(big, layers, tag="1")])

small = layout("small")
write_index(small, [image(small, [gz_layer((small, [busybox]))], tag="1")])

many = layout("many")
write_index(many, [image(many, [gz_layer((many, [busybox]))] + [
    gz_layer((many, [("f%d" % i, b"%d" % i), ("top", b"%d" % i)])) for i in range(1, 150)], tag="1")])

# multi: two platforms, two small layers each.
multi = layout("multi")
descs = []
for arch in ("amd64", "arm64"):
    ls = [gz_layer((multi, [busybox])), gz_layer((multi, [("etc/arch", (arch * 100000).encode())]))]
    descs.append(image(multi, ls, arch=arch))
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs}).encode()
write_index(multi, [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": put(multi, index),
                     "size": len(index), "annotations": {"org.opencontainers.image.ref.name": "1"}}])

# tags: seven images sharing busybox, each with a small layer of its own.
tags = layout("tags")
base = gz_layer((tags, [busybox]))
write_index(tags, [image(tags, [base, gz_layer((tags, [("etc/tag", os.urandom(1 << 20))]))], tag="t%d" % i) for i in range(1, 8)])

# huge: one uncompressed layer, streamed to disk to keep this script small.
if huge_mb:
    huge = layout("huge")
    h, tmp = hashlib.sha256(), os.path.join(huge, "layer.tmp")
    with open(tmp, "wb") as f:
        info = tarfile.TarInfo("data.bin"); info.size = huge_mb << 20
        hdr = info.tobuf(format=tarfile.USTAR_FORMAT); f.write(hdr); h.update(hdr)
        chunk = os.urandom(1 << 20)
        for i in range(huge_mb):
            c = hashlib.sha256(chunk + i.to_bytes(4, "little")).digest() * (1 << 15)
            f.write(c); h.update(c)
        tail = b"\0" * 1024
        f.write(tail); h.update(tail)
    dg = "sha256:" + h.hexdigest()
    size = os.path.getsize(tmp)
    os.rename(tmp, os.path.join(huge, "blobs", "sha256", dg[7:]))
    write_index(huge, [image(huge, [(dg, size, dg, "application/vnd.oci.image.layer.v1.tar")], tag="1")])
PY

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_registry() { # name var: starts a registry, sets var to host:port
    local name=$1 port
    port=$(free_port)
    cat >"$WORK/$name.yml" <<EOF
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $WORK/$name}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$port}
EOF
    "$REGISTRY" serve "$WORK/$name.yml" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
        sleep 0.1
    done
    printf -v "$2" '127.0.0.1:%s' "$port"
}
# Not in $(...): the registry's pid must reach PIDS in this shell for cleanup.
start_registry reg-a A
start_registry reg-b B
B_REPOS=$WORK/reg-b/docker/registry/v2/repositories
SK=(skopeo --insecure-policy)
SKC=(--src-tls-verify=false --dest-tls-verify=false)

echo "bench: seeding registry A" >&2
"$SI" copy -q "oci:$WORK/big:1" "docker://$A/bench/big:1"
"$SI" copy -q "oci:$WORK/small:1" "docker://$A/bench/small:1"
"$SI" copy -q "oci:$WORK/many:1" "docker://$A/bench/many:1"
"$SI" copy -q --all "oci:$WORK/multi:1" "docker://$A/bench/multi:1"
for i in 1 2 3 4 5 6 7; do "$SI" copy -q "oci:$WORK/tags:t$i" "docker://$A/bench/tags:t$i"; done

declare -a ROWS=()
# bench NAME PREPARE SKIFF_CMD PEER_NAME PEER_CMD
bench() {
    local name=$1 prepare=$2 skiff_cmd=$3 peer=$4 peer_cmd=$5 json="$WORK/h-$RANDOM.json"
    load
    if ! step hyperfine -N --style none --runs "$RUNS" --warmup 1 --export-json "$json" \
        --prepare "$prepare" -n skiff "$skiff_cmd" -n peer "$peer_cmd" >"$json.log" 2>&1; then
        echo "bench: $name failed; the commands once more, with their output:" >&2
        for c in "$skiff_cmd" "$peer_cmd"; do sh -c "$prepare" >/dev/null 2>&1; echo "+ $c" >&2; sh -c "$c" >&2 || true; done
        exit 1
    fi
    ROWS+=("$name|$peer|$json")
}
wipe_b="sh -c 'rm -rf $B_REPOS'"

bench "copy registry -> registry, ${IMAGE_MB} MB image" "$wipe_b" \
    "$SI copy -q docker://$A/bench/big:1 docker://$B/x/big:1" \
    skopeo "${SK[*]} copy -q ${SKC[*]} docker://$A/bench/big:1 docker://$B/x/big:1"
bench "sync of that repo" "$wipe_b" \
    "$SI sync --src docker --dest docker ${SKC[*]} $A/bench/big $B/sync" \
    skopeo "${SK[*]} sync --src docker --dest docker ${SKC[*]} $A/bench/big $B/sync"
bench "registry -> oci:" "rm -rf $WORK/pulled" \
    "$SI copy -q docker://$A/bench/big:1 oci:$WORK/pulled:1" \
    skopeo "${SK[*]} copy -q ${SKC[*]} docker://$A/bench/big:1 oci:$WORK/pulled:1"
bench "oci: -> docker-archive:" "rm -f $WORK/archive.tar" \
    "$SI copy -q oci:$WORK/big:1 docker-archive:$WORK/archive.tar:big:1" \
    skopeo "${SK[*]} copy -q oci:$WORK/big:1 docker-archive:$WORK/archive.tar:big:1"
bench "oci: -> registry (push)" "$wipe_b" \
    "$SI copy -q oci:$WORK/big:1 docker://$B/x/big:1" \
    skopeo "${SK[*]} copy -q --dest-tls-verify=false oci:$WORK/big:1 docker://$B/x/big:1"
bench "copy --all of a two-platform index" "$wipe_b" \
    "$SI copy -q --all docker://$A/bench/multi:1 docker://$B/x/multi:1" \
    skopeo "${SK[*]} copy -q --all ${SKC[*]} docker://$A/bench/multi:1 docker://$B/x/multi:1"
bench "sync of a 7-tag repo" "$wipe_b" \
    "$SI sync --src docker --dest docker ${SKC[*]} $A/bench/tags $B/sync" \
    skopeo "${SK[*]} sync --src docker --dest docker ${SKC[*]} $A/bench/tags $B/sync"
bench "inspect docker://" "true" \
    "$SI inspect docker://$A/bench/big:1" \
    skopeo "skopeo inspect --tls-verify=false docker://$A/bench/big:1"

# Unpack: skiff-image's store + overlay bundle beside skopeo + umoci.
if "$SI" --root "$WORK/probe" unpack --help >/dev/null 2>&1; then
    rm -rf "$WORK/probe"
    clean_unpack="sh -c '$SI --root $WORK/store rm-bundle $WORK/bundle-s >/dev/null 2>&1; rm -rf $WORK/store $WORK/bundle-u $WORK/pulled'"
    bench "cold pull + unpack" "$clean_unpack" \
        "sh -c '$SI --root $WORK/store pull -q $A/bench/big:1 && $SI --root $WORK/store unpack $A/bench/big:1 $WORK/bundle-s'" \
        "skopeo + umoci" "sh -c '${SK[*]} copy -q --src-tls-verify=false docker://$A/bench/big:1 oci:$WORK/pulled:1 && umoci unpack --image $WORK/pulled:1 $WORK/bundle-u'"
    # Extraction alone: layers already in the store (pulled), not yet extracted.
    "$SI" --root "$WORK/store" pull -q "$A/bench/big:1"
    layers_tgz=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1]+"/index.json")); m=json.load(open(sys.argv[1]+"/blobs/sha256/"+i["manifests"][0]["digest"][7:])); print(" ".join(sys.argv[1]+"/blobs/sha256/"+l["digest"][7:] for l in m["layers"]))' "$WORK/big")
    ext_prepare="sh -c '$SI --root $WORK/store rm-bundle $WORK/bundle-s >/dev/null 2>&1; rm -rf $WORK/store/layers $WORK/tarx; mkdir -p $WORK/tarx'"
    bench "extraction of the layers (store -> bundle)" "$ext_prepare" \
        "$SI --root $WORK/store unpack $A/bench/big:1 $WORK/bundle-s" \
        "tar xz (1 core)" "sh -c 'for l in $layers_tgz; do tar -xzf \$l -C $WORK/tarx; done'"
    ext_all=${ROWS[-1]##*|}
    # Per core (the goal's measure): the same extraction on one CPU. extract_pending
    # starts as many workers as available_parallelism says, and that honours the
    # affinity mask, so under taskset it runs one; gzip -dc | tar x gets the same CPU.
    bench "extraction on one CPU (taskset -c 0)" "$ext_prepare" \
        "taskset -c 0 $SI --root $WORK/store unpack $A/bench/big:1 $WORK/bundle-s" \
        "gzip -dc piped to tar x, same CPU" \
        "taskset -c 0 sh -c 'for l in $layers_tgz; do gzip -dc \$l | tar -x -C $WORK/tarx; done'"
    ext_one=${ROWS[-1]##*|}
    # MB of tar the layers hold: gzip's trailer (ISIZE, mod 4 GiB, and no layer is that big).
    tar_mb=$(python3 -c 'import os, struct, sys
def isize(p):
    with open(p, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return struct.unpack("<I", f.read(4))[0]
print("%.1f" % (sum(map(isize, sys.argv[1:])) / 1e6))' $layers_tgz)
    printf '{"tar_mb": %s, "cores": %s, "all": "%s", "one": "%s"}\n' "$tar_mb" "$(nproc)" "$ext_all" "$ext_one" >"$WORK/extract.json"
    "$SI" --root "$WORK/store" rm-bundle "$WORK/bundle-s" >/dev/null 2>&1 || true
    # Warm unpack: every layer already extracted, so unpack writes config.json and
    # mounts the overlay. The goal is under 20 ms and flat in image size, so busybox,
    # the big image and the 150-layer one are timed in the same series.
    warm_args=()
    for img in small big many; do
        b=$WORK/bundle-w-$img
        "$SI" --root "$WORK/store" pull -q "$A/bench/$img:1" >/dev/null
        "$SI" --root "$WORK/store" unpack "$A/bench/$img:1" "$b" >/dev/null
        "$SI" --root "$WORK/store" rm-bundle "$b"
        warm_args+=(--prepare "sh -c '$SI --root $WORK/store rm-bundle $b >/dev/null 2>&1; true'"
            -n "$img" "$SI --root $WORK/store unpack $A/bench/$img:1 $b")
    done
    load
    step hyperfine -N --style none --runs 20 --warmup 2 --export-json "$WORK/warm.json" \
        "${warm_args[@]}" >"$WORK/warm.log" 2>&1 || { cat "$WORK/warm.log" >&2; exit 1; }
    for img in small big many; do "$SI" --root "$WORK/store" rm-bundle "$WORK/bundle-w-$img" >/dev/null 2>&1 || true; done
else
    echo "bench: this skiff-image has no unpack; unpack rows skipped" >&2
fi

rss() { # command... -> peak RSS in KiB of the largest process
    local f="$WORK/rss-$RANDOM"
    /usr/bin/time -o "$f" -f %M "$@" >/dev/null 2>&1 && tail -n 1 "$f" || echo failed
}
RSS_S=- RSS_K=-
if [ "$HUGE_MB" != 0 ] && [ -x /usr/bin/time ]; then
    echo "bench: peak RSS copying a $HUGE_MB MiB layer" >&2
    RSS_S=$(rss "$SI" copy -q "oci:$WORK/huge:1" "docker://$B/x/huge:1")
    rm -rf "$B_REPOS"
    RSS_K=$(rss "${SK[@]}" copy -q --dest-tls-verify=false "oci:$WORK/huge:1" "docker://$B/x/huge:1")
fi

du_big=$(du -sm "$WORK/big/blobs" | cut -f1)
load
python3 - "$RUNS" "$du_big" "$HUGE_MB" "$RSS_S" "$RSS_K" "$WORK" "${ROWS[@]}" <<'PY'
import json, os, sys
runs, du_big, huge_mb, rss_s, rss_k, work = sys.argv[1:7]
warm = os.path.join(work, "warm.json")

def shape(name): # an image layout's "N layers, M MB" (compressed)
    d = os.path.join(work, name)
    blob = lambda dg: os.path.join(d, "blobs", "sha256", dg[7:])
    m = json.load(open(blob(json.load(open(os.path.join(d, "index.json")))["manifests"][0]["digest"])))
    n = len(m["layers"])
    return "%d layer%s, %.1f MB" % (n, "s" if n > 1 else "", sum(l["size"] for l in m["layers"]) / 1e6)

print()
print("skiff-image benchmark: %d cores, image of %s MB on disk, %s runs, medians" % (os.cpu_count(), du_big, runs))
print("| operation | skiff-image | peer | peer time | ratio |")
print("|---|---|---|---|---|")
fmt = lambda s: "%.1f ms" % (s * 1000) if s < 0.1 else "%.0f ms" % (s * 1000) if s < 1 else "%.2f s" % s
for row in sys.argv[7:]:
    name, peer, path = row.split("|")
    r = {x["command"]: x["median"] for x in json.load(open(path))["results"]}
    print("| %s | %s | %s | %s | %.2fx |" % (name, fmt(r["skiff"]), peer, fmt(r["peer"]), r["skiff"] / r["peer"]))
notes = []
ext = os.path.join(work, "extract.json")
if os.path.exists(ext):
    # Throughput per core, higher is better: MB of tar over wall time times the
    # cores the run had (N workers on N cores; one worker on one CPU).
    e = json.load(open(ext))
    mb, cores = e["tar_mb"], e["cores"]
    res = lambda p: {x["command"]: x for x in json.load(open(p))["results"]}
    a, o = res(e["all"]), res(e["one"])
    tar1 = mb / o["peer"]["median"]
    for label, t, n in (("one worker on one CPU", o["skiff"]["median"], 1),
                        ("%d workers on %d cores" % (cores, cores), a["skiff"]["median"], cores)):
        print("| extraction throughput per core, %s (MB/s of tar, higher is better) | %.0f MB/s | gzip -dc piped to tar x, one CPU | %.0f MB/s | %.2fx |" % (
            label, mb / t / n, tar1, mb / t / n / tar1))
    # On a loaded machine a run waits for a CPU as long as it runs, so MB per
    # CPU-second (user+sys, hyperfine's mean) is the steadier per-core measure.
    cpu = lambda x: x["user"] + x["system"]
    print("| extraction throughput per CPU-second, one worker (MB of tar per user+sys s) | %.0f MB/s | gzip -dc piped to tar x, one CPU | %.0f MB/s | %.2fx |" % (
        mb / cpu(o["skiff"]), mb / cpu(o["peer"]), cpu(o["peer"]) / cpu(o["skiff"])))
    notes.append("extraction: %.0f MB of tar; MB per CPU-second (user+sys, mean) and CPUs busy (CPU time / wall): "
                 "skiff %d workers %.0f (%.2f), skiff one worker %.0f (%.2f), tar -xzf %.0f (%.2f), gzip -dc | tar x on one CPU %.0f (%.2f)" % (
        mb, cores, mb / cpu(a["skiff"]), cpu(a["skiff"]) / a["skiff"]["mean"],
        mb / cpu(o["skiff"]), cpu(o["skiff"]) / o["skiff"]["mean"],
        mb / cpu(a["peer"]), cpu(a["peer"]) / a["peer"]["mean"],
        mb / cpu(o["peer"]), cpu(o["peer"]) / o["peer"]["mean"]))
if os.path.exists(warm):
    # Flat in image size: each image's time beside busybox's, in the ratio column.
    w = {x["command"]: x["median"] for x in json.load(open(warm))["results"]}
    print("| warm unpack (layers already stored), busybox (%s) | %s | - | - | - |" % (shape("small"), fmt(w["small"])))
    for img, label in (("big", "big image"), ("many", "many-layer image")):
        print("| warm unpack (layers already stored), %s (%s) | %s | same, busybox | %s | %.2fx |" % (
            label, shape(img), fmt(w[img]), fmt(w["small"]), w[img] / w["small"]))
if rss_s != "-":
    print("| peak RSS copying a %s MiB layer oci: -> registry | %s MiB | skopeo | %s MiB | %.2fx |" % (
        huge_mb, int(rss_s) // 1024, int(rss_k) // 1024, int(rss_s) / max(int(rss_k), 1)))
l = [float(x) for x in open(os.path.join(work, "load")).read().split()]
notes.append("load average (1 min) on %d cores: %.2f at start, %.2f to %.2f during, %.2f at end" % (
    os.cpu_count(), l[0], min(l), max(l), l[-1]))
print()
for n in notes:
    print(n)
PY
