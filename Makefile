# Two commands: `make run` (install what is missing, build, show the server
# working on the demo warehouse) and `make test` (build everything and pass
# every test, including the sanitizer builds and a short fuzzing pass).
# CMake does the real work; these targets only sequence it.

JOBS ?= 2
BUILD ?= build
CMAKE ?= cmake
FUZZ_SECONDS ?= 20

.PHONY: all build run test deps deps-test unit asan tsan fuzz e2e-deps bench format clean

all: build

deps:
	@scripts/install-deps.sh build

deps-test:
	@scripts/install-deps.sh test

build: deps
	@$(CMAKE) -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@$(CMAKE) --build $(BUILD)/release -j $(JOBS)

run: build
	@scripts/demo.sh $(BUILD)/release/snowflake-mcp

e2e-deps:
	@cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	@cd tests/conformance && npm ci --no-audit --no-fund --loglevel=error

# Release build: every test. ASan+UBSan build: every test. TSan build: the
# concurrent ones. Fuzz build: each target for FUZZ_SECONDS.
test: deps-test e2e-deps
	@$(CMAKE) -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@$(CMAKE) --build $(BUILD)/release -j $(JOBS)
	@cd $(BUILD)/release && ctest --output-on-failure -j $(JOBS)
	@$(CMAKE) -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=Debug -DSMCP_SANITIZE=asan >/dev/null
	@$(CMAKE) --build $(BUILD)/asan -j $(JOBS)
	@cd $(BUILD)/asan && ctest --output-on-failure -j $(JOBS)
	@$(CMAKE) -S . -B $(BUILD)/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMCP_SANITIZE=tsan >/dev/null
	@$(CMAKE) --build $(BUILD)/tsan -j $(JOBS)
	@cd $(BUILD)/tsan && ctest --output-on-failure -j $(JOBS) -L concurrent
	@CC=clang $(CMAKE) -S . -B $(BUILD)/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMCP_FUZZ=ON \
		-DSMCP_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@$(CMAKE) --build $(BUILD)/fuzz -j $(JOBS) --target fuzzers
	@cd $(BUILD)/fuzz && ctest --output-on-failure -L fuzz

# The C benchmarks, then many SDK clients on one daemon against the
# Snowflake emulator (needs node and tests/e2e's packages).
bench: deps-test e2e-deps build
	@for b in $(BUILD)/release/bench_*; do echo "== $$b"; $$b; done
	@echo "== bench/clients_bench.mjs"
	@SMCP_BIN=$(BUILD)/release/snowflake-mcp node bench/clients_bench.mjs

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
