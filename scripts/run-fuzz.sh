#!/bin/sh
# Runs every libFuzzer target of BUILD_DIR for SECONDS each, starting from the
# committed seed corpus (fuzz/corpus/<target>/) and dictionary (fuzz/<target>.dict).
# New inputs go to a scratch corpus so the committed one changes only by hand.
#
# FUZZ_SEED (default 0: libFuzzer picks one and prints it) and FUZZ_RUNS
# (default -1: no limit) are passed through, to replay a failure's seed.
# Runs are not exactly repeatable even so: the store's background threads
# add coverage at their own pace, which steers the mutations. `make check`
# runs each target briefly; `make fuzz-long` runs each for minutes, and is
# meant to be run before landing a change to a parser (a 20-second run in CI
# once found what twenty minutes here had not).
set -eu
build=${1:-build-fuzz}
seconds=${2:-20}
seed=${FUZZ_SEED:-0}
runs=${FUZZ_RUNS:--1}
cd "$(dirname "$0")/.."
found=0
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  found=1
  name=$(basename "$bin" | sed 's/^fuzz_//')
  work=$(mktemp -d)
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/"
  dict=""
  [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
  echo "fuzz: $name for ${seconds}s (seed $seed, 0: random; runs $runs, -1: no limit)"
  # shellcheck disable=SC2086
  if ! "$bin" -max_total_time="$seconds" -seed="$seed" -runs="$runs" -rss_limit_mb=2048 -print_final_stats=0 $dict \
      -artifact_prefix="$work/" "$work" >"$work/log" 2>&1; then
    grep -m1 "Seed:" "$work/log" || true
    tail -n 40 "$work/log"
    echo "fuzz: $name FAILED (artifacts in $work)"
    exit 1
  fi
  tail -n 1 "$work/log"
  rm -rf "$work"
done
[ "$found" = 1 ] || echo "fuzz: no targets built"
