#!/usr/bin/env bash
# Builds the fully static nvprobe binary (x86_64-unknown-linux-musl, release) and fails unless
# it really is static and position-independent: no program interpreter, no shared libraries, an
# ELF type of DYN (static-pie, so ASLR applies), `file` agrees, and it is under 2 MiB.
# Usage: scripts/build-static.sh   (prints the binary's path on success)
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-musl
# The checkout's and $CARGO_HOME's paths are remapped (scripts/remap-config says why).
cargo build --release --locked --target "$target" -p nvprobe --bin nvprobe \
  --config "$(scripts/remap-config "$target")" >&2
bin="${CARGO_TARGET_DIR:-target}/$target/release/nvprobe"
desc=$(file -b "$bin" 2>/dev/null || true)
if readelf -lW "$bin" | grep -q 'INTERP'; then
  echo "error: $bin has a program interpreter (dynamically linked): $desc" >&2
  exit 1
fi
if readelf -dW "$bin" 2>/dev/null | grep -q 'NEEDED'; then
  echo "error: $bin needs shared libraries" >&2
  exit 1
fi
if ! readelf -hW "$bin" | grep -Eq 'Type:[[:space:]]+DYN'; then
  echo "error: $bin is not position-independent (ELF type is not DYN): $desc" >&2
  exit 1
fi
case "$desc" in
  *"static-pie linked"*) ;;
  "") echo "note: 'file' is not installed; readelf says static-pie" >&2 ;;
  *) echo "error: file(1) does not call $bin static-pie: $desc" >&2; exit 1 ;;
esac
if ! readelf -SW "$bin" | grep -q '\.relr\.dyn'; then
  echo "note: $bin has no packed relative relocations (.relr.dyn): this linker ignored -z pack-relative-relocs (GNU ld before 2.38), so the binary is ~45 KB larger" >&2
fi
size=$(stat -c %s "$bin")
limit=$((2 * 1024 * 1024))
if [ "$size" -ge "$limit" ]; then
  echo "error: $bin is $size bytes, over the 2 MiB limit" >&2
  exit 1
fi
echo "static: $bin ($size bytes) — $desc" >&2
echo "$bin"
