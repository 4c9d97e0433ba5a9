#!/usr/bin/env bash
# Real-hardware checks and captures, for a session that is lent an NVIDIA machine (which has no
# Rust toolchain). Three steps:
#
#   scripts/gpu-check.sh prepare     # here: builds the static nvprobe, nvprobe-shim and the
#                                    # test-gpu test binary into .gpu-bundle/ (git-ignored)
#   scripts/gpu-check.sh run OUTDIR  # there, in the repo root with .gpu-bundle carried:
#                                    # runs the test-gpu tests, the probe (plain, --deep,
#                                    # --cross-check), captures bundles, nvidia-smi -q -x,
#                                    # the benchmark, and the system calls and timing of
#                                    # the machine's own run against the replay of its
#                                    # capture, writing everything under OUTDIR
#   scripts/gpu-check.sh bench OUTDIR   # there: only the timings (bench, the API), a minute
#   scripts/gpu-check.sh fixtures DIR [NAME]  # here again, DIR = the run's files: the
#                                    # captures become tests/real/NAME{,-deep} + goldens
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
  cargo build --release --locked -q -p nvprobe-example-installer --target x86_64-unknown-linux-musl
  cp "${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-musl/release/nvprobe-example-installer" "$bundle/installer"
  ls -la "$bundle" >&2
  ;;
