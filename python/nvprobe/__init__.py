"""nvprobe, packaged as a wheel: the static `nvprobe` binary is installed as a command
(`nvprobe`, `uvx nvprobe`, `python -m nvprobe`); this package only finds it, and holds the
variantlib plugin (`nvprobe.variant`). Standard library only.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

__all__ = ["find_nvprobe_bin"]


def find_nvprobe_bin() -> Path:
    """The `nvprobe` executable: `NVPROBE_BIN`, else the one installed by this wheel."""
    if override := os.environ.get("NVPROBE_BIN"):
        return Path(override)
    exe = "nvprobe"
    # The scripts directory of the environment this package is installed in (a venv, the
    # user scheme, a `uv tool` environment), then PATH.
    candidates = [Path(sysconfig.get_path("scripts")) / exe]
    scheme = f"{os.name}_user"
    if scheme in sysconfig.get_scheme_names():
        candidates.append(Path(sysconfig.get_path("scripts", scheme)) / exe)
    candidates.append(Path(sys.prefix) / "bin" / exe)
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which(exe)
    if found:
        return Path(found)
    raise FileNotFoundError("the nvprobe binary of the nvprobe wheel was not found")
