#!/usr/bin/env python3
"""Writes data/torch-builds.tsv (PyTorch's x86-64 Linux CUDA wheels and the GPU code each
carries, read by `nvprobe export --format uv`: probe/src/export.rs) from the vendored build
scripts that set TORCH_CUDA_ARCH_LIST:

- data/vendor/pytorch-build_cuda-799d09f.sh: pytorch/pytorch .ci/manywheel/build_cuda.sh at
  799d09f215740cc4fb78e0bd278dce469e33ddcb (cu126, cu128, cu129, cu130);
- data/vendor/pytorch-builder-release-2.4-build_cuda.sh: pytorch/builder
  manywheel/build_cuda.sh on branch release/2.4 at 4ce1afeb2262808c1e9707b93682ac66acf2db2a,
  which built the torch 2.4 wheels (cu118, cu121, cu124).

The scripts are read, never run: a small reader of the shell they use (one base assignment, a
`case ${CUDA_VERSION}` whose branches assign TORCH_CUDA_ARCH_LIST from literals,
`${TORCH_CUDA_ARCH_LIST}`, `${TORCH_CUDA_ARCH_LIST//A/B}` and the aarch64 `$([[ ... ]] && echo
.. || echo ..)`, with `if [[ "$VAR" == "lit" ]]` blocks) evaluates each branch for a manywheel
x86_64 build; anything else in an assignment is an error, so a changed script is noticed, not
guessed. `N.N+PTX` in the list is SASS and PTX for N.N.

Modes: write (default), --check (exit 1 with a unified diff when the file on disk differs).
Run from the workspace: python3 scripts/gen-torch-builds.py [--check]
"""

import argparse
import difflib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
OUT = os.path.join(ROOT, "data", "torch-builds.tsv")
COMMAND = "python3 scripts/gen-torch-builds.py"

# (vendored file, where it comes from, URL, the CUDA versions taken from it)
# The torch release a source's lists are known for ("" for the build script at a recent commit,
# which every newer wheel on those indexes comes from).
SOURCES = [
    ("data/vendor/pytorch-builder-release-2.4-build_cuda.sh",
     "pytorch/builder manywheel/build_cuda.sh (release/2.4, the torch 2.4 wheels) at 4ce1afeb2262808c1e9707b93682ac66acf2db2a",
     "https://github.com/pytorch/builder/blob/4ce1afeb2262808c1e9707b93682ac66acf2db2a/manywheel/build_cuda.sh",
     ["11.8", "12.1", "12.4"], "2.4"),
    ("data/vendor/pytorch-build_cuda-799d09f.sh",
     "pytorch/pytorch .ci/manywheel/build_cuda.sh at 799d09f215740cc4fb78e0bd278dce469e33ddcb",
     "https://github.com/pytorch/pytorch/blob/799d09f215740cc4fb78e0bd278dce469e33ddcb/.ci/manywheel/build_cuda.sh",
     ["12.6", "12.8", "12.9", "13.0"], ""),
]

# What the build is: a manywheel (not libtorch) build for x86_64.
ENV = {"ARCH": "x86_64", "PACKAGE_TYPE": "manywheel", "GPU_ARCH_TYPE": "cuda"}
VAR = "TORCH_CUDA_ARCH_LIST"
ASSIGN = re.compile(r'^\s*(?:export\s+)?TORCH_CUDA_ARCH_LIST="([^"]*)"\s*(?:;;)?\s*(?:#.*)?$')
COND = re.compile(r'^\s*if \[\[ "\$(\w+)" ==? "([^"]*)" \]\]; then\s*$')
BRANCH = re.compile(r'^\s*([0-9.\[\]*]+)\)\s*(.*)$')
ARCH_ECHO = re.compile(r'\$\(\[\[ "\$ARCH" == "(\w+)" \]\] && echo "([^"]*)" \|\| echo "([^"]*)"\)')
SUBST = re.compile(r'\$\{TORCH_CUDA_ARCH_LIST//([^/}]*)/([^}]*)\}')


class ScriptError(Exception):
    pass


def expand(value, current):
    """The value of a double-quoted assignment, `current` being TORCH_CUDA_ARCH_LIST."""
    def subst(m):
        if current is None:
            raise ScriptError("${TORCH_CUDA_ARCH_LIST//..} before any assignment")
        return current.replace(m.group(1), m.group(2))
    value = SUBST.sub(subst, value)
    if "${TORCH_CUDA_ARCH_LIST}" in value:
        if current is None:
            raise ScriptError("${TORCH_CUDA_ARCH_LIST} before any assignment")
        value = value.replace("${TORCH_CUDA_ARCH_LIST}", current)
    if "$" in value or "`" in value:
        raise ScriptError(f"unsupported shell expression in an assignment: {value!r}")
    return value


