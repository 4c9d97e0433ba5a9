#!/usr/bin/env bash
# Builds a release into dist/ (gitignored):
#   dist/nvprobe                 the fully static binary (x86_64-unknown-linux-musl), checked static
#   dist/nvprobe-shim            the glibc NVML shim for --cross-check (dynamic, host target)
#   dist/completions/            nvprobe.bash, _nvprobe (zsh), nvprobe.fish
#   dist/man/                    nvprobe.1 and nvprobe-<command>.1
#   dist/nvprobe.schema.json     the JSON Schema of the report (the value `nvprobe schema` prints)
#   dist/SHA256SUMS              sha256 of every file above (`cd dist && sha256sum -c SHA256SUMS`)
# Completions and man pages come from the clap definition through scripts/gen-docs, a
# build-time tool, so clap_complete and clap_mangen never enter the shipped binary.
# Usage: scripts/release.sh [DIST_DIR]   (default: dist)
set -euo pipefail
cd "$(dirname "$0")/.."
dist=${1:-dist}
target_dir=${CARGO_TARGET_DIR:-target}

rm -rf "$dist"
mkdir -p "$dist"

echo "== static nvprobe" >&2
bin=$(scripts/build-static.sh)
install -m 0755 "$bin" "$dist/nvprobe"

echo "== nvprobe-shim (glibc)" >&2
cargo build --release --locked -p nvprobe-shim --bin nvprobe-shim >&2
install -m 0755 "$target_dir/release/nvprobe-shim" "$dist/nvprobe-shim"

echo "== completions and man pages" >&2
cargo run --release --locked -q -p nvprobe-gen-docs -- "$dist" >&2

echo "== schema" >&2
install -m 0644 probe/schema/report.schema.json "$dist/nvprobe.schema.json"
# The binary embeds it without indentation: the same JSON value.
"$dist/nvprobe" schema | python3 -c 'import json, sys; assert json.load(sys.stdin) == json.load(open(sys.argv[1])), "nvprobe schema differs"' "$dist/nvprobe.schema.json"

# The shipped binary works on its own: version, and a report (exit 0 or 1, never 2 or 3).
"$dist/nvprobe" --version >&2
set +e
"$dist/nvprobe" --json > /dev/null
code=$?
set -e
if [ "$code" -gt 1 ]; then echo "error: $dist/nvprobe --json exited $code" >&2; exit 1; fi

(
  cd "$dist"
  find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs sha256sum > SHA256SUMS
  sha256sum --quiet -c SHA256SUMS
)
echo "== $dist" >&2
(cd "$dist" && ls -l nvprobe nvprobe-shim && cat SHA256SUMS) >&2
echo "$dist"
