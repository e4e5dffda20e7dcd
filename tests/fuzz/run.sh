#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS]: runs each fuzz target (coverage-guided, libFuzzer through
# cargo-fuzz) for SECONDS (default 60) on its seed corpus, one after the other on one core,
# and prints per target how many inputs ran and whether one crashed. Exits non-zero if any
# target crashed (a panic, an abort, a timeout or running out of memory); the input is copied
# to tests/fuzz/crashes/<target>/ and the message is printed.
#
#   FUZZ_TARGETS="crontab config"  only these targets (default: all three)
#   FUZZ_KEEP_CORPUS=1             keep what earlier runs found (see below)
#
# Each target runs on a fresh copy of tests/fuzz/seeds/<target>/ in tests/fuzz/corpus/<target>/
# (not in git), so a run of N seconds does the same work wherever it runs. With
# FUZZ_KEEP_CORPUS=1 the copy is topped up instead, and keeps growing: libFuzzer writes every
# input that found something, tens of thousands of files in a few minutes, all replayed at
# the start of the next run.
# Reproduce a crash with:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz --sanitizer none TARGET FILE
set -euo pipefail
cd "$(dirname "$0")/../.."

duration=${1:-60}
case $duration in
  '' | *[!0-9]*)
    echo "usage: $0 [SECONDS]" >&2
    exit 2
    ;;
esac
targets=${FUZZ_TARGETS:-crontab config crontab_input}
fuzz_dir=tests/fuzz

# libFuzzer needs nightly compiler flags (-Z); the stable compiler accepts them with this.
export RUSTC_BOOTSTRAP=1
# The repository's .cargo/config.toml sets linker flags for the release binaries; cargo-fuzz
# sets RUSTFLAGS of its own, which take the place of those, as intended.

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# No sanitizer: the code these targets reach is safe Rust, where AddressSanitizer only costs
# executions; panics, overflow checks and debug assertions (on in cargo-fuzz's default build)
# are what they catch.
build_flags=(--fuzz-dir "$fuzz_dir" --sanitizer none)
# shellcheck disable=SC2086
for target in $targets; do
  cargo fuzz build "${build_flags[@]}" "$target"
done

failed=0
summary=()
for target in $targets; do
  corpus=$fuzz_dir/corpus/$target
  artifacts=$fuzz_dir/artifacts/$target
  if [ "${FUZZ_KEEP_CORPUS:-0}" != 1 ]; then
    rm -rf "$corpus"
  fi
  mkdir -p "$corpus" "$artifacts"
  # libFuzzer names what it adds by content hash, so the seeds' names never collide with it.
  cp "$fuzz_dir/seeds/$target"/* "$corpus"/
  rm -f "$artifacts"/*
  log=$fuzz_dir/artifacts/$target.log
  echo "== fuzzing $target for ${duration}s (log: $log)"
  status=0
  # -timeout: one input taking 10 s is a finding, not a slow machine. -rss_limit_mb is
  # libFuzzer's default, written out. Only the first crash is kept: libFuzzer stops there.
  cargo fuzz run "${build_flags[@]}" "$target" "$corpus" -- \
    -max_total_time="$duration" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ -z "$runs" ]; then
    runs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
  fi
  found=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' \
    -o -name 'oom-*' -o -name 'leak-*' \) | head -n 1)
  if [ "$status" -eq 0 ] && [ -z "$found" ]; then
    summary+=("$target: ${runs:-?} executions in ${duration}s, no crash")
    continue
  fi
  failed=1
  if [ -n "$found" ]; then
    mkdir -p "$fuzz_dir/crashes/$target"
    cp "$found" "$fuzz_dir/crashes/$target/"
    saved=$fuzz_dir/crashes/$target/$(basename "$found")
    summary+=("$target: CRASH after ${runs:-?} executions: $saved")
  else
    summary+=("$target: FAILED (exit $status, no crash input; see $log)")
  fi
  echo "-- $target: the message (from $log):"
  # The panic message and libFuzzer's summary of the failure, without the stack.
  pattern="panicked at|^==[0-9]+== ERROR|SUMMARY: libFuzzer|ALARM|out-of-memory"
  if grep -q -E "$pattern" "$log"; then
    grep -E -A3 "$pattern" "$log" | head -n 30
  else
    tail -n 30 "$log"
  fi
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
