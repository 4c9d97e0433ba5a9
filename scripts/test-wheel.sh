#!/usr/bin/env bash
# Tests the nvprobe wheel as a user gets it, then its variantlib plugin.
#
# Usage: scripts/test-wheel.sh [WHEEL...]   (default: build them with scripts/build-wheel.sh)
#        The manylinux wheel of those given is tested (pip on this glibc machine refuses the
#        musllinux one; scripts/build-wheel.sh checks its contents).
#
# 1. `pip install --no-index WHEEL` into a fresh virtual environment (no network): `nvprobe
#    --json`, `nvprobe schema` and `python -m nvprobe --version` run from there; `nvprobe
#    --cross-check` runs the wheel's own nvprobe-shim (installed beside nvprobe).
# 2. `uvx --offline --from WHEEL nvprobe --json` with an empty uv cache.
# 3. variantlib and nvidia-variant-provider (python/tests/vendor, sha256-checked) beside the
#    wheel: python/tests/test_variant.py compares the two plugins on every fixture machine.
# Steps 2 and 3 take uv and variantlib (pinned below) from PyPI the first time, into
# target/wheel-tools and target/wheel-test; each says "skipped" when it cannot get them.
#
# scripts/test-wheel.sh --arch aarch64 [WHEEL]   (default: scripts/build-wheel.sh --target
#   aarch64-unknown-linux-musl) runs the aarch64 wheel's binary under qemu-aarch64(-static)
#   (apt-get install qemu-user-static): it must be an aarch64 static executable, and `schema`,
#   `--root` a Jetson fixture and `--root` an x86 8-GPU fixture must give the expected answers
#   (and, where the x86_64 release binary is built, the same report as it on the Jetson, and
#   the same driver and GPUs on the x86 machine, whose x86-64 libraries an aarch64 loader
#   would not load: there the CUDA answer differs by design). Says "skipped: no qemu-aarch64"
#   and exits 0 without qemu.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--arch" ]; then
  [ "${2:-}" = aarch64 ] || { echo "error: --arch aarch64 is the only one" >&2; exit 2; }
  qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
  if [ -z "$qemu" ]; then echo "skipped: no qemu-aarch64"; exit 0; fi
  wheel=${3:-$(scripts/build-wheel.sh --target aarch64-unknown-linux-musl | head -1)}
  case "$(basename "$wheel")" in *aarch64*) ;; *) echo "error: $wheel is not an aarch64 wheel" >&2; exit 1 ;; esac
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m zipfile -e "$wheel" "$work/w"
  bin=$(find "$work/w" -path '*.data/scripts/nvprobe' -type f)
  [ -n "$bin" ] || { echo "error: no nvprobe in $wheel" >&2; exit 1; }
  chmod +x "$bin"
  readelf -hW "$bin" | grep -q 'Machine:.*AArch64' || { echo "error: $bin is not aarch64" >&2; exit 1; }
  if readelf -lW "$bin" | grep -q INTERP; then echo "error: $bin is not static" >&2; exit 1; fi
  echo "== the aarch64 wheel's nvprobe under $qemu"
  run() { set +e; "$qemu" "$bin" "$@"; local c=$?; set -e; [ "$c" -le 1 ] || { echo "nvprobe $* exited $c" >&2; exit 1; }; }
  run schema > "$work/schema.json"
  run --root tests/fixtures/jetson-orin-l4t-36 --json > "$work/jetson.json"
  run --root tests/fixtures/bare-metal-h100x8-open-580 --json > "$work/h100.json"
  run --root tests/fixtures/jetson-orin-l4t-36 labels > "$work/jetson.labels"
  python3 - "$work" <<'EOF'
import json, sys
w = sys.argv[1]
schema = json.load(open(f"{w}/schema.json"))
assert schema["$schema"].startswith("https://json-schema.org/"), schema.get("$schema")
j = json.load(open(f"{w}/jetson.json"))
assert j["platform"]["kind"] == "tegra", j["platform"]
assert (j["cuda"]["can_start"], j["cuda"]["version"]) == ("yes", "12.6"), j["cuda"]
labels = open(f"{w}/jetson.labels").read().splitlines()
assert "nvprobe.cuda=yes" in labels and "nvprobe.platform=tegra" in labels, labels
h = json.load(open(f"{w}/h100.json"))
assert h["driver"]["version"] == "580.65.06", h["driver"]
assert [g["compute_capability"] for g in h["gpus"]] == ["9.0"] * 8, h["gpus"]
print("aarch64 ok: schema; jetson-orin-l4t-36 tegra, CUDA 12.6, labels; bare-metal-h100x8-open-580 driver 580.65.06, 8 x sm_90")
EOF
  ref="$(realpath -m "${CARGO_TARGET_DIR:-target}")/x86_64-unknown-linux-musl/release/nvprobe"
  if [ -x "$ref" ]; then
    set +e
    "$ref" --root tests/fixtures/jetson-orin-l4t-36 --json > "$work/ref-jetson.json"
    "$ref" --root tests/fixtures/bare-metal-h100x8-open-580 --json > "$work/ref-h100.json"
    set -e
    python3 - "$work" <<'EOF'