run)
  # The device tool brings back at most 8 files: everything goes under $out/raw and leaves as
  # one archive, beside gpu-tests.log and summary.txt (the figures a session reads first).
  out=${2:?usage: scripts/gpu-check.sh run OUTDIR}
  raw=$(mktemp -d)/raw
  mkdir -p "$out" "$raw"
  export NVPROBE_BIN="$PWD/$bundle/nvprobe" NVPROBE_SHIM="$PWD/$bundle/nvprobe-shim"
  nv=$NVPROBE_BIN
  sum="$out/summary.txt"
  # step NAME SECONDS CMD...: stdout to raw/NAME.out, stderr to raw/NAME.err, exit code and wall
  # time to the summary; every step is bounded, so one hang cannot eat the lease.
  step() {
    local name=$1 secs=$2 t0 t1 rc
    shift 2
    t0=$(date +%s%N)
    timeout -k 5 "$secs" "$@" > "$raw/$name.out" 2> "$raw/$name.err"
    rc=$?
    t1=$(date +%s%N)
    printf '%-28s rc=%-3s %8.1f ms\n' "$name" "$rc" "$(( (t1 - t0) / 1000 ))e-3" >> "$sum"
  }
  {
    echo "== date"; date -u
    echo "== uname"; uname -a
    echo "== /proc/driver/nvidia/version"; cat /proc/driver/nvidia/version 2>&1
    echo "== id"; id
    echo "== seccomp/nnp"; grep -E 'Seccomp|NoNewPrivs' /proc/self/status
  } > "$sum" 2>&1
  # Raw facts, as they are on this machine, for fixtures.
  {
    for f in /proc/driver/nvidia/version /proc/driver/nvidia/params /proc/driver/nvidia/registry \
      /proc/driver/nvidia/gpus/*/information /proc/driver/nvidia/capabilities/*/* \
      /sys/module/nvidia/version /sys/module/nvidia*/initstate /proc/modules /proc/devices \
      /proc/cmdline /proc/self/mountinfo /etc/os-release /proc/sys/kernel/osrelease; do
      echo "== $f"; cat "$f" 2>&1
    done
    echo "== ls -la /dev"; ls -la /dev /dev/nvidia-caps 2>&1
    echo "== ls /sys/bus/pci/drivers/nvidia"; ls -la /sys/bus/pci/drivers/nvidia 2>&1
    for d in /sys/bus/pci/devices/*; do
      [ "$(cat "$d/vendor" 2>/dev/null)" = 0x10de ] || continue
      echo "== $d"; for f in vendor device subsystem_vendor subsystem_device class revision numa_node current_link_speed current_link_width; do echo "$f: $(cat "$d/$f" 2>&1)"; done
      ls -la "$d/driver" 2>&1
    done
    echo "== find driver libs"; timeout 20 find / -xdev \( -name 'libcuda.so*' -o -name 'libnvidia-ml.so*' -o -name 'libcudart.so*' -o -name 'nvidia-smi' \) 2>/dev/null | head -50
    ls -la /usr/local/nvidia /usr/local/nvidia/lib64 2>&1 | head -80
    echo "== ldconfig -p | grep nvidia"; ldconfig -p 2>&1 | grep -Ei 'cuda|nvidia' | head -40
    echo "== env"; env | grep -Ei 'cuda|nvidia|path' | sort
    echo "== dmesg"; dmesg 2>&1 | tail -40
  } > "$raw/machine.txt" 2>&1
  step gpu-tests 180 "$bundle/gpu-tests" --test-threads=1
  cat "$raw/gpu-tests.out" "$raw/gpu-tests.err" > "$out/gpu-tests.log"
  step report 20 "$nv" --json
  step report-nosandbox 20 "$nv" --json --no-sandbox
  # The machine read as a `--root` (what a container does with the host at /host): the device
  # nodes are looked up inside the root and opened through /proc/self/fd, and their Landlock
  # rules land on the inode found there. Its GPUs and ioctl source should match `report`'s.
  # Run as root, its files are read through a nodev copy of every mount beneath / (/proc, /sys,
  # /dev, the driver's): the report without the copy (--no-sandbox) should match it but for
  # the sandbox source and timings, and the sandbox source says whether the copy was made.
  step report-root-slash 20 "$nv" --json --root /
  step report-root-slash-nosandbox 20 "$nv" --json --root / --no-sandbox
  step report-deep 20 "$nv" --json --deep
  step report-crosscheck 20 "$nv" --json --cross-check
  step report-text 20 "$nv" --deep --cross-check
  step report-nobody 20 setpriv --reuid=65534 --regid=65534 --clear-groups "$nv" --json --deep
  step report-envi 20 env -i "$nv" --json
  step report-timeout1 20 "$nv" --json --deep --timeout 1
  step labels 20 "$nv" labels
  step export-shell 20 "$nv" export --format shell
  step export-conda 20 "$nv" export --format conda
  step export-variant 20 "$nv" export --format wheel-variant
  step export-overrides 20 "$nv" export --format overrides
  step check-cuda-13.0 20 "$nv" check --cuda 13.0
  step check-cuda-13.2 20 "$nv" check --cuda 13.2
  step check-cuda-12.4 20 "$nv" check --cuda 12.4
  step check-require 20 "$nv" check --require 'cuda>=12.4 brand=tesla,driver>=535'
  step nvidia-smi-xml 30 nvidia-smi -q -x
  step nvidia-smi-q 30 nvidia-smi -q
  step nvidia-smi 30 nvidia-smi
  # A capture's copy shares the run's deadline: give it time, so the bundle is whole.
  step capture-deep 60 "$nv" --deep --cross-check --timeout 30000 capture --redact --out "$raw/capture-deep"
  step capture 60 "$nv" --timeout 30000 capture --redact --out "$raw/capture"
  step replay 20 "$nv" --json --root "$raw/capture"
  step replay-deep 20 "$nv" --json --root "$raw/capture-deep"
  # What matters most leaves first: if a later step runs the call out of time, the captures
  # and what was gathered so far are already in $out.
  tar -C "$raw" -czf "$out/captures.tgz" capture capture-deep && rm -rf "$raw/capture" "$raw/capture-deep"
  tar -C "$(dirname "$raw")" -czf "$out/raw.tgz" raw
  py=$(command -v python3)
  venv=$(dirname "$(dirname "$(readlink -f "$py")")")
  [ -d /opt/torch/.venv ] && venv=/opt/torch/.venv
  echo "python: $py venv: $venv" >> "$sum"
  step check-python 120 "$nv" check --python "$venv" --json --timeout 100000
  step check-python-text 120 "$nv" check --python "$venv" --timeout 100000
  # What the frameworks themselves say, to judge check --python against.
  step torch-truth 120 "$py" -c 'import torch,json; print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "available": torch.cuda.is_available(), "cc": torch.cuda.get_device_capability(0) if torch.cuda.is_available() else None, "arch_list": torch.cuda.get_arch_list(), "x": float((torch.ones(4, device="cuda") * 2).sum()) if torch.cuda.is_available() else None}))'
  step jax-truth 120 "$py" -c 'import jax; print(jax.__version__, jax.devices())'
  step cupy-truth 120 "$py" -c 'import cupy; print(cupy.__version__, cupy.cuda.runtime.runtimeGetVersion(), cupy.cuda.runtime.driverGetVersion(), int(cupy.arange(4).sum()))'
  # scan against cuobjdump on real CUDA libraries (issue 21).
  site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null)
  echo "site-packages: $site" >> "$sum"
  ls -la "$site/nvidia"/*/lib "$site/torch/lib" > "$raw/libs.txt" 2>&1
  for lib in "$site"/nvidia/*/lib/libcublasLt.so.* "$site"/nvidia/*/lib/libcufft.so.* "$site"/nvidia/*/lib/libcudart.so.* "$site"/torch/lib/libtorch_cuda.so; do
    [ -f "$lib" ] || continue
    n=$(basename "$lib")
    step "scan-$n" 60 "$nv" scan --json --timeout 50000 "$lib"
    step "cuobjdump-$n" 60 cuobjdump --list-elf --list-ptx "$lib"
  done
  step check-binary-torch 60 "$nv" check --binary "$site/torch/lib" --json --timeout 50000
  # The runs above are single and cold (the first read of each library); the benchmark is warm,
  # medians of 3, every real CUDA library here over 1 MB (issue 21's "every real NVIDIA
  # library tried").
  libs=$(find "$site"/nvidia/*/lib "$site"/torch/lib -maxdepth 1 -type f -name '*.so*' -size +1M 2>/dev/null | sort)
  # shellcheck disable=SC2086 # one word per library path (no spaces in site-packages)
  [ -n "$libs" ] && step scan-bench 300 env TOOLS="$bundle/bench-tools" NVPROBE="$nv" \
    scripts/bench-scan-vs-cuobjdump.sh -n 3 $libs
  # The embedded API's warm call on this machine (issue 24).
  [ -x "$bundle/installer" ] && step api-bench 60 "$bundle/installer" --bench 2000
  step cuobjdump-version 10 cuobjdump --version
  step bench 240 python3 scripts/bench --runs 200 --bin "$nv" --tools "$bundle/bench-tools"
  # Where the machine's own run spends its time, which a replay cannot show (the host's
  # libraries resolved by realpath, the real device nodes, the driver's answers): its system
  # calls with their times, and the run against the replay of its own capture and without
  # the sandbox, timed alike (bench-ab: the same binary as OLD and NEW).
  if command -v strace > /dev/null; then
    step strace-c 30 strace -f -c -o "$raw/strace-c.txt" "$nv" --json
    step strace-T 30 strace -f -tt -T -o "$raw/strace-T.txt" "$nv" --json
  fi
  ab=$(mktemp -d)
  step capture-for-ab 60 "$nv" --timeout 30000 capture --redact --out "$ab/capture"
  step host-vs-replay 150 python3 scripts/bench-ab "$nv" "$nv" --runs 200 \
    --tools "$bundle/bench-tools" -- --json -- --json --root "$ab/capture" -- --json --no-sandbox
  rm -rf "$ab"
  tar -C "$(dirname "$raw")" -czf "$out/raw.tgz" raw
  echo "== bench" >> "$sum"; tail -30 "$raw/bench.out" >> "$sum"
  echo "== host-vs-replay" >> "$sum"; cat "$raw/host-vs-replay.out" >> "$sum" 2>/dev/null
  echo "== api-bench" >> "$sum"; cat "$raw/api-bench.out" >> "$sum" 2>/dev/null
  echo "== scan-bench" >> "$sum"; cat "$raw/scan-bench.out" >> "$sum" 2>/dev/null
  echo "== gpu-tests" >> "$sum"; tail -5 "$out/gpu-tests.log" >> "$sum"
  cat "$sum"
  ;;
