#!/usr/bin/env bash
# Builds the `nvprobe` Python wheels: the fully static musl binary (maturin, `bindings = "bin"`,
# python/pyproject.toml) installed as the `nvprobe` command, plus the `nvprobe` Python package
# (the binary's finder and the variantlib plugin).
#
# x86_64 gives two wheels, because of `nvprobe-shim` (the glibc NVML subprocess of
# `--cross-check`, which nvprobe finds next to itself, so it goes in as a second script):
#   - manylinux_2_17: nvprobe and nvprobe-shim, the shim built with cargo-zigbuild against
#     glibc 2.17 (zig links against 2.17's symbol versions; the check below refuses a shim that
#     needs a newer GLIBC_ symbol or a library other than libc/libdl/libpthread);
#   - musllinux_1_1: nvprobe only. A glibc shim cannot start on Alpine (no glibc loader), and
#     NVIDIA ships no musl libnvidia-ml, so there is nothing for it to cross-check there.
# aarch64 gives one wheel with both tags and no shim (the shim is built for x86_64 only).
#
# Usage: scripts/build-wheel.sh [--target x86_64-unknown-linux-musl|aarch64-unknown-linux-musl]
#        (prints each wheel's path, manylinux first; wheels land in $CARGO_TARGET_DIR/wheels)
#
# maturin (and for x86_64 cargo-zigbuild with ziglang) comes from $MATURIN if set, else from a
# virtual environment kept in the target directory (target/wheel-tools, created once from PyPI
# with the pinned versions below; later runs are offline). Fails unless the binary in each
# wheel is static and each wheel < 3 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
MATURIN_VERSION=1.16.0
ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.17.1
SHIM_GLIBC=2.17
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
    # links it, with the x86_64 build's packed relative relocations and no .eh_frame_hdr (.cargo/config.toml
    # says why).
    rustup target add "$target" >&2
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C linker-flavor=ld.lld -C link-self-contained=yes -C link-arg=-zpack-relative-relocs -C link-arg=--no-eh-frame-hdr"
    ;;
  *) echo "error: unsupported target $target" >&2; exit 2 ;;
esac

tools="$target_dir/wheel-tools"
maturin=${MATURIN:-}
if [ -z "$maturin" ]; then
  maturin="$tools/bin/maturin"
  if ! "$maturin" --version 2>/dev/null | grep -qx "maturin $MATURIN_VERSION"; then
    python3 -m venv "$tools" >&2
    "$tools/bin/pip" install -q --disable-pip-version-check "maturin==$MATURIN_VERSION" >&2
  fi
fi

# The shim for the manylinux wheel: glibc, x86_64, no newer symbol than glibc $SHIM_GLIBC.
shim=
if [ "$target" = x86_64-unknown-linux-musl ]; then
  if ! "$tools/bin/cargo-zigbuild" --version 2>/dev/null | grep -q " $ZIGBUILD_VERSION\$" \
    || ! "$tools/bin/python" -m ziglang version >/dev/null 2>&1; then
    [ -x "$tools/bin/pip" ] || python3 -m venv "$tools" >&2
    "$tools/bin/pip" install -q --disable-pip-version-check \
      "cargo-zigbuild==$ZIGBUILD_VERSION" "ziglang==$ZIGLANG_VERSION" >&2
  fi
  rustup target add x86_64-unknown-linux-gnu >&2
  # cargo-zigbuild finds zig through the ziglang package of the Python on PATH.
  PATH="$tools/bin:$PATH" "$tools/bin/cargo-zigbuild" zigbuild --release --locked -q \
    -p nvprobe-shim --target "x86_64-unknown-linux-gnu.$SHIM_GLIBC" >&2
  shim="$target_dir/x86_64-unknown-linux-gnu/release/nvprobe-shim"
  newest=$(objdump -T "$shim" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
  if [ "$(printf '%s\n' "$newest" "$SHIM_GLIBC" | sort -V | tail -1)" != "$SHIM_GLIBC" ]; then
    echo "error: $shim needs GLIBC_$newest, newer than manylinux_${SHIM_GLIBC/./_}" >&2
    exit 1
  fi
  if readelf -dW "$shim" | grep NEEDED | grep -v -e 'libc\.so\.6' -e 'libdl\.so\.2' \
    -e 'libpthread\.so\.0' -e 'ld-linux-x86-64\.so\.2' >&2; then
    echo "error: $shim needs a library outside the manylinux policy" >&2
    exit 1
  fi
fi

out="$target_dir/wheels"
mkdir -p "$out"
# Bytecode left by a local run of the package must not travel in the wheel.
find python -name __pycache__ -type d -prune -exec rm -rf {} +
# The wheel's .data directory, which maturin takes when it exists (`<module>.data` beside the
# package): made for the manylinux build only, so a plain `pip install ./python` builds too.
data=python/nvprobe.data
log=$(mktemp)
check=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$check" "$data"' EXIT

# build TAGS... : one maturin build, checked; prints the wheel's path.
build() {
  # x86_64: the paths remapped as in scripts/build-static.sh. maturin compiles nvprobe again
  # (its own cargo run), with the same flags, so the wheel carries the very bytes that ship on
  # their own (checked: the same build id, cmp-identical).
  local remap=()
  if [ "$target" = x86_64-unknown-linux-musl ]; then
    remap=(--config "$(scripts/remap-config "$target")")
  fi
  (cd python && "$maturin" build --release --locked --target "$target" "${remap[@]}" \
    --compatibility "$@" --out "$out") 2>&1 | tee "$log" >&2
  local wheel size bin
  wheel=$(sed -n 's/.*Built wheel to //p' "$log" | tail -1)
  [ -f "$wheel" ] || { echo "error: maturin reported no wheel" >&2; exit 1; }
  size=$(stat -c %s "$wheel")
  if [ "$size" -ge "$MAX_BYTES" ]; then
    echo "error: $wheel is $size bytes (limit $MAX_BYTES)" >&2
    exit 1
  fi
  # The binary as installed: static, no program interpreter, no shared libraries.
  rm -rf "$check" && mkdir -p "$check"
  python3 -m zipfile -e "$wheel" "$check"
  bin=$(find "$check" -path '*.data/scripts/nvprobe' -type f)
  [ -n "$bin" ] || { echo "error: no nvprobe binary in $wheel" >&2; exit 1; }
  if readelf -lW "$bin" | grep -q INTERP || readelf -dW "$bin" 2>/dev/null | grep -q NEEDED; then
    echo "error: the nvprobe in $wheel is not static" >&2
    exit 1
  fi
  # The shim is in the manylinux wheel and in no other.
  if [ -e "$data/scripts/nvprobe-shim" ]; then
    cmp -s "$(find "$check" -path '*.data/scripts/nvprobe-shim' -type f)" "$shim" \
      || { echo "error: no nvprobe-shim in $wheel" >&2; exit 1; }
  elif find "$check" -name nvprobe-shim | grep -q .; then
    echo "error: $wheel carries nvprobe-shim" >&2
    exit 1
  fi
  echo "wheel: $wheel ($size bytes)" >&2
  echo "$wheel"
}

rm -rf "$data"
if [ -n "$shim" ]; then
  mkdir -p "$data/scripts"
  cp "$shim" "$data/scripts/nvprobe-shim"
  build manylinux_2_17
  rm -rf "$data"
  build musllinux_1_1
else
  build manylinux_2_17 musllinux_1_1
fi
