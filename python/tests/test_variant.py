"""nvprobe's variantlib plugin against nvidia-variant-provider, through variantlib itself.

Run in a virtual environment holding the nvprobe wheel, variantlib and nvidia-variant-provider
(scripts/test-wheel.sh sets it up):

    python python/tests/test_variant.py tests/fixtures

For every fixture machine, variantlib's entry-point loader (which finds both plugins) asks
for the supported configs twice:
- nvprobe's plugin (namespace `nvprobe`) with `NVPROBE_VARIANT_ROOT` set to the fixture;
- nvidia-variant-provider (namespace `nvidia`) with the inputs it would read through NVML on
  that machine, taken from nvprobe's report and passed through its own override variables:
  the user-mode driver's CUDA version (`cuda.user_mode_driver_version`, else the kernel
  driver's) and the highest compute capability of the GPUs NVML lists (`cuda.nvml_gpus`).
Where NVML cannot start on the fixture (`cuda.nvml` is not "yes"), the provider finds no
NVML and returns nothing; it is not run there (on a host with NVML it would read the host).
The two must give the same features, values and order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from variantlib.plugins.loader import EntryPointPluginLoader
from variantlib.plugins import loader as _loader

from nvprobe import find_nvprobe_bin

FORCE_CUDA = "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION"
FORCE_SM = "NV_VARIANT_PROVIDER_FORCE_SM_ARCH"
NVIDIA = "nvidia_variant_provider"


def report(root: Path) -> dict:
    done = subprocess.run(  # noqa: S603
        [str(find_nvprobe_bin()), "--root", str(root), "--json"],
        capture_output=True,
        check=False,
    )
    assert done.returncode in (0, 1), (root, done.returncode, done.stderr)
    return json.loads(done.stdout)


def supported(env: dict[str, str]) -> dict[str, list[tuple[str, list[str], bool]]]:
    """variantlib's supported configs per namespace, in the environment `env`."""
    saved = dict(os.environ)
    os.environ.update(env)
    # variantlib caches plugin answers per process; each fixture is a new machine.
    _loader.VARIANT_PROVIDER_CACHE_TABLE.clear()
    try:
        with EntryPointPluginLoader() as loader:
            # variantlib 0.2 keys plugins by entry-point name: `nvprobe` and
            # `nvidia_variant_provider` (whose plugin calls its namespace `nvidia`).
            assert set(loader.namespaces) >= {"nvprobe", NVIDIA}, loader.namespaces
            return {
                ns: [(c.name, list(c.values), c.multi_value) for c in cfg.configs]
                for ns, cfg in loader.get_supported_configs().items()
            }
    finally:
        os.environ.clear()
        os.environ.update(saved)


def provider_inputs(r: dict) -> dict[str, str] | None:
    """What NVML would tell nvidia-variant-provider on the machine of report `r`."""
    cuda = r["cuda"]
    if cuda["nvml"] != "yes":
        return None
    version = cuda.get("user_mode_driver_version") or (r.get("driver") or {}).get(
        "cuda_version"
    )
    assert version, "NVML starts, so the driver has a CUDA version"
    env = {FORCE_CUDA: version}
    ccs = [
        tuple(int(x) for x in r["gpus"][i]["compute_capability"].split("."))
        for i in cuda["nvml_gpus"]
        if r["gpus"][i].get("compute_capability")
    ]
    if ccs:
        env[FORCE_SM] = "{}.{}".format(*max(ccs))
    return env


def main() -> int:
    fixtures = sorted(p for p in Path(sys.argv[1]).iterdir() if p.is_dir())
    assert fixtures, "no fixture machines"
    failures = 0
    for root in fixtures:
        r = report(root)
        ours = supported({"NVPROBE_VARIANT_ROOT": str(root)}).get("nvprobe", [])
        inputs = provider_inputs(r)
        if inputs is None:
            theirs: list = []
            how = "no NVML: nvidia-variant-provider returns nothing"
        else:
            theirs = supported(inputs).get(NVIDIA, [])
            how = " ".join(f"{k}={v}" for k, v in inputs.items())
            if FORCE_SM not in inputs:
                # NVML starts but lists no GPU. nvidia-variant-provider 0.0.2 then raises
                # IndexError (`sorted(cuda_env.architectures, reverse=True)[0]` on an empty
                # list); with no SM forced it asks this host's NVML instead. Compare the CUDA
                # features only; nvprobe gives no `sm_arch` (there is no GPU to build for).
                theirs = [c for c in theirs if c[0] != "sm_arch"]
                how += " (NVML lists no GPU: the provider itself would fail; CUDA compared)"
        ok = ours == theirs
        failures += not ok
        names = ", ".join(f"{n}[{len(v)}]" for n, v, _ in ours) or "none"
        print(f"{'ok  ' if ok else 'FAIL'} {root.name}: {names} ({how})")
        if not ok:
            print(f"     nvprobe: {ours}\n     nvidia:  {theirs}")
    print(f"{len(fixtures) - failures}/{len(fixtures)} fixtures agree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