import json, sys
w = sys.argv[1]
def load(name):
    r = json.load(open(f"{w}/{name}.json"))
    # The sandbox differs by design (no seccomp list for aarch64; qemu-user has no Landlock).
    r["sources"] = [s for s in r["sources"] if s["name"] != "sandbox"]
    return r
assert load("jetson") == load("ref-jetson"), "jetson-orin-l4t-36: aarch64 and x86_64 reports differ"
a, b = load("h100"), load("ref-h100")
for key in ("driver", "gpus"):
    assert a[key] == b[key], f"bare-metal-h100x8-open-580: {key} differs between aarch64 and x86_64"
print("aarch64 = x86_64: the Jetson report; the x86 machine's driver and GPUs")
EOF
  else
    echo "skipped: the comparison with x86_64 (no $ref)"
  fi
  exit 0
fi
UV_VERSION=0.13.9
VARIANTLIB_VERSION=0.2.2
NVP_WHEEL=python/tests/vendor/nvidia_variant_provider-0.0.2-py3-none-any.whl
NVP_SHA256=9e2a47474224ad2d6bd1e76dc2a6ab609602d4d06f77bed61279827179fc185b
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
if [ $# -eq 0 ]; then set -- $(scripts/build-wheel.sh); fi
wheel=
for w in "$@"; do case "$(basename "$w")" in *manylinux*) wheel=$w; break ;; esac; done
[ -n "$wheel" ] || { echo "error: no manylinux wheel among: $*" >&2; exit 1; }
wheel=$(realpath "$wheel")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== the wheel in a fresh virtual environment, offline"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check --no-index "$wheel"
set +e
"$work/venv/bin/nvprobe" --json > "$work/report.json"
code=$?
set -e
if [ "$code" -gt 1 ]; then echo "nvprobe --json exited $code" >&2; exit 1; fi
"$work/venv/bin/nvprobe" schema > "$work/schema.json"
"$work/venv/bin/python" - "$work/report.json" "$work/schema.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
schema = json.load(open(sys.argv[2]))
assert report["schema_version"] == 1, report
assert schema["$schema"].startswith("https://json-schema.org/"), schema.get("$schema")
print("report ok:", [f["code"] for f in report["findings"]], "; schema ok")
EOF
"$work/venv/bin/python" -m nvprobe --version

echo "== nvprobe --cross-check runs the wheel's nvprobe-shim"
[ -x "$work/venv/bin/nvprobe-shim" ] || { echo "no executable nvprobe-shim beside nvprobe" >&2; exit 1; }
set +e
env -u NVPROBE_SHIM "$work/venv/bin/nvprobe" --cross-check --json > "$work/cross.json"
code=$?
set -e
if [ "$code" -gt 1 ]; then echo "nvprobe --cross-check --json exited $code" >&2; exit 1; fi
"$work/venv/bin/python" - "$work/cross.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
status = report["cross_check"]["status"]
detail = next(s["detail"] for s in report["sources"] if s["name"] == "nvml-shim")
# The shim was found and answered in its protocol: either NVML ran (agree/disagree), or the
# shim's own dlopen said why not. "no nvprobe-shim next to nvprobe" would mean it was not found,
# "failed" that it could not start (a glibc it cannot use).
if status in ("agree", "disagree"):
    print("cross-check ok: NVML ran through the wheel's shim:", status)
else:
    assert status == "unavailable", (status, detail)
    assert detail.startswith("NVML is not available: libnvidia-ml.so.1 cannot be loaded: "), detail
    print("cross-check ok: the wheel's shim ran; here", detail)
EOF

echo "== uvx --offline --from WHEEL nvprobe --json"
tools="$target_dir/wheel-tools"
if ! "$tools/bin/uv" --version 2>/dev/null | grep -q "^uv $UV_VERSION"; then
  python3 -m venv "$tools" && "$tools/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION" \
    || true
fi
if "$tools/bin/uv" --version >/dev/null 2>&1; then
  set +e
  UV_CACHE_DIR="$work/uv-cache" UV_TOOL_DIR="$work/uv-tools" \
    "$tools/bin/uvx" --offline --no-config --from "$wheel" nvprobe --json > "$work/uvx.json"
  code=$?
  set -e
  if [ "$code" -gt 1 ]; then echo "uvx nvprobe --json exited $code" >&2; exit 1; fi
  python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["schema_version"] == 1; print("uvx ok")' "$work/uvx.json"
else
  echo "skipped: uv $UV_VERSION could not be installed from PyPI"
fi

echo "== the variantlib plugin against nvidia-variant-provider, on every fixture"
echo "$NVP_SHA256  $NVP_WHEEL" | sha256sum -c --quiet
venv="$target_dir/wheel-test"
if ! "$venv/bin/python" -c "import variantlib" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "variantlib==$VARIANTLIB_VERSION" || true
fi
if "$venv/bin/python" -c "import variantlib" 2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check --no-index --force-reinstall --no-deps \
    "$wheel" "$NVP_WHEEL"
  "$venv/bin/python" python/tests/test_variant.py "$PWD/tests/fixtures"
else
  echo "skipped: variantlib $VARIANTLIB_VERSION could not be installed from PyPI"
fi
echo "wheel tests passed"
