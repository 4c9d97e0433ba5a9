#!/usr/bin/env bash
# Rebuilds the seed corpus under fuzz/corpus/<target>/ from the fixture machines in
# tests/fixtures (and a few hand-written seeds for inputs no fixture holds). Files are named by
# their SHA-1, as libFuzzer names what it finds, so reruns are idempotent. Files over 64 KiB are
# left out to keep the committed corpus small (< 2 MiB in all).
# Usage: scripts/fuzz-corpus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
fx=tests/fixtures
out=fuzz/corpus
max=65536

add() { # add TARGET FILE...
  local target=$1; shift
  mkdir -p "$out/$target"
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    [ "$(stat -c %s "$f")" -le "$max" ] || continue
    cp "$f" "$out/$target/$(sha1sum "$f" | cut -c1-40)"
  done
}
seed() { # seed TARGET TEXT
  mkdir -p "$out/$1"
  local sum
  sum=$(printf '%s' "$2" | sha1sum | cut -c1-40)
  printf '%s' "$2" > "$out/$1/$sum"
}

shopt -s nullglob
add procfs_version $fx/*/proc/driver/nvidia/version $fx/*/sys/module/nvidia/version
add procfs_params $fx/*/proc/driver/nvidia/params
add procfs_information $fx/*/proc/driver/nvidia/gpus/*/information
add procfs_modules $fx/*/proc/modules
add sysfs_hex $fx/*/sys/bus/pci/devices/*/{vendor,device,class,subsystem_vendor,subsystem_device}
add os_release $fx/*/etc/os-release $fx/*/usr/lib/os-release
for f in $fx/*/dev/nvidia*; do [ -f "$f" ] && add devnode_standin "$f"; done
add driver_version $fx/*/sys/module/nvidia/version
add ldcache $fx/*/etc/ld.so.cache
add dpkg_status $fx/*/var/lib/dpkg/status
add stack_files $fx/*/etc/ld.so.preload $fx/*/etc/vcuda/*/vcuda.config $fx/*/sys/kernel/security/lockdown \
  $fx/*/sys/firmware/efi/efivars/SecureBoot-* $fx/*/lib/modules/*/updates/dkms/nvidia.ko
libs=()
while IFS= read -r -d '' f; do libs+=("$f"); done \
  < <(find $fx -type f \( -name '*.so' -o -name '*.so.*' \) -size -64k -print0)
add elfinfo "${libs[@]}"
add cudabin "${libs[@]}"
# Real nvcc outputs (probe/tests/cuda-files/README.md): an executable, an object, concatenated
# entries, an ar archive, bare fatbins and cubins, relocatable cubins compressed with LZ4.
add cudabin probe/tests/cuda-files/*.so probe/tests/cuda-files/*.a probe/tests/cuda-files/*.fatbin \
  probe/tests/cuda-files/*.cubin probe/tests/cuda-files/*.o probe/tests/cuda-files/scale

for r in 'cuda>=12.4 brand=tesla,driver>=535,driver<536 brand=nvidia,driver>=535,driver<536' \
  'cuda>=11.8' 'arch=9.0 arch=8.0' 'CUDA>=12.0,brand=GeForce' ' ' 'cuda>=12.4,driver<'; do
  seed require "$r"
done
seed driver_version $'580.65.06\n570.133.07'
seed driver_version $'470.256.02\n0580.1'
for j in \
  '{"protocol":"nvprobe-shim/1","shim_version":"0.1.0","library":{"name":"libnvidia-ml.so.1","path":"/usr/lib/libnvidia-ml.so.580.95.05"},"missing_symbols":[],"init":{"function":"nvmlInit_v2"},"nvml_version":"13.580.95.05","driver_version":"580.95.05","cuda_driver_version":"13.0","gpu_count":1,"gpus":[{"index":0,"pci":{"bus_id":"00000000:3B:00.0","vendor_id":"0x10de","device_id":"0x2330","subsystem_vendor_id":"0x10de","subsystem_device_id":"0x16c1"},"name":"NVIDIA H100 80GB HBM3","uuid":"GPU-AAAA","compute_capability":"9.0","memory_total_bytes":85520809984,"brand":{"value":2,"name":"NVML_BRAND_TESLA"},"mig_mode":{"current":0,"pending":0}}],"libcuda":null}' \
  '{"protocol":"nvprobe-shim/1","library":{"name":"libnvidia-ml.so.1","error":{"code":"library-not-found","message":"m"}},"libcuda":null}' \
  '{"protocol":"nvprobe-shim/1","init":{"error":{"code":"NVML_ERROR_DRIVER_NOT_LOADED","value":9,"message":"m"}}}'; do
  seed shim_json "$j"
done
# ioctl replies: the first byte picks --deep, the second the version hint; then open/ioctl
# outcomes and reply bytes. A few shapes: all-zero replies, all-0xff, "570.133.07" strings.
seed ioctl_replies $'\x01\x00\x03\x03\x48570.133.07\x00'
seed ioctl_replies $'\x00\x01\x05\x13\xff\xff\xff\xff\xff\xff\xff\xff'
seed ioctl_replies "$(head -c 4096 /dev/zero | tr '\0' '\3')"
# ioctl logs of capture bundles: the fixtures' own, as captured.
add ioctl_log "$fx"/*/.nvprobe/ioctl.json
# and short logs whose errnos are numbers, for the mutator to turn into 0 or -1; the first of
# them, with errno 0, aborted the loader until 6b8a171 (a 180 s run from the fixtures' logs
# alone did not find it).
seed ioctl_log '{"format":"nvprobe-ioctl/1","events":[{"op":"open","path":"/dev/nvidiactl","write":false,"nonblock":false,"file":null,"errno":0,"error":"EACCES"}]}'
seed ioctl_log '{"format":"nvprobe-ioctl/1","events":[{"op":"open","path":"/dev/nvidiactl","write":false,"nonblock":false,"file":null,"errno":13,"error":"EACCES"}]}'
seed ioctl_log '{"format":"nvprobe-ioctl/1","events":[{"op":"open","path":"/dev/nvidiactl","write":false,"nonblock":false,"file":0},{"op":"ioctl","file":0,"request":"0xc00846d6","what":"NV_ESC_SYS_PARAMS","arg_in":"0000000000000000","params_in":null,"arg_out":"0000000000000000","params_out":null,"errno":22,"error":"EINVAL"}]}'
du -sh "$out"
