"""A variantlib provider plugin backed by the bundled `nvprobe` binary.

variantlib finds it through the `variant_plugins` entry point `nvprobe` (the namespace). It
answers with the features nvidia-variant-provider defines (`cuda_version_lower_bound`,
`cuda_version_upper_bound`, `sm_arch`, same values, same order), but computed by
`nvprobe export --format wheel-variant --json`: from the kernel driver's files, the user-mode
driver on disk and the GPUs on the PCI bus, with no NVML, within nvprobe's deadline.

Environment:
- `NVPROBE_BIN`: the nvprobe binary to run (default: the one this wheel installed).
- `NVPROBE_VARIANT_ROOT`: read the machine from this directory (`nvprobe --root`), for tests
  and for probing a mounted host from a container.

Standard library only: variantlib runs plugins in a bare subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from dataclasses import dataclass, field
from functools import cache

from nvprobe import find_nvprobe_bin

__all__ = ["NvprobeVariantPlugin", "VariantFeatureConfig"]

# nvprobe's own deadline is 2 s; the subprocess gets a little more to start and write.
_TIMEOUT_S = 5


@dataclass(frozen=True)
class VariantFeatureConfig:
    """One feature: its name, acceptable values (most preferred first), multi-valued or not."""

    name: str
    values: list[str] = field(default_factory=list)
    multi_value: bool = False


def _export() -> dict | None:
    """`nvprobe export --format wheel-variant --json`, parsed; None (with a warning) on failure."""
    try:
        cmd = [str(find_nvprobe_bin())]
        if root := os.environ.get("NVPROBE_VARIANT_ROOT"):
            cmd += ["--root", root]
        cmd += ["export", "--format", "wheel-variant", "--json"]
        done = subprocess.run(  # noqa: S603 (a fixed command line)
            cmd, capture_output=True, timeout=_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        warnings.warn(f"nvprobe could not run: {err}", UserWarning, stacklevel=2)
        return None
    # Exit 1 means "a finding of severity error"; the properties are still the answer (none
    # where CUDA cannot start). Anything else is a usage error or a crash.
    if done.returncode not in (0, 1):
        err = done.stderr.decode("utf-8", "replace").strip()
        warnings.warn(
            f"nvprobe exited {done.returncode}: {err}", UserWarning, stacklevel=2
        )
        return None
    try:
        data = json.loads(done.stdout)
    except ValueError as err:
        warnings.warn(f"nvprobe wrote no JSON: {err}", UserWarning, stacklevel=2)
        return None
    return data if isinstance(data, dict) else None


class NvprobeVariantPlugin:
    """The provider: class methods, as variantlib's `PluginType` protocol allows."""

    namespace = "nvprobe"
    # The supported values depend on the machine.
    all_properties_compatible = False

    @classmethod
    @cache
    def get_supported_configs(cls) -> list[VariantFeatureConfig]:
        """This machine's properties, most preferred first; none where CUDA cannot start."""
        data = _export()
        if data is None:
            return []
        return [
            VariantFeatureConfig(
                name=str(f["name"]),
                values=[str(v) for v in f["values"]],
                multi_value=bool(f["multi_value"]),
            )
            for f in data.get("features", [])
        ]

    @classmethod
    @cache
    def get_all_configs(cls) -> list[VariantFeatureConfig]:
        """Every value a machine can have (nvidia-variant-provider's ranges: CUDA 11-15.20,
        SM 5.0-12.9)."""
        cuda = [
            v
            for major in range(15, 10, -1)
            for v in [*(f"{major}.{minor}" for minor in range(20, -1, -1)), f"{major}"]
        ]
        sm = [
            f"{major}{minor}_{kind}"
            for kind in ("real", "virtual")
            for major in range(12, 4, -1)
            for minor in range(9, -1, -1)
        ]
        return [
            VariantFeatureConfig("cuda_version_lower_bound", cuda),
            VariantFeatureConfig("cuda_version_upper_bound", cuda),
            VariantFeatureConfig("sm_arch", sm, multi_value=True),
        ]
