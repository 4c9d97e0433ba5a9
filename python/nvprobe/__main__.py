"""`python -m nvprobe ARGS`: runs the bundled binary with ARGS, with its exit code."""

from __future__ import annotations

import os
import sys

from nvprobe import find_nvprobe_bin


def _run() -> None:
    binary = os.fsdecode(find_nvprobe_bin())
    os.execv(binary, [binary, *sys.argv[1:]])


if __name__ == "__main__":
    _run()
