# The two commands a newcomer types: `make demo` and `make check`.
# Everything else is CMake; this file only chains the steps.
JOBS ?= 2
BUILD ?= build
RELEASE_BUILD ?= build-release
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 20
FUZZ_LONG_SECONDS ?= 300

.PHONY: all deps deps-check build build-release build-asan build-fuzz check test test-asan torture fuzz fuzz-long demo layers clean

all: build

deps:
	@scripts/install-deps.sh build

deps-check:
	@scripts/install-deps.sh check

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# What a packager builds (-DCMAKE_BUILD_TYPE=Release: -O3, asserts off): make
# check builds the program and every library module with it, so that
# warnings only the optimiser finds fail here (the tests are built and run
# in the other two builds).
build-release: deps-check
	cmake -S . -B $(RELEASE_BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(RELEASE_BUILD) -j$(JOBS) --target mesura

build-asan: deps-check
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMESURA_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)

build-fuzz: deps-check
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMESURA_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j$(JOBS)

# The layer check reads the compiler's include graph from the configured
# build's compile_commands.json.
layers: deps-check
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@scripts/check-layers.sh $(BUILD)

test: deps-check build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# Under the sanitizers ctest also runs the allocation-failure tests
# (tests/torture/: each operation with its Nth allocation refused, for every N).
test-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS)

# The allocation-failure tests alone.
torture: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) -L torture

fuzz: build-fuzz
	@scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Minutes per target, to find what the short runs of make check do not.
fuzz-long: build-fuzz
	@scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_LONG_SECONDS)

check: layers test build-release test-asan fuzz
	@echo "make check: all green"

demo: build
	./$(BUILD)/mesura demo

clean:
	rm -rf $(BUILD) $(RELEASE_BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
