#!/usr/bin/env bash
# Real-hardware checks and captures, for a session that is lent an NVIDIA machine (which has no
# Rust toolchain). Two steps:
#
#   scripts/gpu-check.sh prepare     # here: builds the static nvprobe, nvprobe-shim and the
#                                    # test-gpu test binary into .gpu-bundle/ (git-ignored)
#   scripts/gpu-check.sh run OUTDIR  # there, in the repo root with .gpu-bundle carried:
#                                    # runs the test-gpu tests, the probe (plain, --deep,
#                                    # --cross-check), captures bundles, nvidia-smi -q -x,
#                                    # and the benchmark, writing everything under OUTDIR
#
# With the device tool: run(command="scripts/gpu-check.sh run $OUT", carry=[".gpu-bundle"]).
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=.gpu-bundle

case "${1:-}" in
prepare)
  set -e
  rm -rf "$bundle" && mkdir -p "$bundle"
  cp "$(scripts/build-static.sh)" "$bundle/nvprobe"
  cargo build --release -p nvprobe-shim >&2
  cp "${CARGO_TARGET_DIR:-target}/release/nvprobe-shim" "$bundle/"
  test_bin=$(cargo test -p nvprobe --features test-gpu --test gpu --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="gpu" and m.get("executable"): print(m["executable"])')
  cp "$test_bin" "$bundle/gpu-tests"
  python3 scripts/bench --build-tools "$bundle/bench-tools"
  ls -la "$bundle" >&2
  ;;
run)
  out=${2:?usage: scripts/gpu-check.sh run OUTDIR}
  mkdir -p "$out"
  export NVPROBE_BIN="$PWD/$bundle/nvprobe" NVPROBE_SHIM="$PWD/$bundle/nvprobe-shim"
  {
    echo "== uname"; uname -a
    echo "== /proc/driver/nvidia/version"; cat /proc/driver/nvidia/version 2>&1
    echo "== test-gpu"; "$bundle/gpu-tests" --test-threads=1 2>&1
  } > "$out/gpu-tests.log" 2>&1
  "$NVPROBE_BIN" --json > "$out/report.json" 2> "$out/report.err"
  "$NVPROBE_BIN" --json --deep > "$out/report-deep.json" 2>> "$out/report.err"
  "$NVPROBE_BIN" --json --cross-check > "$out/report-crosscheck.json" 2>> "$out/report.err"
  "$NVPROBE_BIN" --deep --cross-check > "$out/report.txt" 2>> "$out/report.err"
  nvidia-smi -q -x > "$out/nvidia-smi.xml" 2>&1
  tmp=$(mktemp -d)
  # A capture's copy shares the run's deadline: give it time, so the bundle is whole.
  "$NVPROBE_BIN" --deep --cross-check --timeout 30000 capture --out "$tmp/capture-deep" > /dev/null 2>> "$out/report.err"
  "$NVPROBE_BIN" --timeout 30000 capture --out "$tmp/capture" > /dev/null 2>> "$out/report.err"
  tar -C "$tmp" -czf "$out/captures.tgz" capture capture-deep
  python3 scripts/bench --bin "$NVPROBE_BIN" --tools "$bundle/bench-tools" > "$out/bench.txt" 2>&1
  tail -3 "$out/gpu-tests.log"
  ;;
*)
  sed -n '2,13p' "$0" >&2
  exit 2
  ;;
esac
