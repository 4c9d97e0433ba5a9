#!/bin/sh
# Builds probe/tests/cuda-files/libsm61.so (vendored: CI never runs this): a real shared
# library with SASS for sm_61 (Pascal), which nvcc 13 cannot target and the CUDA 12 PyPI
# wheels cannot build alone (nvidia-cuda-nvcc-cu12 12.6/12.9 ship ptxas, libnvvm and headers,
# not the nvcc driver, cicc or fatbinary). So: nvcc 13.5 runs the front end for sm_75 (--keep),
# its PTX is retargeted to sm_61 (`.target`, and `.version` 8.5, the newest ptxas 12.6 reads),
# ptxas 12.6 compiles it, fatbinary 13.5 packs the sm_61 cubin, and the host object nvcc made
# is compiled with that fatbin and linked against the CUDA 12.6 runtime (libcudart.so.12).
# Also records what cuobjdump 13.5 lists (probe/tests/scan.rs compares `scan` with it).
#
# Needs (gcc 12):
#   pip download --no-deps nvidia-cuda-nvcc==13.5.37 nvidia-cuda-runtime==13.5.37 \
#       nvidia-cuda-crt==13.5.37 nvidia-nvvm==13.5.37 nvidia-cuda-cuobjdump==13.5.37 -d /tmp/w13
#   pip download --no-deps nvidia-cuda-nvcc-cu12==12.6.85 nvidia-cuda-runtime-cu12==12.6.77 -d /tmp/w12
#   unzip every wheel of /tmp/w13 into /tmp/c13 and of /tmp/w12 into /tmp/c12
#   ln -s libcudart.so.13 /tmp/c13/nvidia/cu13/lib/libcudart.so
#   PATH=/tmp/c13/nvidia/cu13/bin:$PATH C12=/tmp/c12 scripts/build-sm61-lib.sh
set -eu
out=$(cd "$(dirname "$0")/../probe/tests/cuda-files" && pwd)
: "${C12:?the unpacked CUDA 12.6 wheels (nvidia/cuda_nvcc/bin/ptxas, nvidia/cuda_runtime/lib)}"
cuda13=$(dirname "$(dirname "$(command -v nvcc)")")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > lib.cu <<'CU'
__global__ void scale(float *a, float s, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) a[i] *= s; }
extern "C" int launch_scale(float *a, float s, int n) { scale<<<(n + 255) / 256, 256>>>(a, s, n); return (int)cudaGetLastError(); }
CU
nvcc -gencode arch=compute_75,code=sm_75 -Xcompiler -fPIC -shared -cudart shared -o libk75.so lib.cu --keep
sed -e 's/^\.version 9\.5$/.version 8.5/' -e 's/^\.target sm_75$/.target sm_61/' lib.ptx > lib61.ptx
grep -qx '.target sm_61' lib61.ptx && grep -qx '.version 8.5' lib61.ptx
"$C12/nvidia/cuda_nvcc/bin/ptxas" -arch=sm_61 -m64 lib61.ptx -o lib61.cubin
# lib.cudafe1.cpp includes lib.fatbin.c: the sm_61 one replaces nvcc's sm_75 one.
fatbinary --create=lib.fatbin -64 --cicc-cmdline="-ftz=0 -prec_div=1 -prec_sqrt=1 -fmad=1 " \
  "--image3=kind=elf,sm=61,file=lib61.cubin" --embedded-fatbin=lib.fatbin.c
gcc -D__CUDA_ARCH__=610 -D__CUDA_ARCH_LIST__=610 -c -x c++ -DCUDA_DOUBLE_MATH_FUNCTIONS -fPIC \
  -Wno-psabi -I"$cuda13/include" -isystem "$cuda13/include/cccl" -m64 lib.cudafe1.cpp -o lib.o
mkdir rt && ln -s "$C12/nvidia/cuda_runtime/lib/libcudart.so.12" rt/libcudart.so
g++ -fPIC -m64 -shared -Wl,--no-undefined lib.o -Lrt -lcudart -o libsm61.so
strip libsm61.so
cp libsm61.so "$out/"
cuobjdump -all --list-elf --list-ptx "$out/libsm61.so" 2>/dev/null | sed "s|$out/||" > "$out/libsm61.so.cuobjdump"
ls -l "$out/libsm61.so"
