#!/bin/sh
# Times `nvprobe scan` against `cuobjdump --list-elf --list-ptx` on each file given (real NVIDIA
# libraries, e.g. from PyPI wheels unpacked under /tmp: never commit them), and prints one row
# per file: the median wall time of each, and the ratio cuobjdump / scan. A measurement, never
# a test.
#
# Every case is started the same way, by scripts/bench's posix_spawn harness (bench-spawn),
# round-robin, so the ratios compare the programs and not the way they were started. `scan` is
# timed as users run it (sandboxed) and with --no-sandbox, to show what the sandbox costs.
# `cuobj_code` is "none" where cuobjdump says the file contains no device code.
#
#   scripts/bench-scan-vs-cuobjdump.sh [-n RUNS] FILE...
# Environment: NVPROBE (default: the static release binary, built if missing), CUOBJDUMP
# (default cuobjdump on PATH), TOOLS (a directory with bench-spawn; default: built by
# `scripts/bench --build-tools` into a temporary directory).
set -eu
cd "$(dirname "$0")/.."
runs=20
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
[ $# -gt 0 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
nvprobe=${NVPROBE:-}
if [ -z "$nvprobe" ]; then
    nvprobe=$(scripts/build-static.sh 2>/dev/null | tail -1)
fi
cuobjdump=${CUOBJDUMP:-$(command -v cuobjdump || true)}
[ -x "$nvprobe" ] || { echo "no nvprobe binary: $nvprobe" >&2; exit 2; }
[ -n "$cuobjdump" ] && [ -x "$cuobjdump" ] || { echo "no cuobjdump: set CUOBJDUMP" >&2; exit 2; }
tools=${TOOLS:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$tools" ]; then
    tools=$tmp/tools
    python3 scripts/bench --build-tools "$tools" >/dev/null
fi
case $nvprobe in /*) ;; *) nvprobe=$PWD/$nvprobe ;; esac
case $cuobjdump in /*) ;; *) cuobjdump=$PWD/$cuobjdump ;; esac

# Median of column 2 (wall ns) for case $1 of the harness's output, in milliseconds.
median_ms() {
    awk -v c="$1" '$1 == c { print $2 }' "$tmp/runs" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit }
              m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.2f", m / 1e6 }'
}

echo "nvprobe: $nvprobe"
echo "cuobjdump: $("$cuobjdump" --version 2>/dev/null | tail -1)"
echo "runs: $runs each (median), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %9s %-10s %9s %9s %12s %7s\n' file size_MB cuobj_code scan_ms nosb_ms cuobjdump_ms ratio
for f in "$@"; do
    case $f in /*) ;; *) f=$PWD/$f ;; esac
    size=$(awk -v b="$(stat -c %s "$f")" 'BEGIN { printf "%.1f", b / 1048576 }')
    if "$cuobjdump" --list-elf --list-ptx "$f" 2>&1 | grep -q 'does not contain device code'; then
        device=none
    else
        device=yes
    fi
    "$tools/bench-spawn" "$runs" 2 \
        "$nvprobe" scan "$f" :: \
        "$nvprobe" scan --no-sandbox "$f" :: \
        "$cuobjdump" --list-elf --list-ptx "$f" > "$tmp/runs"
    s=$(median_ms 0)
    n=$(median_ms 1)
    c=$(median_ms 2)
    ratio=$(awk -v c="$c" -v s="$s" 'BEGIN { printf "%.1fx", c / s }')
    printf '%-28s %9s %-10s %9s %9s %12s %7s\n' "$(basename "$f")" "$size" "$device" "$s" "$n" "$c" "$ratio"
done
