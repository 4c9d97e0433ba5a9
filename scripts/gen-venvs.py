#!/usr/bin/env python3
"""Writes the fixture Python environments of `probe/tests/python.rs` into `probe/tests/venvs/`.

Each is a virtual environment as `python3.12 -m venv` and pip leave it (`pyvenv.cfg`,
`bin/python3` a link to the base interpreter, `lib/python3.12/site-packages`), trimmed to what
`nvprobe check --python` reads: every `.dist-info` (`METADATA` with the `Requires-Dist` pip
reports for that release, `RECORD` with sha256 and size as pip writes them, `WHEEL`,
`INSTALLER`), `torch/version.py` as torch ships it, and the framework's CUDA libraries. The big
libraries nvprobe does not read (cuBLAS, cuDNN, libtorch_cpu, ...) are listed in `RECORD` but
not written.

The CUDA libraries are the real nvcc 13.5 build `probe/tests/cuda-files/libconcat.so` (SASS
sm_75, sm_90, sm_100, no PTX; needs `libcudart.so.13`): as is for CUDA 13 builds, and for CUDA
12 builds with its `DT_NEEDED` string `libcudart.so.13` replaced by `libcudart.so.12` (the same
length; nothing else changes). Neither carries sm_120 code, as a cu124 wheel does not.

Run from the workspace: python3 scripts/gen-venvs.py
"""

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "probe", "tests", "venvs")
LIB13 = open(os.path.join(HERE, "..", "probe", "tests", "cuda-files", "libconcat.so"), "rb").read()
assert LIB13.count(b"libcudart.so.13\0") == 1
LIB12 = LIB13.replace(b"libcudart.so.13\0", b"libcudart.so.12\0")
# A real sm_61 (Pascal) build needing libcudart.so.12 (scripts/build-sm61-lib.sh).
LIB61 = open(os.path.join(HERE, "..", "probe", "tests", "cuda-files", "libsm61.so"), "rb").read()
# Listed, not written: the RECORD line of a file left out carries the empty file's hash and size.
EMPTY_SHA256 = base64.urlsafe_b64encode(hashlib.sha256(b"").digest()).rstrip(b"=").decode()
LINUX_X86 = '; platform_system == "Linux" and platform_machine == "x86_64"'


