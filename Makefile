# takedown: the two commands a fresh Debian machine needs.
#   make run    install what is missing, build, start the service (SQLite) on a fresh data dir
#   make test   install what is missing, build (release and ASan+UBSan), run every test (the
#               store and service tests also on a throwaway PostgreSQL server) and a short
#               fuzz run, and the web console's browser test (Chromium)
# Other targets: build, asan, pg (the PostgreSQL tests alone), browser (the console's browser
# test alone), fuzz (longer fuzz run), bench, format, lint, clean.

BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_BUILD  ?= build-fuzz
TSAN_BUILD  ?= build-tsan
# The tests whose concurrency is checked under ThreadSanitizer.
TSAN_TESTS  ?= test_index test_body_signals test_package test_eorders_xml test_frank
JOBS        ?= $(shell nproc)
WERROR      ?= ON
CONFORMANCE ?= $(abspath $(CURDIR)/../shared/conformance)
RUN_DATA    ?= $(BUILD)/run-data
RUN_LISTEN  ?= 127.0.0.1:8080
FUZZ_SECONDS ?= 300
SMOKE_SECONDS ?= 5
BENCH_PHOTOS ?= /usr/share/wallpapers /usr/share/backgrounds
# bench_package's record size (MiB); its files go to $TMPDIR (default /tmp) and are deleted.
BENCH_PACKAGE_MIB ?= 1024

CMAKE_FLAGS = -DTD_WERROR=$(WERROR) -DTD_CONFORMANCE_DIR=$(CONFORMANCE)

.PHONY: all deps build run test asan tsan pg browser fuzz-build fuzz bench-deps bench format lint clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

# A fresh data directory each time: the server prints its URL and the admin key it creates.
run: build
	rm -rf $(RUN_DATA)
	$(BUILD)/takedown serve --data $(RUN_DATA) --listen $(RUN_LISTEN)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTD_SANITIZE=ON -DTD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)

tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTD_TSAN=ON -DTD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target $(TSAN_TESTS)

fuzz-build: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTD_FUZZ=ON -DTD_BENCH=OFF -DTD_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

test: build asan tsan fuzz-build
	scripts/lint.sh
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)
	TSAN_OPTIONS=halt_on_error=1 \
	  ctest --test-dir $(TSAN_BUILD) --output-on-failure -j$(JOBS) -R '^($(subst $(eval) ,|,$(TSAN_TESTS)))$$'
	$(PG_RUN)
	$(BROWSER_RUN)
	FUZZ_SEED=1 fuzz/run.sh $(FUZZ_BUILD) $(SMOKE_SECONDS)

# PostgreSQL: scripts/pg-test.sh starts a server of its own (temporary directory, 127.0.0.1, a
# free port), registers the *_pg tests in both builds (cmake -DTD_TEST_PG_URL=...), runs them and
# stops the server whatever the outcome (a trap).
PG_RUN = ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  scripts/pg-test.sh run $(BUILD) $(ASAN_BUILD)

pg: build asan
	$(PG_RUN)

# The web console in Chromium (tests/browser/*_test.js with their helpers in harness.js,
# docs/console.md): npm ci installs playwright-core from tests/browser/package-lock.json into
# $(BROWSER_DIR) (not the checkout), each test drives Debian's /usr/bin/chromium against a
# `takedown serve` of its own. Screenshots go to $(BROWSER_ARTIFACTS) (kept as test artifacts;
# TD_DOC_SCREENSHOTS=1 also refreshes docs/img/console-*.png). npm comes with NodeSource's
# nodejs (which conflicts with Debian's npm package): installed only if missing.
BROWSER_DIR = $(BUILD)/browser-test
BROWSER_ARTIFACTS ?= $(abspath $(BUILD))/browser-artifacts
BROWSER_RUN = { command -v npm >/dev/null 2>&1 || echo npm | scripts/install-deps.sh /dev/stdin; } && \
	  mkdir -p $(BROWSER_DIR) && \
	  cp tests/browser/package.json tests/browser/package-lock.json $(BROWSER_DIR)/ && \
	  (cd $(BROWSER_DIR) && npm ci --ignore-scripts --no-audit --no-fund) && \
	  for t in tests/browser/*_test.js; do \
	    echo "== $$t"; \
	    NODE_PATH=$(abspath $(BROWSER_DIR))/node_modules TD_BROWSER_ARTIFACTS=$(BROWSER_ARTIFACTS) \
	      node $$t $(BUILD)/takedown || exit 1; \
	  done

browser: build
	$(BROWSER_RUN)

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench-deps: deps
	@scripts/install-deps.sh scripts/bench-packages.txt

bench: bench-deps build
	$(BUILD)/bench/bench_pdq $(BENCH_PHOTOS)
	$(BUILD)/bench/index/bench_index
	$(BUILD)/bench/serve/bench_serve --signals 1000000 $(BENCH_PHOTOS)
	$(BUILD)/bench/serve/bench_eorder_preserve --orders 200 --concurrency 8
	$(BUILD)/bench/evidence/bench_package --mib $(BENCH_PACKAGE_MIB)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	scripts/lint.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