def run_lines(lines, current):
    """Runs the assignments of a branch body (with its if/else/fi blocks); returns the list."""
    stack = []  # one bool per open `if`: whether its current arm runs
    for line in lines:
        code = line.split("#", 1)[0].rstrip() if not line.lstrip().startswith("TORCH") else line
        stripped = code.strip()
        live = all(stack)
        m = COND.match(code)
        if m:
            stack.append(ENV.get(m.group(1), "") == m.group(2))
            continue
        if stripped.startswith("if "):
            raise ScriptError(f"unsupported condition: {line.strip()!r}")
        if stripped == "else":
            if not stack:
                raise ScriptError("else without if")
            stack[-1] = not stack[-1]
            continue
        if stripped == "fi":
            if not stack:
                raise ScriptError("fi without if")
            stack.pop()
            continue
        if VAR + "=" in line:
            # The aarch64 echo first: its quotes are inside the assignment's.
            a = ASSIGN.match(ARCH_ECHO.sub(lambda m: m.group(2) if ENV["ARCH"] == m.group(1) else m.group(3), line))
            if not a:
                raise ScriptError(f"unsupported assignment: {line.strip()!r}")
            if live:
                current = expand(a.group(1), current)
    if stack:
        raise ScriptError("if without fi")
    return current


def arch_lists(text):
    """CUDA version (a literal case pattern) -> TORCH_CUDA_ARCH_LIST, for a manywheel x86_64
    build, from the excerpt of a build_cuda.sh."""
    lines = text.split("\n")
    try:
        case_at = next(i for i, l in enumerate(lines) if l.strip().startswith("case ${CUDA_VERSION} in"))
        esac_at = next(i for i, l in enumerate(lines) if l.strip() == "esac")
    except StopIteration:
        raise ScriptError("no `case ${CUDA_VERSION} in ... esac`")
    base = run_lines(lines[:case_at], None)
    out = {}
    branch = None
    body = []
    for line in lines[case_at + 1:esac_at]:
        if branch is None:
            if not line.strip() or line.strip().startswith("#"):
                continue
            m = BRANCH.match(line)
            if not m:
                raise ScriptError(f"not a case branch: {line.strip()!r}")
            branch, rest = m.group(1), m.group(2)
            body = [rest]
        else:
            body.append(line)
        # A branch ends at `;;` outside a comment.
        if ";;" in body[-1].split("#", 1)[0]:
            if branch != "*":
                out[branch] = run_lines(body, base)
            branch, body = None, []
    if branch is not None:
        raise ScriptError(f"case branch {branch} not terminated")
    return out


def rows():
    out = []
    for path, where, url, versions, torch in SOURCES:
        text = open(os.path.join(ROOT, path)).read()
        excerpt = text.split("# --- excerpt ---\n", 1)[1]
        lists = arch_lists(excerpt)
        for v in versions:
            if v not in lists:
                raise ScriptError(f"{path}: no branch for CUDA {v}")
            entries = [e for e in lists[v].split(";") if e]
            sass = [e.removesuffix("+PTX") for e in entries]
            ptx = [e.removesuffix("+PTX") for e in entries if e.endswith("+PTX")]
            for e in sass:
                if not re.fullmatch(r"\d+\.\d+", e):
                    raise ScriptError(f"{path}: CUDA {v}: not a compute capability: {e!r}")
            if len(ptx) > 1:
                raise ScriptError(f"{path}: CUDA {v}: PTX for more than one architecture")
            sass = sorted(set(sass), key=lambda c: tuple(int(x) for x in c.split(".")))
            backend = "cu" + v.replace(".", "")
            source = f'{where}: TORCH_CUDA_ARCH_LIST for CUDA {v} (manywheel, x86_64) = "{lists[v]}" ({url})'
            out.append((tuple(int(x) for x in v.split(".")), backend, v, " ".join(sass), ptx[0] if ptx else "", torch, source))
    out.sort()
    return out


def render():
    head = [
        f"# @generated by {COMMAND} from " + ", ".join(p for p, *_ in SOURCES) + " — DO NOT EDIT",
        f"# regenerate: {COMMAND}   (verify: {COMMAND} --check)",
        "# PyTorch's CUDA builds for x86-64 Linux and the GPU code each carries, for",
        "# `nvprobe export --format uv` (probe/src/export.rs, include_str!). The test",
        "# export::tests::export_torch_builds_table_is_valid checks every row. cu118, cu121 and cu124",
        "# are the torch 2.4 wheels (pytorch/builder release/2.4); the others the build script at the",
        "# pytorch/pytorch commit named.",
        "# Columns (tab-separated):",
        "#   backend  uv's --torch-backend / UV_TORCH_BACKEND name, and the download.pytorch.org/whl index",
        "#   cuda     the CUDA release the build is for (its runtime: X.Y)",
        "#   sass     the compute capabilities it carries SASS for (space-separated)",
        "#   ptx      the compute capability it carries PTX for, empty when none",
        "#   torch    the torch release the list is known for (its index may hold newer torch built",
        "#            with another list), empty for the build script the newest wheels come from",
        "#   source   where the list is set (URL at a commit)",
        "backend\tcuda\tsass\tptx\ttorch\tsource",
    ]
    body = ["\t".join(r[1:]) for r in rows()]
    return "\n".join(head + body) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 (with a diff) when data/torch-builds.tsv is not up to date")
    args = ap.parse_args()
    try:
        new = render()
    except (ScriptError, OSError) as e:
        sys.exit(f"gen-torch-builds: {e}")
    if args.check:
        old = open(OUT).read() if os.path.exists(OUT) else ""
        if old != new:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), OUT, "generated"))
            print(f"data/torch-builds.tsv is not up to date: run {COMMAND}", file=sys.stderr)
            return 1
        print("data/torch-builds.tsv is up to date")
        return 0
    with open(OUT, "w") as f:
        f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