class Venv:
    def __init__(self, name, home="/usr/bin", system_site=False):
        self.root = os.path.join(OUT, name)
        self.site = os.path.join(self.root, "lib", "python3.12", "site-packages")
        os.makedirs(self.site)
        flag = " --system-site-packages" if system_site else ""
        with open(os.path.join(self.root, "pyvenv.cfg"), "w") as f:
            f.write(f"home = {home}\ninclude-system-site-packages = {str(system_site).lower()}\nversion = 3.12.3\n"
                    f"executable = {home}/python3.12\n"
                    f"command = {home}/python3 -m venv{flag} /opt/{name}\n")
        os.makedirs(os.path.join(self.root, "bin"))
        os.symlink("/usr/bin/python3.12", os.path.join(self.root, "bin", "python3"))
        os.symlink("python3", os.path.join(self.root, "bin", "python"))

    def dist(self, name, version, requires=(), files=(), listed=(), summary=""):
        """A distribution: `files` (path, bytes) written and listed, `listed` only listed."""
        info = f"{name.replace('-', '_')}-{version}.dist-info"
        record = []
        for path, data in files:
            full = os.path.join(self.site, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        for path, digest, size in listed:
            record.append(f"{path},sha256={digest},{size}")
        meta = [f"Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
                f"Summary: {summary}"]
        meta += [f"Requires-Dist: {r}" for r in requires]
        metadata = ("\n".join(meta) + "\n\n" + summary + "\n").encode()
        wheel = b"Wheel-Version: 1.0\nGenerator: bdist_wheel (0.44.0)\nRoot-Is-Purelib: false\nTag: cp312-cp312-linux_x86_64\n\n"
        for fname, data in (("INSTALLER", b"pip\n"), ("METADATA", metadata), ("WHEEL", wheel)):
            full = os.path.join(self.site, info, fname)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{info}/{fname},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        with open(os.path.join(self.site, info, "RECORD"), "w") as f:
            f.write("\n".join(record) + "\n")


def gen_fixtures():
    """scripts/gen-fixtures.py as a module (its elf_so and the cuda-compat 12.9 note)."""
    spec = importlib.util.spec_from_file_location("gen_fixtures", os.path.join(HERE, "gen-fixtures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class CondaEnv(Venv):
    """A conda environment (`conda create -p PREFIX python=3.12`): no pyvenv.cfg, a real
    `bin/python3.12`, `conda-meta/` with one JSON record per package and `history`. Packages
    pip installs into it get `.dist-info` as in a venv."""

    def __init__(self, name):
        self.root = os.path.join(OUT, name)
        self.site = os.path.join(self.root, "lib", "python3.12", "site-packages")
        os.makedirs(self.site)
        os.makedirs(os.path.join(self.root, "bin"))
        # The interpreter is a file of the environment (not read by nvprobe: empty here).
        open(os.path.join(self.root, "bin", "python3.12"), "wb").close()
        os.symlink("python3.12", os.path.join(self.root, "bin", "python3"))
        os.symlink("python3.12", os.path.join(self.root, "bin", "python"))
        os.makedirs(os.path.join(self.root, "conda-meta"))
        self.history = [f"==> 2025-06-12 09:14:03 <==", f"# cmd: /opt/conda/bin/conda create -p /opt/conda/envs/{name} python=3.12",
                        "# conda version: 25.5.0"]

    def conda_package(self, name, version, build, files, depends=()):
        """A conda package's `conda-meta/NAME-VERSION-BUILD.json` (the fields conda writes;
        `paths_data` trimmed to the paths) and its files (`(path, bytes)`, or `(path, None,
        target)` for a symlink)."""
        paths = []
        for f in files:
            full = os.path.join(self.root, f[0])
            os.makedirs(os.path.dirname(full), exist_ok=True)
            if f[1] is None:
                os.symlink(f[2], full)
                paths.append({"_path": f[0], "path_type": "softlink"})
            else:
                with open(full, "wb") as out:
                    out.write(f[1])
                paths.append({"_path": f[0], "path_type": "hardlink",
                              "sha256": hashlib.sha256(f[1]).hexdigest(), "size_in_bytes": len(f[1])})
        fn = f"{name}-{version}-{build}.conda"
        record = {"build": build, "build_number": int(build.rsplit("_", 1)[-1]), "channel": "https://conda.anaconda.org/conda-forge/linux-64",
                  "constrains": [], "depends": list(depends), "extracted_package_dir": f"/opt/conda/pkgs/{name}-{version}-{build}",
                  "files": [f[0] for f in files], "fn": fn, "license": "LicenseRef-NVIDIA-End-User-License-Agreement",
                  "link": {"source": f"/opt/conda/pkgs/{name}-{version}-{build}", "type": 1}, "name": name,
                  "paths_data": {"paths": paths, "paths_version": 1}, "requested_spec": "", "subdir": "linux-64",
                  "url": f"https://conda.anaconda.org/conda-forge/linux-64/{fn}", "version": version}
        with open(os.path.join(self.root, "conda-meta", f"{name}-{version}-{build}.json"), "w") as out:
            json.dump(record, out, indent=1, sort_keys=True)
            out.write("\n")
        self.history.append(f"+conda-forge/linux-64::{name}-{version}-{build}")

    def close(self):
        with open(os.path.join(self.root, "conda-meta", "history"), "w") as out:
            out.write("\n".join(self.history) + "\n")


def version_py(version, cuda, git="a8d6afb511a69687bbb2b7e88a3cf67917e1697e"):
    cuda = "None" if cuda is None else f"'{cuda}'"
    return (f"from typing import Optional\n\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']\n"
            f"__version__ = '{version}'\ndebug = False\ncuda: Optional[str] = {cuda}\n"
            f"git_version = '{git}'\nhip: Optional[str] = None\nxpu: Optional[str] = None\n").encode()


# torch 2.5.1's CUDA wheels, as its METADATA requires them (pip install --dry-run --report).
CU124 = [("nvidia-cuda-nvrtc-cu12", "12.4.127"), ("nvidia-cuda-runtime-cu12", "12.4.127"),
         ("nvidia-cuda-cupti-cu12", "12.4.127"), ("nvidia-cudnn-cu12", "9.1.0.70"),
         ("nvidia-cublas-cu12", "12.4.5.8"), ("nvidia-cufft-cu12", "11.2.1.3"),
         ("nvidia-curand-cu12", "10.3.5.147"), ("nvidia-cusolver-cu12", "11.6.1.9"),
         ("nvidia-cusparse-cu12", "12.3.1.170"), ("nvidia-nccl-cu12", "2.21.5"),
         ("nvidia-nvtx-cu12", "12.4.127"), ("nvidia-nvjitlink-cu12", "12.4.127")]
TORCH_BASE = ["filelock", "typing-extensions>=4.8.0", "networkx", "jinja2", "fsspec"]
TORCH_TAIL = ['triton==3.1.0; platform_system == "Linux" and platform_machine == "x86_64" and python_version < "3.13"',
              'setuptools; python_version >= "3.12"', 'sympy==1.13.1; python_version >= "3.9"',
              "opt-einsum>=3.3; extra == 'opt-einsum'", "optree>=0.12.0; extra == 'optree'"]


def nvidia_wheels(v, wheels):
    for name, version in wheels:
        module = name.removeprefix("nvidia-").removesuffix("-cu12").removesuffix("-cu13").replace("-", "_")
        lib = "cu13/lib" if name.endswith("-cu13") or version.startswith("13.") else f"{module}/lib"
        v.dist(name, version, listed=[(f"nvidia/{lib}/lib{module}.so", EMPTY_SHA256, 0)],
               summary="CUDA runtime libraries")


def torch_venv(name, version, cuda, lib, wheels, kind=None):
    v = (kind or Venv)(name)
    files = [("torch/__init__.py", b"# torch\n"), ("torch/version.py", version_py(version, cuda))]
    if lib is not None:
        files.append(("torch/lib/libtorch_cuda.so", lib))
    requires = TORCH_BASE + [f"{n}=={w}{LINUX_X86}" for n, w in wheels] + TORCH_TAIL
    v.dist("torch", version, requires=requires, files=files,
           listed=[("torch/lib/libtorch_cpu.so", EMPTY_SHA256, 0)],
           summary="Tensors and Dynamic neural networks in Python with strong GPU acceleration")
    nvidia_wheels(v, wheels)
    return v


def main():
    if not os.path.isdir(os.path.join(HERE, "..", "probe", "tests")):
        sys.exit("run from the workspace: probe/tests not found")
    shutil.rmtree(OUT, ignore_errors=True)
    torch_venv("torch-cu124", "2.5.1+cu124", "12.4", LIB12, CU124)
    # torch 2.9.0+cu130 from download.pytorch.org/whl/cu130: the CUDA 13 wheels have no -cu13
    # suffix (nvidia-cuda-runtime 13.0.96, its libraries in nvidia/cu13/lib).
    torch_venv("torch-cu130", "2.9.0+cu130", "13.0", LIB13, [("nvidia-cuda-runtime", "13.0.96")])
    # torch 2.9.0+cu128: its CUDA 12 wheels as torch 2.9.0's METADATA requires them (trimmed
    # to the runtime and cuBLAS).
    torch_venv("torch-cu128", "2.9.0+cu128", "12.8", LIB12,
               [("nvidia-cuda-runtime-cu12", "12.8.90"), ("nvidia-cublas-cu12", "12.8.4.1")])
    torch_venv("torch-cpu", "2.5.1+cpu", None, None, [])
    # torch 2.6.0+cu126, whose build carries sm_60 SASS (Pascal runs it): its CUDA library is
    # the real sm_61 build libsm61.so (trimmed to the runtime wheel torch 2.6.0 requires).
    torch_venv("torch-cu126", "2.6.0+cu126", "12.6", LIB61, [("nvidia-cuda-runtime-cu12", "12.6.77")])
    # A conda environment with conda-forge's cuda-compat 12.9 (cuda-compat-impl 575.57.08:
    # recipe/build.sh of conda-forge/cuda-compat-feedstock puts libcuda.so.<driver> and its
    # links in PREFIX/cuda-compat; the activation links them into PREFIX/lib) and torch
    # 2.9.0+cu128 installed by pip. The libcuda is a stand-in (the real one is ~100 MB) with the
    # real file name, SONAME and forward-compatibility note (the one of the 575.57.08 compat
    # libcuda, as tests/fixtures' container-h100-535-compat-12.9). The conda-meta records have
    # the fields conda writes; their build strings are made up (conda-forge was not reachable).
    gf = gen_fixtures()
    drv = "575.57.08"
    v = torch_venv("conda-cuda-compat-12.9-torch-cu128", "2.9.0+cu128", "12.8", LIB12,
                   [("nvidia-cuda-runtime-cu12", "12.8.90"), ("nvidia-cublas-cu12", "12.8.4.1")], kind=CondaEnv)
    v.conda_package("cuda-compat-impl", drv, "h4a5a7c8_0", [
        (f"cuda-compat/libcuda.so.{drv}", gf.elf_so("libcuda.so.1", gf.COMPAT_12_9)),
        ("cuda-compat/libcuda.so.1", None, f"libcuda.so.{drv}"),
        ("cuda-compat/libcuda.so", None, "libcuda.so.1"),
    ])
    v.conda_package("cuda-compat", "12.9.1", "ha804496_0", [], depends=[f"cuda-compat-impl {drv} h4a5a7c8_0"])
    v.close()
    # jax with its CUDA 12 plugins: the XLA plugin carries the GPU code; the CUDA wheels are
    # the plugin's `with-cuda` extra.
    v = Venv("jax-cuda12")
    v.dist("jax", "0.4.35", requires=["jaxlib<=0.4.35,>=0.4.34", "ml-dtypes>=0.4.0", "numpy>=1.24",
                                      "jax-cuda12-plugin[with-cuda]<=0.4.35,>=0.4.35; extra == \"cuda12\""],
           files=[("jax/__init__.py", b"# jax\n")], summary="Differentiate, compile, and transform Numpy code.")
    v.dist("jaxlib", "0.4.35", requires=["scipy>=1.10", "numpy>=1.24", "ml-dtypes>=0.2.0"],
           files=[("jaxlib/__init__.py", b"# jaxlib\n")], summary="XLA library for JAX")
    v.dist("jax-cuda12-pjrt", "0.4.35", files=[("jax_plugins/xla_cuda12/xla_cuda_plugin.so", LIB12),
                                               ("jax_plugins/xla_cuda12/__init__.py", b"# plugin\n")],
           summary="JAX XLA PJRT Plugin for NVIDIA GPUs")
    v.dist("jax-cuda12-plugin", "0.4.35", requires=["jax-cuda12-pjrt==0.4.35",
                                                    "nvidia-cuda-runtime-cu12>=12.1.105; extra == \"with-cuda\""],
           files=[("jax_cuda12_plugin/__init__.py", b"# plugin\n")], summary="JAX Plugins for NVIDIA GPUs")
    # cupy-cuda12x: its CUB module holds device code built by nvcc; its other kernels are
    # compiled at run time by NVRTC, which it dlopens (cupy 13.3.0's METADATA requires no
    # nvidia-* wheel): nvidia-cuda-nvrtc-cu12 installed beside it, as CuPy's install guide says.
    v = Venv("cupy-cuda12x")
    v.dist("cupy-cuda12x", "13.3.0", requires=["numpy<2.3,>=1.22", "fastrlock>=0.5"],
           files=[("cupy/__init__.py", b"# cupy\n"), ("cupy/cuda/cub.cpython-312-x86_64-linux-gnu.so", LIB12)],
           summary="CuPy: NumPy & SciPy for GPU")
    nvidia_wheels(v, [("nvidia-cuda-nvrtc-cu12", "12.6.85")])
    # A base interpreter's prefix (as uv or python.org install one: PREFIX/bin/python3.12,
    # PREFIX/lib/python3.12/site-packages) with torch cu124 installed in it, and a venv made
    # with --system-site-packages from it that has only numpy: `import torch` finds the base's.
    # Its pyvenv.cfg names home = /opt/base-python3.12/bin; the test copies the venv and points
    # home at probe/tests/venvs/base-python3.12/bin.
    v = torch_venv("base-python3.12", "2.5.1+cu124", "12.4", LIB12, CU124)
    os.remove(os.path.join(v.root, "pyvenv.cfg"))
    os.remove(os.path.join(v.root, "bin", "python3"))
    open(os.path.join(v.root, "bin", "python3.12"), "wb").close()
    os.symlink("python3.12", os.path.join(v.root, "bin", "python3"))
    v = Venv("system-site-packages", home="/opt/base-python3.12/bin", system_site=True)
    v.dist("numpy", "2.1.3", files=[("numpy/__init__.py", b"# numpy\n")], summary="Fundamental package for array computing in Python")
    # No CUDA framework at all.
    v = Venv("no-framework")
    v.dist("numpy", "2.1.3", files=[("numpy/__init__.py", b"# numpy\n")], summary="Fundamental package for array computing in Python")


if __name__ == "__main__":
    main()
