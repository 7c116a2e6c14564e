# hublake: see README.md. `make demo` and `make test` work on a fresh machine
# with Go, gcc and Node: they install what they need under .tools/ and start
# and stop their own services.

SHELL := /bin/bash
GO    ?= go
TOOLS := $(CURDIR)/.tools
BIN   := $(CURDIR)/bin
export GOBIN := $(TOOLS)/bin
export PATH := $(TOOLS)/bin:$(PATH)

STATICCHECK_VERSION := v0.8.2
FUZZTIME ?= 3s

.PHONY: all build test lint unit fuzz-smoke demo bench clean

all: build

build:
	$(GO) build -o $(BIN)/hublake ./cmd/hublake

$(TOOLS)/bin/staticcheck:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(TOOLS)/bin/staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	staticcheck ./...

unit:
	$(GO) test -count=1 ./...

# Each fuzz target runs briefly; the corpus they found lives in testdata/fuzz.
fuzz-smoke:
	@set -e; for pkg in ./schema ./processor; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

test: lint unit fuzz-smoke

demo: build
	./scripts/demo.sh

clean:
	rm -rf $(BIN) lake
