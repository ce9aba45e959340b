# ERMFS: two commands for a new user, `make run` and `make test`.
SWIFT    ?= swift
# Every package under Packages/ is built and tested; a new layer only adds its folder.
PACKAGES := $(patsubst %/Package.swift,%,$(sort $(wildcard Packages/*/Package.swift)))
TOOL     := Tools/.build/release/ermfs-tool
DEMO_ARGS ?=

.PHONY: all deps build test test-packages test-sanitizers test-integration run bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@for p in $(PACKAGES); do \
	  echo "== build $$p"; $(SWIFT) build --package-path $$p || exit 1; done
	@echo "== build Tools (release)"; $(SWIFT) build -c release --package-path Tools

test: deps test-packages test-sanitizers test-integration

# ErmCore's suites run twice: in the default (locked) mode and in the lock-free mode.
ERMCORE  := Packages/ErmCore
test-packages:
	@for p in $(PACKAGES); do \
	  echo "== test $$p"; $(SWIFT) test --package-path $$p || exit 1; done
	@echo "== test $(ERMCORE) (lock-free mode)"; ERMCORE_TEST_LOCKING=lockless $(SWIFT) test --package-path $(ERMCORE)

# The lock-free structures again under ThreadSanitizer and AddressSanitizer (own build
# folders; iterations x0.1). XCTest on Linux leaks its own test objects, so LeakSanitizer
# is off: ErmLockless's leak tests count instances and the reclamation backlog instead.
# ErmCore's lock-free race and leak tests run under ThreadSanitizer too (only those that
# write no file contents: TSan does not see the contents lock's Synchronization.Mutex).
LOCKLESS := Packages/ErmLockless
test-sanitizers:
	@echo "== test $(LOCKLESS) (thread sanitizer)"; ERMLOCKLESS_TEST_SCALE=0.1 TSAN_OPTIONS=halt_on_error=1 \
	  $(SWIFT) test --package-path $(LOCKLESS) --scratch-path $(LOCKLESS)/.build-tsan --sanitize=thread
	@echo "== test $(LOCKLESS) (address sanitizer)"; ERMLOCKLESS_TEST_SCALE=0.1 ASAN_OPTIONS=detect_leaks=0 \
	  $(SWIFT) test --package-path $(LOCKLESS) --scratch-path $(LOCKLESS)/.build-asan --sanitize=address
	@echo "== test $(ERMCORE) lock-free races and leaks (thread sanitizer, trait Lockless)"; \
	  ERMCORE_TEST_SCALE=0.1 ERMCORE_EXPECT_DEFAULT_LOCKING=lockless TSAN_OPTIONS=halt_on_error=1 \
	  $(SWIFT) test --package-path $(ERMCORE) --scratch-path $(ERMCORE)/.build-tsan --sanitize=thread \
	  --traits Lockless --filter 'NamespaceRaceTests|LeakTests|LockingModeTests'

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
	@rm -rf $(LOCKLESS)/.build-tsan $(LOCKLESS)/.build-asan $(ERMCORE)/.build-tsan
