# kvet: two commands do everything.
#   make run    set up what is missing (QEMU), build kvet, run the default matrix
#   make test   set up what is missing, run every test, real guests included
SHELL := /bin/bash
GO ?= go
BIN := bin/kvet
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Integration tests are required (fail instead of skip) in CI.
ifeq ($(CI),true)
REQUIRE := KVET_REQUIRE_INTEGRATION=1
endif
APT_GET := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: all build run test unit lint deps deps-test deps-kernel-build agreement clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kvet

# QEMU from the system's package manager when it is missing.
deps:
	@command -v qemu-system-x86_64 >/dev/null || { \
	  echo "installing qemu-system-x86 (apt-get)"; \
	  $(APT_GET) update -q && $(APT_GET) install -y -q --no-install-recommends qemu-system-x86; }

# The tests also open the HTML report in a headless Chromium, and check the
# scenarios against the reference tools, run in the guest through exec:
# cyclictest and hackbench (rt-tests), sockperf, and busybox as the shell
# for script entries.
TEST_TOOLS := /usr/bin/chromium:chromium /usr/bin/cyclictest:rt-tests \
	/usr/bin/sockperf:sockperf /bin/busybox:busybox-static
deps-test: deps
	@missing=; for t in $(TEST_TOOLS); do [ -x $${t%%:*} ] || missing="$$missing $${t#*:}"; done; \
	[ -z "$$missing" ] || { echo "installing$$missing (apt-get)"; \
	  $(APT_GET) install -y -q --no-install-recommends $$missing || \
	  { $(APT_GET) update -q && $(APT_GET) install -y -q --no-install-recommends $$missing; }; }

# Building a kernel from source (kvet kernels build, source: in a matrix)
# needs a compiler and the kernel's build tools; the tests build Debian's
# linux-source tree.
KERNEL_SOURCE := linux-source-6.12
deps-kernel-build:
	@for c in gcc make flex bison bc; do command -v $$c >/dev/null || missing=1; done; \
	[ -e /usr/include/libelf.h ] || missing=1; \
	ls /usr/src/$(KERNEL_SOURCE).tar.* >/dev/null 2>&1 || missing=1; \
	if [ -n "$$missing" ]; then \
	  echo "installing kernel build tools and $(KERNEL_SOURCE) (apt-get)"; \
	  $(APT_GET) install -y -q --no-install-recommends gcc make flex bison bc libelf-dev libssl-dev $(KERNEL_SOURCE) || \
	  { $(APT_GET) update -q && $(APT_GET) install -y -q --no-install-recommends gcc make flex bison bc libelf-dev libssl-dev $(KERNEL_SOURCE); }; fi

# Run kvet's main job: the embedded default matrix. ARGS adds flags,
# e.g. make run ARGS='--boots 5'.
run: deps build
	@$(BIN) run $(ARGS) || { rc=$$?; [ $$rc -ne 1 ] || echo "kvet: exit 1: a candidate kernel regressed or failed; the answer is above"; exit $$rc; }

# The packages' own real-kernel tests get Debian kernels through kvet's own
# archive client (signature and checksums verified, cached). -count=1: the
# integration tests run a kvet they build themselves, which Go's test cache
# cannot see, so a cached pass could hide a change to kvet. The agreement
# with the reference tools runs last, alone: it measures, and the other
# packages' tests boot guests of their own.
TEST_KERNELS := linux-image-cloud-amd64 linux-image-6.12-cloud-amd64
TEST_ENV = debs=$$($(BIN) kernels fetch --deb-only $(TEST_KERNELS)) && \
	export KVET_TEST_DEBS=$$(echo "$$debs" | paste -sd:) KVET_TEST_DEB=$$(echo "$$debs" | tail -n 1)
AGREEMENT = $(REQUIRE) $(GO) test -count=1 -timeout 20m -run '^TestAgreement$$' -v ./integration
test: deps-test deps-kernel-build build
	$(TEST_ENV) && \
	$(REQUIRE) $(GO) test -count=1 -timeout 40m -skip '^TestAgreement$$' ./... && \
	$(AGREEMENT)

# Only the agreement: kvet's timer and tcp-rr against cyclictest and
# sockperf in the same guests, four boots, judged (p50 within 15%, p99
# within 25%, in 3 of 4 boots).
agreement: deps-test build
	$(TEST_ENV) && $(AGREEMENT)

# Unit tests only: no QEMU, no downloads.
unit:
	$(GO) test -short ./...

# The statistics simulation in full: A/A false alarms and the power to find
# a 20% shift, 1000 seeded runs per cell (about ten minutes on 2 cores).
.PHONY: power
power:
	KVET_POWER_RUNS=1000 $(GO) test -run '^TestPower(Adaptive)?$$' -v -timeout 3h ./results

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
