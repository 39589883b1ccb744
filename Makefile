# skiff: build, try, test, check, benchmark.
#   make demo   build, make a busybox image, unpack it into a bundle, run it with skiff
#   make test   unit tests + the black-box spec-tests (installs missing apt packages as root)
#   make check  rustfmt and clippy, warnings are errors
#   make bench  skiff beside runc and crun, skiff-image beside skopeo and umoci, the shim
#               beside containerd's runc shim, podman on each runtime (bench/)
#   make fuzz   the cargo-fuzz targets (nightly), FUZZ_SECONDS each

CARGO ?= cargo
SKIFF ?= $(CURDIR)/target/release/skiff
# Packages the tests and benchmarks drive (runc is the behaviour reference).
TEST_PKGS := runc crun busybox-static bats hyperfine iproute2 uidmap time util-linux \
	docker-registry apache2-utils openssl skopeo umoci containerd
DEMO_PKGS := busybox-static

# skiff-image interop tests: `podman load` and a private dockerd's `docker load`.
TEST_PKGS += podman docker.io

.PHONY: all build demo demo-run test deps-test check bench bench-run fuzz clean

all: build

build:
	$(CARGO) build --release --workspace

# Install the packages in $(1) that are missing, when root; apt-get update only
# if a plain install fails (fresh machine, stale lists). A policy-rc.d that
# refuses service starts is in place during the install, so packages such as
# docker.io and containerd never start the host's daemons (tests start their
# own, on private sockets and state dirs).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; export DEBIAN_FRONTEND=noninteractive; \
	    policy=""; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy=1; fi; \
	    opts="-y -qq --no-install-recommends"; \
	    apt-get install $$opts $$missing >/dev/null 2>&1 || { apt-get update -qq && apt-get install $$opts $$missing; }; \
	    rc=$$?; [ -z "$$policy" ] || rm -f /usr/sbin/policy-rc.d; [ $$rc = 0 ] || exit $$rc; \
	  else echo "warning: missing packages:$$missing (install them, or run as root)" >&2; fi; \
	fi
endef

demo: build demo-run

# An image made from the host's busybox-static (no network): a rootfs tar,
# `skiff-image import` into a private store, `skiff-image unpack` into an
# overlay bundle, `skiff run`, then the bundle and store are removed.
SKIFF_IMAGE ?= $(CURDIR)/target/release/skiff-image
demo-run:
	$(call apt_install,$(DEMO_PKGS))
	@set -eu; d=$$(mktemp -d /tmp/skiff-demo.XXXXXX); \
	trap '$(SKIFF) --root "$$d/state" delete --force skiff-demo >/dev/null 2>&1 || true; \
	  $(SKIFF_IMAGE) --root "$$d/store" rm-bundle "$$d/bundle" >/dev/null 2>&1 || true; rm -rf "$$d"' EXIT; \
	mkdir -p "$$d/rootfs/bin"; cp /bin/busybox "$$d/rootfs/bin/busybox"; \
	for a in $$(/bin/busybox --list); do [ "$$a" = busybox ] || ln -s busybox "$$d/rootfs/bin/$$a"; done; \
	tar -C "$$d/rootfs" -cf "$$d/rootfs.tar" .; \
	echo "+ skiff-image import rootfs.tar skiff-demo/busybox:latest"; \
	$(SKIFF_IMAGE) --root "$$d/store" import "$$d/rootfs.tar" skiff-demo/busybox:latest; \
	echo "+ skiff-image unpack skiff-demo/busybox $$d/bundle sh -c ..."; \
	$(SKIFF_IMAGE) --root "$$d/store" unpack --hostname skiff-demo skiff-demo/busybox "$$d/bundle" \
	  sh -c 'echo hello from a skiff container; echo pid $$$$ on host $$(hostname) as $$(id -u):$$(id -g); ls /'; \
	echo "+ skiff run --bundle $$d/bundle skiff-demo"; \
	$(SKIFF) --root "$$d/state" run --bundle "$$d/bundle" skiff-demo; \
	echo "+ exit status $$?"

deps-test:
	$(call apt_install,$(TEST_PKGS))
	@command -v python3 >/dev/null || echo "warning: python3 missing (bench and demo use it)" >&2

# Unit tests of every crate, then spec-tests against the release skiff.
test: deps-test build
	SKIFF_RUNTIME=$${SKIFF_RUNTIME:-$(SKIFF)} $(CARGO) test --workspace --release --no-fail-fast

check:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench: build bench-run

bench-run:
	$(call apt_install,hyperfine time busybox-static runc crun skopeo umoci docker-registry curl containerd podman)
	SKIFF_RUNTIME=$(SKIFF) bench/runtime.sh
	SKIFF_IMAGE=$(CURDIR)/target/release/skiff-image bench/image.sh
	SKIFF_RUNTIME=$(SKIFF) bench/clients.sh

# cargo-fuzz targets (nightly toolchain and `cargo install cargo-fuzz`); new
# corpus entries land in runtime/fuzz/corpus/, which `make test` replays.
FUZZ_SECONDS ?= 600
fuzz:
	cd runtime/fuzz && for t in config seccomp; do \
	  cargo +nightly fuzz run -O $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536 || exit 1; \
	  cargo +nightly fuzz cmin -O $$t corpus/$$t; done

clean:
	$(CARGO) clean
