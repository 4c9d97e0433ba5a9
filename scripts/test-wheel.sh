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
set -euo pipefail
cd "$(dirname "$0")/.."
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
