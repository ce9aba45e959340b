# ERMFS: two commands for a new user, `make run` and `make test`.
SWIFT    ?= swift
# Every package under Packages/ is built and tested; a new layer only adds its folder.
PACKAGES := $(patsubst %/Package.swift,%,$(sort $(wildcard Packages/*/Package.swift)))
TOOL     := Tools/.build/release/ermfs-tool
DEMO_ARGS ?=

.PHONY: all deps build test test-packages test-integration run bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@for p in $(PACKAGES); do \
	  echo "== build $$p"; $(SWIFT) build --package-path $$p || exit 1; done
	@echo "== build Tools (release)"; $(SWIFT) build -c release --package-path Tools

test: deps test-packages test-integration

test-packages:
	@for p in $(PACKAGES); do \
	  echo "== test $$p"; $(SWIFT) test --package-path $$p || exit 1; done

test-integration: deps
	@echo "== build Tools (release)"; $(SWIFT) build -c release --package-path Tools
	@echo "== integration tests"; Tests/run.sh $(TOOL)

run: deps
	@$(SWIFT) build -c release --package-path Tools
	$(TOOL) demo $(DEMO_ARGS)

# Benchmarks are scripts/bench/*.sh, run in order; results go to docs/BENCHMARKS.md by hand.
bench: deps
	@$(SWIFT) build -c release --package-path Tools
	@for b in $(sort $(wildcard scripts/bench/*.sh)); do echo "== $$b"; $$b || exit 1; done

clean:
	@for p in $(PACKAGES) Tools; do rm -rf $$p/.build; done
