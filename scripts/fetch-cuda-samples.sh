#!/usr/bin/env bash
# Fetches a few small, real CUDA shared objects from PyPI wheels into a cache outside git, for
# the `cudabin` sample tests (probe/src/cudabin/tests.rs, `sample_*`). The tests skip, with a
# printed reason, when the cache is absent, so this script is optional and never run by CI.
#
# Usage: scripts/fetch-cuda-samples.sh [--check]
#   Cache: $NVPROBE_SAMPLES_DIR, else $XDG_CACHE_HOME/nvprobe-samples, else
#   ~/.cache/nvprobe-samples. --check only verifies what is cached (exit 1 if anything is
#   missing or differs).
#
# Each wheel is pinned by name, version and sha256; nothing is used unless its hash matches.
# The files are NVIDIA's, under the NVIDIA software licence shipped in each wheel
# (License.txt): they are downloaded for local testing and are not redistributed or committed.
#
#   package                    version     wheel sha256 (manylinux2014_x86_64)           file
#   nvidia-nvjpeg-cu12         12.4.0.76   3888f10b…1c6375a20 (5.3 MB)                   libnvjpeg.so.12 (9.4 MB)
#   nvidia-nvjpeg              13.2.3.58   552b30b1…ac48a96c3 (4.1 MB)                   libnvjpeg.so.13 (6.4 MB)
#   nvidia-cuda-runtime-cu12   12.9.79     25bba2df…48a96c3 (3.5 MB)                     libcudart.so.12 (0.7 MB)
set -euo pipefail

cache="${NVPROBE_SAMPLES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nvprobe-samples}"
check_only=false
[[ "${1:-}" == "--check" ]] && check_only=true

# name version wheel-sha256 member-in-wheel cached-name
samples=(
  "nvidia-nvjpeg-cu12 12.4.0.76 3888f10b32fbd58e80166c48e01073732d752fa5f167b7cb5b9615f1c6375a20 nvidia/nvjpeg/lib/libnvjpeg.so.12 libnvjpeg.so.12"
  "nvidia-nvjpeg 13.2.3.58 552b30b11ac8e2bbfb18fd8de31e48756188ebf9b84a8c342a88f07f81a6cdf1 nvidia/cu13/lib/libnvjpeg.so.13 libnvjpeg.so.13"
  "nvidia-cuda-runtime-cu12 12.9.79 25bba2dfb01d48a9b59ca474a1ac43c6ebf7011f1b0b8cc44f54eb6ac48a96c3 nvidia/cuda_runtime/lib/libcudart.so.12 libcudart.so.12"
)

mkdir -p "$cache/wheels"
status=0
for line in "${samples[@]}"; do
  read -r name version sha member out <<<"$line"
  wheel_dir="$cache/wheels/$name-$version"
  wheel=$(ls "$wheel_dir"/*.whl 2>/dev/null | head -n1 || true)
  if [[ -z "$wheel" ]] || ! echo "$sha  $wheel" | sha256sum --check --status; then
    if $check_only; then
      echo "missing or changed: $name $version"
      status=1
      continue
    fi
    rm -rf "$wheel_dir"
    mkdir -p "$wheel_dir"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
      --platform manylinux2014_x86_64 --python-version 3.12 \
      --dest "$wheel_dir" "$name==$version"
    wheel=$(ls "$wheel_dir"/*.whl | head -n1)
    if ! echo "$sha  $wheel" | sha256sum --check --status; then
      echo "sha256 mismatch for $wheel (expected $sha); not used" >&2
      rm -rf "$wheel_dir"
      exit 1
    fi
  fi
  if $check_only; then
    if [[ ! -f "$cache/$out" ]]; then
      echo "missing: $cache/$out"
      status=1
      continue
    fi
  else
    python3 - "$wheel" "$member" "$cache/$out" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst)
shutil.move(out + ".tmp", out)
PY
  fi
  echo "ok: $cache/$out ($name $version)"
done
exit "$status"
