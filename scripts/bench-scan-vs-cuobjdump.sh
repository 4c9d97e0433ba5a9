#!/bin/sh
# Times `nvprobe scan` against `cuobjdump --list-elf --list-ptx` on each file given (real NVIDIA
# libraries, e.g. from PyPI wheels unpacked under /tmp: never commit them), and prints one line
# per file: best of N runs each, and the ratio. A measurement, never a test.
#
#   scripts/bench-scan-vs-cuobjdump.sh [-n RUNS] FILE...
# Environment: NVPROBE (default target/release/nvprobe), CUOBJDUMP (default cuobjdump).
set -eu
runs=3
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
nvprobe=${NVPROBE:-target/release/nvprobe}
cuobjdump=${CUOBJDUMP:-cuobjdump}
[ -x "$nvprobe" ] || { echo "no $nvprobe: cargo build --release -p nvprobe" >&2; exit 2; }

# Best wall-clock milliseconds of $runs runs of the command.
best_ms() {
    best=
    i=0
    while [ $i -lt "$runs" ]; do
        start=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        end=$(date +%s%N)
        ms=$(( (end - start) / 1000000 ))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
        i=$((i + 1))
    done
    echo "$best"
}

printf '%-40s %10s %10s %12s %8s\n' file size_MB scan_ms cuobjdump_ms ratio
for f in "$@"; do
    size=$(( $(stat -c %s "$f") / 1048576 ))
    s=$(best_ms "$nvprobe" scan --no-sandbox "$f")
    c=$(best_ms "$cuobjdump" --list-elf --list-ptx "$f")
    ratio=$(awk -v c="$c" -v s="$s" 'BEGIN { if (s < 1) s = 1; printf "%.1fx", c / s }')
    printf '%-40s %10s %10s %12s %8s\n' "$(basename "$f")" "$size" "$s" "$c" "$ratio"
done
