#!/bin/sh
# Runs every libFuzzer target of BUILD_DIR for SECONDS each, starting from the
# committed seed corpus (fuzz/corpus/<target>/) and dictionary (fuzz/<target>.dict).
# New inputs go to a scratch corpus so the committed one changes only by hand.
#
# FUZZ_SEED (default 0: libFuzzer picks one and prints it) and FUZZ_RUNS
# (default -1: no limit) are passed through, to replay a failure's seed.
# FUZZ_JOBS targets run at once (default 2, the cores make check assumes):
# each is one process, so two of them use both cores for half the time.
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
jobs=${FUZZ_JOBS:-2}
cd "$(dirname "$0")/.."

# Runs one target; prints its lines at once when it ends, so that the
# output of targets run side by side does not interleave.
run_one() {
  bin=$1
  name=$(basename "$bin" | sed 's/^fuzz_//')
  work=$(mktemp -d)
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/"
  dict=""
  [ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
  # shellcheck disable=SC2086
  if ! "$bin" -max_total_time="$seconds" -seed="$seed" -runs="$runs" -rss_limit_mb=2048 -print_final_stats=0 $dict \
      -artifact_prefix="$work/" "$work" >"$work/log" 2>&1; then
    {
      echo "fuzz: $name for ${seconds}s (seed $seed, 0: random; runs $runs, -1: no limit)"
      grep -m1 "Seed:" "$work/log" || true
      tail -n 40 "$work/log"
      echo "fuzz: $name FAILED (artifacts in $work)"
    } >"$work/report"
    cat "$work/report"
    return 1
  fi
  echo "fuzz: $name for ${seconds}s (seed $seed): $(tail -n 1 "$work/log")"
  rm -rf "$work"
}

bins=""
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] && bins="$bins $bin"
done
if [ -z "$bins" ]; then
  echo "fuzz: no targets built"
  exit 0
fi
failed=0
pids=""
for bin in $bins; do
  run_one "$bin" &
  pids="$pids $!"
  # At most $jobs at once: wait for the oldest before starting another.
  # shellcheck disable=SC2086 # the pids are words
  set -- $pids
  if [ $# -ge "$jobs" ]; then
    wait "$1" || failed=1
    shift
    pids="$*"
  fi
done
for pid in $pids; do
  wait "$pid" || failed=1
done
exit $failed
