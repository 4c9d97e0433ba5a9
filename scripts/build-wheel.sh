#!/usr/bin/env bash
# Builds the `nvprobe` Python wheel: the fully static musl binary (maturin, `bindings = "bin"`,
# python/pyproject.toml) installed as the `nvprobe` command, plus the `nvprobe` Python package
# (the binary's finder and the variantlib plugin). A static binary runs on any Linux libc, so
# one wheel carries both tags: manylinux_2_17 (glibc) and musllinux_1_1 (Alpine).
#
# Usage: scripts/build-wheel.sh [--target x86_64-unknown-linux-musl|aarch64-unknown-linux-musl]
#        (prints the wheel's path on success; wheels land in $CARGO_TARGET_DIR/wheels)
#
# maturin comes from $MATURIN if set, else from a virtual environment kept in the target
# directory (target/wheel-tools, created once from PyPI with the pinned version below; later
# runs are offline). Fails unless the binary in the wheel is static and the wheel < 3 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
MATURIN_VERSION=1.16.0
MAX_BYTES=3000000
target=x86_64-unknown-linux-musl
if [ "${1:-}" = "--target" ]; then target=$2; fi
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
export CARGO_TARGET_DIR=$target_dir

case "$target" in
  x86_64-unknown-linux-musl)
    # The same build (and the same checks) as the binary that ships on its own.
    scripts/build-static.sh >/dev/null ;;
  aarch64-unknown-linux-musl)
    # No aarch64 C toolchain needed: Rust's musl target ships its C runtime, and rust-lld
    # links it.
    rustup target add "$target" >&2
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C linker-flavor=ld.lld -C link-self-contained=yes"
    ;;
  *) echo "error: unsupported target $target" >&2; exit 2 ;;
esac

maturin=${MATURIN:-}
if [ -z "$maturin" ]; then
  tools="$target_dir/wheel-tools"
  maturin="$tools/bin/maturin"
  if ! "$maturin" --version 2>/dev/null | grep -qx "maturin $MATURIN_VERSION"; then
    python3 -m venv "$tools" >&2
    "$tools/bin/pip" install -q --disable-pip-version-check "maturin==$MATURIN_VERSION" >&2
  fi
fi

out="$target_dir/wheels"
mkdir -p "$out"
# Bytecode left by a local run of the package must not travel in the wheel.
find python -name __pycache__ -type d -prune -exec rm -rf {} +
log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd python && "$maturin" build --release --locked --target "$target" \
  --compatibility manylinux_2_17 musllinux_1_1 --out "$out") 2>&1 | tee "$log" >&2
wheel=$(sed -n 's/.*Built wheel to //p' "$log" | tail -1)
[ -f "$wheel" ] || { echo "error: maturin reported no wheel" >&2; exit 1; }

size=$(stat -c %s "$wheel")
if [ "$size" -ge "$MAX_BYTES" ]; then
  echo "error: $wheel is $size bytes (limit $MAX_BYTES)" >&2
  exit 1
fi
# The binary as installed: static, no program interpreter, no shared libraries.
check=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$check"' EXIT
python3 -m zipfile -e "$wheel" "$check"
bin=$(find "$check" -path '*.data/scripts/nvprobe' -type f)
[ -n "$bin" ] || { echo "error: no nvprobe binary in $wheel" >&2; exit 1; }
if readelf -lW "$bin" | grep -q INTERP || readelf -dW "$bin" 2>/dev/null | grep -q NEEDED; then
  echo "error: the nvprobe in $wheel is not static" >&2
  exit 1
fi
echo "wheel: $wheel ($size bytes)" >&2
echo "$wheel"
