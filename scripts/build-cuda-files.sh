#!/bin/sh
# Builds the small real CUDA files under probe/tests/cuda-files/ (vendored: CI never runs this)
# and records what cuobjdump lists for each, which probe/tests/scan.rs compares `scan` with.
#
# Needs nvcc and cuobjdump (CUDA 13.5 from PyPI works, with gcc 12):
#   pip download --no-deps nvidia-cuda-nvcc nvidia-cuda-cuobjdump nvidia-cuda-runtime \
#       nvidia-cuda-crt nvidia-nvvm -d /tmp/cuda-wheels
#   unzip each wheel into /tmp/cuda; ln -s libcudart.so.13 /tmp/cuda/nvidia/cu13/lib/libcudart.so
#   PATH=/tmp/cuda/nvidia/cu13/bin:$PATH scripts/build-cuda-files.sh
set -eu
out=$(cd "$(dirname "$0")/../probe/tests/cuda-files" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > lib.cu <<'CU'
__global__ void scale(float *a, float s, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) a[i] *= s; }
extern "C" int launch_scale(float *a, float s, int n) { scale<<<(n + 255) / 256, 256>>>(a, s, n); return (int)cudaGetLastError(); }
CU
cat > helper.cu <<'CU'
__device__ float twice(float x) { return 2.0f * x; }
CU
cat > app.cu <<'CU'
extern __device__ float twice(float x);
__global__ void scale2(float *a, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) a[i] = twice(a[i]); }
extern "C" int launch(float *a, int n) { scale2<<<(n + 255) / 256, 256>>>(a, n); return (int)cudaGetLastError(); }
CU
cat > main.c <<'C'
int launch_scale(float *a, float s, int n);
int main(void) { return launch_scale(0, 2.0f, 0) != 0; }
C
pic="-Xcompiler -fPIC"
# An executable (shared runtime 13) and a relocatable object, both without -rdc: .nv_fatbin.
nvcc -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=compute_90 \
    -cudart shared -o scale main.c lib.cu
nvcc -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=compute_90 -c $pic \
    -o plain.o lib.cu
# --concat: the cubins of each container in one kind-0x100 entry; shared runtime 13.
nvcc -gencode arch=compute_75,code=sm_75 -gencode arch=compute_90,code=sm_90 \
    -gencode arch=compute_100,code=sm_100 --concat $pic -shared -cudart shared -o libconcat.so lib.cu
# A bare fatbin with a concatenated entry (sm_90a, sm_80), an f target and PTX.
nvcc -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_100f,code=sm_100f \
    -gencode arch=compute_120,code=compute_120 -gencode arch=compute_80,code=sm_80 \
    --concat -fatbin -o concat.fatbin lib.cu
# A bare fatbin, a bare cubin.
nvcc -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=compute_90 -fatbin \
    -o bare.fatbin lib.cu
nvcc -arch=sm_86 -cubin -o bare.cubin lib.cu
# An archive of an -rdc object.
nvcc -rdc=true -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=compute_90 \
    -c -o rdc.o lib.cu
ar rcs librdc.a rdc.o
# -rdc with PTX only, linked with a device library of relocatable sm_90 cubins (as
# libcudadevrt's are, at a few KB instead of 1 MB): __nv_relfatbin holds the program's PTX and
# the library's relocatable cubin, which carries no kernel.
nvcc -rdc=true -gencode arch=compute_90,code=sm_90 -c $pic -o helper.o helper.cu
ar rcs libhelper.a helper.o
nvcc -rdc=true -gencode arch=compute_120,code=compute_120 -cudadevrt none $pic -shared \
    -cudart shared -o librdcptx.so app.cu libhelper.a
# The same with LZ4 (nvcc 12.x's compression; nvcc 13's --compress-mode=speed): a PTX-only
# program linked with two relocatable sm_90 objects, one defining the `scale` kernel.
lz4="--compress-mode=speed"
nvcc -rdc=true -gencode arch=compute_90,code=sm_90 $lz4 -c $pic -o helper-lz4.o helper.cu
nvcc -rdc=true -gencode arch=compute_90,code=sm_90 $lz4 -c $pic -o kern-lz4.o lib.cu
nvcc -rdc=true -gencode arch=compute_120,code=compute_120 $lz4 -cudadevrt none $pic -shared \
    -cudart shared -o librdclz4.so app.cu helper-lz4.o kern-lz4.o
strip --strip-unneeded libconcat.so librdcptx.so librdclz4.so scale
for f in libconcat.so concat.fatbin bare.fatbin bare.cubin librdc.a librdcptx.so librdclz4.so \
    scale plain.o; do
    cp "$f" "$out/$f"
    cuobjdump -all --list-elf --list-ptx "$f" 2>/dev/null | sed "s|$work/||" > "$out/$f.cuobjdump"
done
nvcc --version | tail -2 > "$out/nvcc-version.txt"
