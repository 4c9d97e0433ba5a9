#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 60) and prints, per target,
# the executions libFuzzer made and whether it found a crash (the input is then saved under
# fuzz/artifacts/<target>/; turn it into a regression test beside the parser and fix it).
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     JOBS=N runs N targets at once (default: nproc)
# The committed seeds in fuzz/corpus/<target>/ are read, never written: new inputs go to a
# scratch corpus under the target directory (scripts/fuzz-corpus.sh rebuilds the seeds).
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
jobs=${JOBS:-$(nproc)}
target_dir=${CARGO_TARGET_DIR:-$PWD/fuzz/target}/fuzz
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')

( cd fuzz && CARGO_TARGET_DIR=$target_dir cargo +nightly fuzz build ) >&2 || exit 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi
logs=$target_dir/logs
mkdir -p "$logs" fuzz/artifacts

run_one() {
  local t=$1 work=$target_dir/corpus/$1 seeds=()
  mkdir -p "$work" "fuzz/artifacts/$t"
  # A target without committed seeds starts from an empty corpus (libFuzzer exits on a
  # corpus directory that does not exist).
  [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
  "$target_dir/$triple/release/$t" "$work" "${seeds[@]}" \
    -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="fuzz/artifacts/$t/" >"$logs/$t.log" 2>&1
  echo $? >"$logs/$t.rc"
}

running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

status=0
printf '%-20s %14s %8s  %s\n' target executions exec/s result
for t in "${targets[@]}"; do
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)
  rc=$(cat "$logs/$t.rc")
  if [ "$rc" = 0 ]; then result=ok; else
    result="CRASH (rc $rc; see $logs/$t.log and fuzz/artifacts/$t/)"; status=1
  fi
  printf '%-20s %14s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "$result"
done
exit $status
