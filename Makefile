# hublake: see README.md. `make demo` and `make test` work on a fresh machine
# with Go, gcc and Node: they install what they need under .tools/ and start
# and stop their own services.

SHELL := /bin/bash
GO    ?= go
TOOLS := $(CURDIR)/.tools
BIN   := $(CURDIR)/bin
export GOBIN := $(TOOLS)/bin
export PATH := $(TOOLS)/bin:$(PATH)
# Every build is -trimpath, as the image's is, so the standard library and the
# dependencies that do not depend on cgo compile once for the tests, the
# tools and the static binary: a cold `make test` compiles less.
export GOFLAGS := -trimpath $(filter-out -trimpath,$(GOFLAGS))

STATICCHECK_VERSION := v0.8.2
VERSITYGW_VERSION   := v1.8.0
FUZZTIME ?= 3s

.PHONY: all build static tools test lint unit fuzz-smoke vulncheck demo bench chaos clean deploy-test docs

all: build

build:
	$(GO) build -o $(BIN)/hublake ./cmd/hublake

# The binary the container image holds (deploy/Dockerfile's build stage runs
# the same command; deploy/'s tests keep the two equal), checked to be static
# and to run.
static:
	VERSION=$${VERSION:-$$(git describe --tags --always --dirty 2>/dev/null)} && \
	REVISION=$${REVISION:-$$(git rev-parse HEAD 2>/dev/null)} && \
	CGO_ENABLED=0 GOOS=$$($(GO) env GOOS) GOARCH=$$($(GO) env GOARCH) $(GO) build -trimpath -ldflags "-s -w -X main.version=$$VERSION -X main.revision=$$REVISION" -o $(BIN)/hublake-static ./cmd/hublake
	$(GO) version -m $(BIN)/hublake-static | grep -q 'CGO_ENABLED=0' || { echo "$(BIN)/hublake-static: not built with CGO_ENABLED=0"; exit 1; }
	if command -v ldd >/dev/null; then ldd $(BIN)/hublake-static 2>&1 | grep -q 'not a dynamic executable' || { echo "$(BIN)/hublake-static is dynamically linked"; exit 1; }; fi
	$(BIN)/hublake-static --version

$(TOOLS)/bin/staticcheck:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(TOOLS)/bin/versitygw:
	$(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

$(TOOLS)/node_modules/.installed:
	npm install --prefix $(TOOLS) --no-audit --no-fund --no-save kinesis-local@0.6.2 dynalite@4.0.0
	touch $@

# The CloudFormation resource specification deploy/'s tests validate the
# template against. Its own prefix: an `npm install --no-save` into .tools
# would prune the packages above.
CFNSPEC_VERSION := 2.72.1
$(TOOLS)/cfnspec/node_modules/.installed:
	npm install --prefix $(TOOLS)/cfnspec --no-audit --no-fund --no-save @aws-cdk/cfnspec@$(CFNSPEC_VERSION)
	touch $@

# The independent Parquet readers internal/pqconform's tests read every
# object with: hyparquet (JavaScript, prunes pages by the page index; its
# compressors for ZSTD) and arrow-rs (parquet-wasm, read through Arrow IPC by
# apache-arrow). Their own prefix, as cfnspec's.
PQREADERS := hyparquet@1.31.5 hyparquet-compressors@1.1.2 parquet-wasm@0.8.0 apache-arrow@21.2.0
$(TOOLS)/pqreaders/node_modules/.installed:
	npm install --prefix $(TOOLS)/pqreaders --no-audit --no-fund --no-save $(PQREADERS)
	touch $@

# The local stand-ins for Kinesis, DynamoDB and S3, the linters and the
# Parquet readers.
tools: $(TOOLS)/bin/staticcheck $(TOOLS)/bin/versitygw $(TOOLS)/node_modules/.installed $(TOOLS)/cfnspec/node_modules/.installed $(TOOLS)/pqreaders/node_modules/.installed

lint: $(TOOLS)/bin/staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	staticcheck ./...

unit: tools
	HUBLAKE_REQUIRE_STACK=1 $(GO) test -count=1 -timeout 15m ./...

# Each fuzz target runs briefly; the corpus they found lives in testdata/fuzz.
fuzz-smoke:
	@set -e; for pkg in ./schema ./units ./layout ./current; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# A cold run (fresh clone, empty Go build and module caches) measured 9m11s
# on 2 cores: lint 2.7 min (it compiles everything once), versitygw and the
# tests 3.9, fuzz smoke 2.6 (an instrumented build of every dependency of the
# fuzzed packages). Building the tools and the fuzz smoke side by side
# (make -j2) saved only 12 s: each keeps the two cores busy on its own.
test: lint unit fuzz-smoke

# The docs' generated sections (flags, metrics, sizing, columns, ...) rewritten
# from the code; `make test` fails while one differs (cmd/hublake TestDocs).
docs:
	$(GO) test ./cmd/hublake -run 'TestDocs$$' -count=1 -update

# Known vulnerabilities in the code paths hublake uses, from the Go
# vulnerability database (needs network access, so not part of make test).
GOVULNCHECK_VERSION := v1.9.0
vulncheck:
	$(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) ./...

# The deployment's tests alone: template, IAM, Glue columns, static image binary.
deploy-test: $(TOOLS)/cfnspec/node_modules/.installed
	HUBLAKE_REQUIRE_STACK=1 $(GO) test -count=1 ./deploy/...

# The chaos tests (cmd/hublake/chaos_test.go: consumers, overlapping and
# killed compactions and a paging reader on versitygw behind a proxy failing
# 5 % of the requests; compaction and backfill at 5 % faults) as a soak:
# longer and over several seeds. `make test` runs them once, seed 1, 25 s.
CHAOS_SEEDS    ?= 1,2,3,4,5
CHAOS_DURATION ?= 3m
chaos: tools
	HUBLAKE_REQUIRE_STACK=1 HUBLAKE_CHAOS_SEEDS=$(CHAOS_SEEDS) HUBLAKE_CHAOS_DURATION=$(CHAOS_DURATION) \
	  $(GO) test -count=1 -timeout 90m -v -run 'TestCompactChaos|TestCompactFaults|TestBackfillS3Faults' ./cmd/hublake

# hublake backfill against DuckDB on the same generated corpus, alternating
# over rounds; the consumer on the local stack; the Go benchmarks. Results in
# .bench/report.md (BENCHMARKS.md holds a committed run).
BENCH_BYTES  ?= 200MB
BENCH_ROUNDS ?= 3
bench: build tools
	$(GO) build -o $(BIN)/duckref ./internal/tools/duckref
	$(GO) run ./internal/tools/bench -bytes $(BENCH_BYTES) -rounds $(BENCH_ROUNDS) -hublake $(BIN)/hublake -duckref $(BIN)/duckref -tools $(TOOLS)

demo: build tools
	./scripts/demo.sh

clean:
	rm -rf $(BIN) lake
