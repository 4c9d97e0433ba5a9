#!/usr/bin/env python3
"""Packs the large sparse files of a capture bundle, in place, for git.

A capture keeps a large library's size and offsets: `libcuda.so.580.159.04` is a 96 MB file
holding about 40 KB of headers and notes, the rest a hole. git has no holes: a clone would
write the 96 MB of zeros. So a regular file over 1 MiB whose 4 KiB blocks are mostly zeros
becomes `NAME.nvprobe-sparse`:

    nvprobe-sparse/1 SIZE COUNT\\n
    OFFSET LENGTH\\n            (COUNT lines, ascending, not overlapping)
    the COUNT ranges' bytes, one after another

`nvprobe_tests::RealFixture` (tests/lib.rs) writes the file back, with its holes, before a
test reads the bundle; `unpack_tree` below does the same for scripts/bench.
Usage: scripts/pack-sparse.py DIR
"""
import os
import shutil
import sys

BLOCK = 4096
MIN_SIZE = 1 << 20
SUFFIX = ".nvprobe-sparse"


def ranges(data):
    """The non-zero 4 KiB blocks of `data`, merged into (offset, length) runs."""
    out = []
    for off in range(0, len(data), BLOCK):
        block = data[off:off + BLOCK]
        if block.count(0) == len(block):
            continue
        if out and out[-1][0] + out[-1][1] == off:
            out[-1] = (out[-1][0], out[-1][1] + len(block))
        else:
            out.append((off, len(block)))
    return out


def pack(path):
    st = os.lstat(path)
    with open(path, "rb") as f:
        data = f.read()
    runs = ranges(data)
    kept = sum(n for _, n in runs)
    if kept * 2 > len(data):
        return None
    head = [f"nvprobe-sparse/1 {len(data)} {len(runs)}\n"]
    head += [f"{off} {n}\n" for off, n in runs]
    with open(path + SUFFIX, "wb") as f:
        f.write("".join(head).encode())
        for off, n in runs:
            f.write(data[off:off + n])
    os.chmod(path + SUFFIX, st.st_mode & 0o777)
    os.unlink(path)
    return len(data), kept


def unpack(pack, out):
    """Writes the file the pack `pack` holds to `out`, with its holes and the pack's mode."""
    with open(pack, "rb") as f:
        magic, size, count = f.readline().split()
        if magic != b"nvprobe-sparse/1":
            raise ValueError(f"{pack}: not an nvprobe-sparse/1 pack")
        runs = [tuple(map(int, f.readline().split())) for _ in range(int(count))]
        with open(out, "wb") as o:
            for off, n in runs:
                o.seek(off)
                o.write(f.read(n))
            o.truncate(int(size))
    os.chmod(out, os.stat(pack).st_mode & 0o777)


def unpack_tree(src, dest):
    """A copy of the packed tree `src` at `dest`, its packs written back (links kept as links)."""
    for dirpath, dirs, files in os.walk(src):
        out = os.path.join(dest, os.path.relpath(dirpath, src))
        os.makedirs(out, exist_ok=True)
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                os.symlink(os.readlink(path), os.path.join(out, name))
            elif name.endswith(SUFFIX):
                unpack(path, os.path.join(out, name[:-len(SUFFIX)]))
            elif name in files:
                shutil.copy2(path, os.path.join(out, name))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    for dirpath, _, files in os.walk(sys.argv[1]):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or not os.path.isfile(path) or name.endswith(SUFFIX):
                continue
            if os.path.getsize(path) <= MIN_SIZE:
                continue
            done = pack(path)
            if done:
                print(f"packed {path}: {done[0]} bytes, {done[1]} kept", file=sys.stderr)


if __name__ == "__main__":
    main()