bench)
  # There, like run but only the timings (about a minute): scripts/bench, the API's warm call,
  # and where strace exists the system calls of a plain run and of one API call.
  out=${2:?usage: scripts/gpu-check.sh bench OUTDIR}
  mkdir -p "$out"
  nv=$PWD/$bundle/nvprobe
  {
    echo "== $(date -u) $(uname -r) $(nproc) CPUs; $(head -1 /proc/driver/nvidia/version 2>/dev/null || echo 'no NVIDIA driver')"
    echo "== api (installer --bench 2000)"; timeout 60 "$bundle/installer" --bench 2000 2>&1
    echo "== bench"; timeout 240 python3 scripts/bench --runs 200 --bin "$nv" --tools "$bundle/bench-tools" 2>/dev/null
    if command -v strace > /dev/null; then
      echo "== strace -c nvprobe --json"; timeout 30 strace -c -f "$nv" --json 2>&1 >/dev/null | head -25
      echo "== strace -c installer --bench 1"; timeout 30 strace -c -f "$bundle/installer" --bench 1 2>&1 >/dev/null | head -25
    else
      echo "== no strace here"
    fi
  } > "$out/bench.txt" 2>&1
  cat "$out/bench.txt"
  ;;
fixtures)
  # Here, after a run: its two capture bundles become tests/real/NAME{,-deep} with golden
  # reports (review them, then commit). The captures were taken with --redact (no UUIDs or
  # serials); their large sparse files are packed for git (scripts/pack-sparse.py).
  src=${2:?usage: scripts/gpu-check.sh fixtures DIR_WITH_captures.tgz [NAME]}
  set -e
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$src/captures.tgz" -C "$tmp"
  name=${3:-}
  if [ -z "$name" ]; then
    ver=$(grep -o '[0-9]\{3\}\.[0-9]\{1,3\}\(\.[0-9]\{1,3\}\)\?' \
      "$tmp/capture/proc/driver/nvidia/version" 2>/dev/null | head -1 || true)
    [ "$(cat "$tmp/capture/proc/sys/kernel/osrelease" 2>/dev/null)" = 4.4.0 ] && rt=gvisor- || rt=
    # The first word with a digit of the GPU's model as the driver names it ("NVIDIA H100
    # 80GB HBM3" -> h100, "NVIDIA GeForce RTX 4090" -> 4090).
    gpu=$(awk -F'\t' '/^Model:/ { n = split($NF, w, " ");
        for (i = 1; i <= n; i++) if (w[i] ~ /[0-9]/) { print tolower(w[i]); exit } }' \
      "$tmp"/capture/proc/driver/nvidia/gpus/*/information 2>/dev/null | head -1 | tr -cd 'a-z0-9-')
    name=real-${gpu:-gpu}-$rt${ver:-unknown-driver}
  fi
  for c in capture capture-deep; do
    dest=tests/real/$name${c#capture}
    [ -e "$dest" ] && { echo "$dest exists: pass another NAME" >&2; exit 1; }
    cp -a "$tmp/$c" "$dest"
    # git keeps no empty directory (tests/it/golden.rs checks that none is left).
    find "$dest" -depth -type d -empty -delete
    python3 scripts/pack-sparse.py "$dest"
    echo "bundle: $dest ($(du -sh "$dest" | cut -f1))" >&2
  done
  NVPROBE_BLESS=1 cargo test -q -p nvprobe-tests golden >&2
  git status --short tests/ >&2
  cat >&2 <<'EOF'
Next: what the machine itself said (raw.tgz: nvidia-smi, nvidia-smi-q, torch-truth,
cupy-truth, jax-truth) goes into tests/it/real.rs as the new bundles' expectations (the test
real_bundles_all_have_expectations fails until then) and into tests/real/README.md. Then cargo
test --workspace, and commit.
EOF
  ;;
*)
  sed -n '2,17p' "$0" >&2
  exit 2
  ;;
esac
