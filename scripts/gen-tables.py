#!/usr/bin/env python3
"""Generate data/generated/tables.rs, the lookup tables nvprobe embeds.

Inputs (all in data/, see data/README.md):
  vendor/pci.ids.nvidia          NVIDIA (10de) block of Debian sid pci.ids 2026.10.24 (GPL-2+ or BSD-3)
  vendor/ogkm-595.45.04-gpus.md  "Compatible GPUs" table of open-gpu-kernel-modules 595.45.04 (MIT)
  vendor/cuda-toolkit-driver.tsv CUDA toolkit -> minimum driver (CUDA release notes, Table 3)
  chips.tsv                      hand-kept: chip -> architecture, MC_GET_ARCH_INFO ids, compute capability
  architectures.tsv              hand-kept: architecture -> last driver branch
  driver-branches.tsv            hand-kept: driver branch -> native CUDA version
  cuda-mvc.tsv                   hand-kept: CUDA major -> minor-version-compatibility driver floor
  cc-toolkits.tsv                hand-kept: compute capability -> first/last CUDA toolkit
  nvml-brands.tsv                hand-kept: GPU name (+ driver branch) -> NVML product brand, from real captures

Modes: write (default), --check (exit 1 with a unified diff when the file on disk differs),
--dry-run (print the output to stdout). Output is deterministic: sorted rows, no timestamps,
LF line endings. Standard library only.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
OUT = DATA / "generated" / "tables.rs"

PCI_IDS = "data/vendor/pci.ids.nvidia"
OGKM = "data/vendor/ogkm-595.45.04-gpus.md"
OGKM_VERSION = "595.45.04"
TOOLKITS = "data/vendor/cuda-toolkit-driver.tsv"
CHIPS = "data/chips.tsv"
ARCHES = "data/architectures.tsv"
BRANCHES = "data/driver-branches.tsv"
MVC = "data/cuda-mvc.tsv"
CC_TOOLKITS = "data/cc-toolkits.tsv"
BRANDS = "data/nvml-brands.tsv"
INPUTS = [PCI_IDS, OGKM, TOOLKITS, CHIPS, ARCHES, BRANDS, BRANCHES, MVC, CC_TOOLKITS]

COMMAND = "python3 scripts/gen-tables.py"

# Suffixes pci.ids appends to a chip codename: GL (professional), GLM (professional mobile),
# M (mobile), BM. The longest known chip that the token starts with, followed by one of these
# (or nothing), is the chip: GK208BM -> GK208B, GP104BM -> GP104, GB10B -> GB10B.
CHIP_SUFFIXES = ("", "GL", "GLM", "M", "BM")

# A PCI function whose pci.ids name matches this is not a GPU (audio, USB, USB-C UCSI, NVSwitch,
# bridges, root ports, chipset parts). At run time the PCI class code is the authority; this flag
# only labels the table.
NON_GPU = re.compile(
    r"audio|\bUSB|UCSI|NVSwitch|bridge|root complex|root port|PCIe host|endpoint|switch"
    r"|SATA|SMBus|ethernet|networking|\bLPC\b|\bISA\b|\bIDE\b|controller|co-?processor"
    r"|management|modem|processing unit|virtual network|^NPU$|\bRP x\d|memory|\bAPU\b"
    r"|\bSMU\b|\bPMU\b|\bMCI\b|\bAGP$",
    re.IGNORECASE,
)


class GenError(Exception):
    pass


def read_lines(rel: str) -> list[str]:
    text = (ROOT / rel).read_text(encoding="utf-8")
    if "\r" in text:
        raise GenError(f"{rel}: CR line endings")
    return text.split("\n")


def read_tsv(rel: str, columns: list[str]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for n, line in enumerate(read_lines(rel), 1):
        if not line or line.startswith("#"):
            continue
        cells = line.split("\t")
        if header is None:
            header = cells
            if header != columns:
                raise GenError(f"{rel}:{n}: header {header} != {columns}")
            continue
        if len(cells) != len(columns):
            raise GenError(f"{rel}:{n}: {len(cells)} cells, expected {len(columns)}")
        rows.append(dict(zip(columns, cells)))
    return rows


def rs_str(s: str) -> str:
    out = []
    for ch in s:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n" or ord(ch) < 0x20:
            raise GenError(f"control character in {s!r}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


class StringPool:
    """All table strings in one blob, referenced as (byte offset, byte length).

    Integers instead of `&'static str` keep the static-pie binary free of one relocation per
    string, and let equal strings and substrings (a bracketed name inside its pci.ids line) share
    bytes. Strings are added in a fixed order, so the blob is deterministic.
    """

    def __init__(self) -> None:
        self.blob = bytearray()
        self.pieces: list[str] = []
        self.seen: dict[str, tuple[int, int]] = {}

    def add(self, s: str) -> tuple[int, int]:
        if s in self.seen:
            return self.seen[s]
        b = s.encode("utf-8")
        if not 0 < len(b) <= 0xFFF:
            raise GenError(f"table strings must be 1 to 4095 bytes: {s[:40]!r}")
        at = self.blob.find(b)
        if at < 0:
            at = len(self.blob)
            self.blob += b
            self.pieces.append(s)
        self.seen[s] = (at, len(b))
        return self.seen[s]

    def ref(self, s: str) -> str:
        off, n = self.add(s)
        if off >= 1 << 20:
            raise GenError("the string blob outgrew 1 MiB: widen S in probe/src/tables.rs")
        return f"s({off}, {n})"


def parse_version_pair(s: str, what: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)\.(\d+)", s)
    if not m:
        raise GenError(f"{what}: {s!r} is not MAJOR.MINOR")
    return int(m.group(1)), int(m.group(2))


def version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


# ---------------------------------------------------------------------------------------------
# Inputs


def load_pci_ids() -> tuple[str, list[tuple[int, str]]]:
    version = None
    devices: list[tuple[int, str]] = []
    in_nvidia = False
    for n, line in enumerate(read_lines(PCI_IDS), 1):
        m = re.match(r"^#\tVersion: (\S+)$", line)
        if m:
            version = m.group(1)
        if not line or line.startswith("#"):
            continue
        if re.match(r"^[0-9a-f]{4}  ", line):
            in_nvidia = line == "10de  NVIDIA Corporation"
            if not in_nvidia:
                raise GenError(f"{PCI_IDS}:{n}: vendor other than 10de: {line!r}")
            continue
        if not in_nvidia:
            raise GenError(f"{PCI_IDS}:{n}: entry outside the 10de block")
        m = re.match(r"^\t([0-9a-f]{4})  (.+)$", line)
        if m:
            devices.append((int(m.group(1), 16), m.group(2).strip()))
            continue
        if line.startswith("\t\t"):
            continue  # subsystem names: board vendors' names, not used
        raise GenError(f"{PCI_IDS}:{n}: unparsed line {line!r}")
    if version is None:
        raise GenError(f"{PCI_IDS}: no '#\\tVersion:' line")
    ids = [d for d, _ in devices]
    if len(set(ids)) != len(ids):
        raise GenError(f"{PCI_IDS}: duplicate device IDs")
    return version, sorted(devices)


def load_ogkm() -> list[tuple[int, int | None, int | None, str]]:
    rows = []
    for n, line in enumerate(read_lines(OGKM), 1):
        if not line.startswith("|") or line.startswith("| Product Name") or line.startswith("| ---"):
            continue
        m = re.fullmatch(
            r"\|\s*(.+?)\s*\|\s*([0-9A-F]{4})(?: ([0-9A-F]{4}) ([0-9A-F]{4}))?\s*\|\s*", line
        )
        if not m:
            raise GenError(f"{OGKM}:{n}: unparsed table row {line!r}")
        sv = int(m.group(3), 16) if m.group(3) else None
        sd = int(m.group(4), 16) if m.group(4) else None
        rows.append((int(m.group(2), 16), sv, sd, m.group(1)))
    if not rows:
        raise GenError(f"{OGKM}: no table rows")
    return rows


def load_chips(arches: dict[str, int | None]) -> list[dict]:
    chips = []
    seen_ids: dict[tuple[int, int], str] = {}
    for row in read_tsv(CHIPS, ["chip", "architecture", "arch", "impl", "cc", "evidence"]):
        name = row["chip"]
        if not re.fullmatch(r"[A-Z][A-Za-z0-9]+", name):
            raise GenError(f"{CHIPS}: bad chip name {name!r}")
        if row["architecture"] not in arches:
            raise GenError(f"{CHIPS}: {name}: architecture {row['architecture']!r} not in {ARCHES}")
        arch_info = None
        if row["arch"] or row["impl"]:
            if not (row["arch"] and row["impl"]):
                raise GenError(f"{CHIPS}: {name}: give both arch and impl, or neither")
            arch_info = (int(row["arch"], 16), int(row["impl"], 16))
            if arch_info in seen_ids:
                raise GenError(f"{CHIPS}: {name}: arch/impl also used by {seen_ids[arch_info]}")
            seen_ids[arch_info] = name
        cc = parse_version_pair(row["cc"], f"{CHIPS}: {name}: cc") if row["cc"] else None
        ev = row["evidence"].strip()
        if not ev:
            raise GenError(f"{CHIPS}: {name}: every row needs evidence")
        if cc is None and not ev.startswith("unknown: "):
            raise GenError(f"{CHIPS}: {name}: empty cc needs evidence starting 'unknown: '")
        if cc is not None and ev.startswith("unknown"):
            raise GenError(f"{CHIPS}: {name}: cc given but evidence says unknown")
        if cc is None:
            ev = ev[len("unknown: "):]
        chips.append(
            {"name": name, "arch": row["architecture"], "ids": arch_info, "cc": cc, "ev": ev}
        )
    chips.sort(key=lambda c: c["name"])
    names = [c["name"] for c in chips]
    if len(set(names)) != len(names):
        raise GenError(f"{CHIPS}: duplicate chip")
    if len(chips) > 255:
        raise GenError(f"{CHIPS}: more than 255 chips; widen the index type")
    return chips


def load_arches() -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for row in read_tsv(ARCHES, ["architecture", "last_branch", "evidence"]):
        if row["architecture"] in out:
            raise GenError(f"{ARCHES}: duplicate {row['architecture']}")
        if not row["evidence"]:
            raise GenError(f"{ARCHES}: {row['architecture']}: no evidence")
        out[row["architecture"]] = int(row["last_branch"]) if row["last_branch"] else None
    return out


def load_branches() -> list[tuple[int, str]]:
    out = []
    for row in read_tsv(BRANCHES, ["branch", "cuda", "evidence"]):
        parse_version_pair(row["cuda"], f"{BRANCHES}: {row['branch']}")
        if not row["evidence"]:
            raise GenError(f"{BRANCHES}: {row['branch']}: no evidence")
        out.append((int(row["branch"]), row["cuda"]))
    out.sort()
    if len({b for b, _ in out}) != len(out):
        raise GenError(f"{BRANCHES}: duplicate branch")
    cudas = [version_key(c) for _, c in out]
    if cudas != sorted(cudas):
        raise GenError(f"{BRANCHES}: native CUDA must not decrease with the branch")
    return out


def load_toolkits() -> list[tuple[int, int, str, str]]:
    """GA rows only: (major, minor, linux driver, confidence)."""
    cols = ["toolkit", "release", "linux_min_driver", "windows_min_driver", "mvc_floor_linux",
            "confidence"]
    out = []
    for row in read_tsv(TOOLKITS, cols):
        if not row["release"].startswith("GA"):
            continue
        major, minor = parse_version_pair(row["toolkit"], TOOLKITS)
        drv = row["linux_min_driver"]
        conf = row["confidence"].split()[0]
        if conf not in ("high", "medium", "low"):
            raise GenError(f"{TOOLKITS}: {row['toolkit']}: confidence {conf!r}")
        if drv.endswith("?"):
            drv = drv[:-1]
            conf = "low"
        if not re.fullmatch(r"\d+(\.\d+)+", drv):
            raise GenError(f"{TOOLKITS}: {row['toolkit']}: driver {drv!r}")
        out.append((major, minor, drv, conf))
    out.sort()
    if len({(a, b) for a, b, _, _ in out}) != len(out):
        raise GenError(f"{TOOLKITS}: two GA rows for one toolkit")
    return out


def load_mvc() -> list[tuple[int, str, int]]:
    out = []
    for row in read_tsv(MVC, ["cuda_major", "mvc_floor", "below_branch", "evidence"]):
        if not re.fullmatch(r"\d+(\.\d+)+", row["mvc_floor"]) or not row["evidence"]:
            raise GenError(f"{MVC}: bad row {row}")
        below = int(row["below_branch"]) if row["below_branch"] else 0
        if below and below <= int(row["mvc_floor"].split(".")[0]):
            raise GenError(f"{MVC}: below_branch not above the floor: {row}")
        out.append((int(row["cuda_major"]), row["mvc_floor"], below))
    return sorted(out)


def load_cc_toolkits() -> list[tuple[tuple[int, int], tuple[int, int], tuple[int, int] | None]]:
    out = []
    for row in read_tsv(CC_TOOLKITS, ["cc", "first", "last", "evidence"]):
        cc = parse_version_pair(row["cc"], CC_TOOLKITS)
        first = parse_version_pair(row["first"], CC_TOOLKITS)
        last = parse_version_pair(row["last"], CC_TOOLKITS) if row["last"] else None
        if not row["evidence"]:
            raise GenError(f"{CC_TOOLKITS}: {row['cc']}: no evidence")
        out.append((cc, first, last))
    out.sort()
    if len({c for c, _, _ in out}) != len(out):
        raise GenError(f"{CC_TOOLKITS}: duplicate cc")
    return out


# ---------------------------------------------------------------------------------------------
# Derivations


def resolve_chip(token: str, known: set[str]) -> str | None:
    best = None
    for suffix in CHIP_SUFFIXES:
        if suffix and not token.endswith(suffix):
            continue
        base = token[: len(token) - len(suffix)] if suffix else token
        if base in known and (best is None or len(base) > len(best)):
            best = base
    return best


BRAND_MATCHES = ("prefix", "contains", "name", "vgpu-series")
# nvml.h NVML_BRAND_* names as libnvidia-container spells them in brand= conditions.
BRAND_NAMES = ("quadro", "tesla", "nvs", "grid", "geforce", "titan", "vapps", "vpc", "vcs", "vws",
               "cloudgaming", "quadrortx", "nvidiartx", "nvidia")


def load_brands() -> list[tuple[str, str, int, int, str]]:
    """Rows in file order (the first match wins); every row needs evidence."""
    out = []
    for row in read_tsv(BRANDS, ["match", "pattern", "min_branch", "max_branch", "brand", "evidence"]):
        if row["match"] not in BRAND_MATCHES or not row["pattern"] or not row["evidence"]:
            raise GenError(f"{BRANDS}: bad row {row}")
        if row["brand"] and row["brand"] not in BRAND_NAMES:
            raise GenError(f"{BRANDS}: unknown brand {row['brand']!r}")
        if not row["brand"] and not row["evidence"].startswith("unknown:"):
            raise GenError(f"{BRANDS}: a row without a brand must say why ('unknown: ...'): {row}")
        lo = int(row["min_branch"]) if row["min_branch"] else 0
        hi = int(row["max_branch"]) if row["max_branch"] else 0xFFFF_FFFF
        if lo > hi:
            raise GenError(f"{BRANDS}: empty branch range {row}")
        # Lowercase here, so that a lookup compares without allocating.
        out.append((row["match"], row["pattern"].lower(), lo, hi, row["brand"]))
    return out


def bracket_name(pci_name: str) -> str | None:
    m = re.fullmatch(r"\S+ \[(.+)\]", pci_name)
    return m.group(1) if m else None


def build(check_only_inputs: bool = False) -> tuple[str, dict]:
    pci_version, devices = load_pci_ids()
    ogkm = load_ogkm()
    arches = load_arches()
    chips = load_chips(arches)
    branches = load_branches()
    toolkits = load_toolkits()
    mvc = load_mvc()
    cc_toolkits = load_cc_toolkits()
    brands = load_brands()

    chip_index = {c["name"]: i for i, c in enumerate(chips)}
    known = set(chip_index)

    # Every compute capability in chips.tsv has a toolkit range.
    cc_known = {cc for cc, _, _ in cc_toolkits}
    for c in chips:
        if c["cc"] is not None and c["cc"] not in cc_known:
            raise GenError(f"{CHIPS}: {c['name']}: cc {c['cc']} has no row in {CC_TOOLKITS}")

    # Every GA toolkit's driver branch reports that toolkit's version natively.
    branch_cuda = dict(branches)
    for major, minor, drv, _ in toolkits:
        b = int(drv.split(".")[0])
        if branch_cuda.get(b) != f"{major}.{minor}":
            raise GenError(
                f"{TOOLKITS}: CUDA {major}.{minor} GA needs {drv}, but {BRANCHES} maps branch "
                f"{b} to {branch_cuda.get(b)}"
            )

    # Names from the open kernel modules' table.
    ogkm_dev: dict[int, str] = {}
    ogkm_sub: dict[tuple[int, int, int], str] = {}
    for dev, sv, sd, name in ogkm:
        if sv is None:
            if dev in ogkm_dev and ogkm_dev[dev] != name:
                raise GenError(f"{OGKM}: {dev:04x} has two names")
            ogkm_dev[dev] = name
        else:
            key = (dev, sv, sd)
            if key in ogkm_sub and ogkm_sub[key] != name:
                raise GenError(f"{OGKM}: {dev:04x} {sv:04x} {sd:04x} has two names")
            ogkm_sub[key] = name

    pci_ids = dict(devices)
    dev_rows = []
    for dev, pci_name in devices:
        token = pci_name.split()[0]
        chip = resolve_chip(token, known)
        is_gpu = NON_GPU.search(pci_name) is None
        if not is_gpu:
            name, src = pci_name, "PciIds"
        elif dev in ogkm_dev:
            name, src = ogkm_dev[dev], "OpenModules"
        else:
            name, src = bracket_name(pci_name), "PciIds"
        dev_rows.append((dev, chip, is_gpu, name, src, pci_name))

    # Every GPU in the open kernel modules' table is a GPU function of a known chip.
    rows_by_dev = {r[0]: r for r in dev_rows}
    for dev in sorted({d for d, _, _, _ in ogkm}):
        if dev not in pci_ids:
            raise GenError(f"{OGKM}: {dev:04x} is not in {PCI_IDS}")
        _, chip, is_gpu, _, _, pci_name = rows_by_dev[dev]
        if chip is None or not is_gpu:
            raise GenError(f"{OGKM}: {dev:04x} ({pci_name}) resolves to no GPU chip")

    stats = {
        "pci_ids_version": pci_version,
        "devices": len(dev_rows),
        "gpu_devices": sum(1 for r in dev_rows if r[2]),
        "with_chip": sum(1 for r in dev_rows if r[1]),
        "with_cc": sum(1 for r in dev_rows if r[1] and chips[chip_index[r[1]]]["cc"]),
        "subsystems": len(ogkm_sub),
        "chips": len(chips),
        "ogkm_rows": len(ogkm),
    }

    # ---- emit -----------------------------------------------------------------------------
    o: list[str] = []
    w = o.append
    w(f"// @generated by scripts/gen-tables.py from {', '.join(INPUTS)} — DO NOT EDIT")
    w(f"// sources: pci.ids {pci_version} (Debian sid, NVIDIA block); "
      f"open-gpu-kernel-modules {OGKM_VERSION} README table; CUDA release notes Table 2/3")
    w(f"// regenerate: {COMMAND}   (verify: {COMMAND} --check)")
    w("//")
    w(f"// {stats['devices']} PCI device IDs ({stats['gpu_devices']} GPU functions, "
      f"{stats['with_chip']} with a known chip, {stats['with_cc']} with a compute capability); "
      f"{stats['subsystems']} subsystem names; {stats['chips']} chips.")
    w("")
    w("/// Version line of the vendored `pci.ids` the PCI table comes from.")
    w(f"pub const PCI_IDS_VERSION: &str = {rs_str(pci_version)};")
    w("/// open-gpu-kernel-modules tag whose README table gives the marketing names.")
    w(f"pub const OPEN_MODULES_VERSION: &str = {rs_str(OGKM_VERSION)};")
    w("")

    def opt(v, f=lambda x: x):
        return "None" if v is None else f"Some({f(v)})"

    pool = StringPool()
    body: list[str] = []
    o_main, o = o, body
    w = o.append

    w(f"static CHIPS: [Chip; {len(chips)}] = [")
    for c in chips:
        ids = opt(c["ids"], lambda t: f"(0x{t[0]:x}, 0x{t[1]:02x})")
        cc = opt(c["cc"], lambda t: f"({t[0]}, {t[1]})")
        w(f"    Chip {{ name: {pool.ref(c['name'])}, architecture: {pool.ref(c['arch'])}, "
          f"arch_info: {ids}, cc: {cc}, evidence: {pool.ref(c['ev'])} }}, // {c['name']}")
    w("];")
    w("")
    by_ids = sorted((c["ids"], i) for i, c in enumerate(chips) if c["ids"])
    w(f"static ARCH_INFO: [(u32, u32, u8); {len(by_ids)}] = [")
    for (a, i), idx in by_ids:
        w(f"    (0x{a:x}, 0x{i:02x}, {idx}), // {chips[idx]['name']}")
    w("];")
    w("")
    w(f"static DEVICES: [Device; {len(dev_rows)}] = [")
    for dev, chip, is_gpu, name, src, pci_name in dev_rows:
        ci = opt(chip, lambda c: str(chip_index[c]))
        w(f"    Device {{ id: 0x{dev:04x}, chip: {ci}, gpu: {'true' if is_gpu else 'false'}, "
          f"src: NameSource::{src}, name: {pool.ref(name) if name is not None else 's(0, 0)'} }}, "
          f"// {pci_name}")
    w("];")
    w("")
    subs = sorted(ogkm_sub.items())
    w(f"static SUBSYSTEMS: [(u16, u16, u16, S); {len(subs)}] = [")
    for (d, sv, sd), name in subs:
        w(f"    (0x{d:04x}, 0x{sv:04x}, 0x{sd:04x}, {pool.ref(name)}), // {name}")
    w("];")
    w("")
    w(f"static BRANCHES: [(u32, &str); {len(branches)}] = [")
    for b, c in branches:
        w(f"    ({b}, {rs_str(c)}),")
    w("];")
    w("")
    w(f"static TOOLKITS: [(u32, u32, &str, Confidence); {len(toolkits)}] = [")
    conf = {"high": "High", "medium": "Medium", "low": "Low"}
    for major, minor, drv, cf in toolkits:
        w(f"    ({major}, {minor}, {rs_str(drv)}, Confidence::{conf[cf]}),")
    w("];")
    w("")
    w(f"static NVML_BRANDS: [(&str, &str, u32, u32, &str); {len(brands)}] = [")
    for kind, pattern, lo, hi, brand in brands:
        hi_rs = "u32::MAX" if hi == 0xFFFF_FFFF else str(hi)
        w(f"    ({rs_str(kind)}, {rs_str(pattern)}, {lo}, {hi_rs}, {rs_str(brand)}),")
    w("];")
    w("")
    w(f"static MVC_FLOORS: [(u32, &str, u32); {len(mvc)}] = [")
    for major, floor, below in mvc:
        w(f"    ({major}, {rs_str(floor)}, {below}),")
    w("];")
    w("")
    arch_rows = sorted(arches.items())
    w(f"static ARCHITECTURES: [(&str, Option<u32>); {len(arch_rows)}] = [")
    for a, last in arch_rows:
        w(f"    ({rs_str(a)}, {opt(last, str)}),")
    w("];")
    w("")
    w(f"static CC_TOOLKITS: [CcToolkitRow; {len(cc_toolkits)}] = [")
    for cc, first, last in cc_toolkits:
        w(f"    (({cc[0]}, {cc[1]}), ({first[0]}, {first[1]}), "
          f"{opt(last, lambda t: f'({t[0]}, {t[1]})')}),")
    w("];")
    # The string blob goes before the tables that point into it.
    o_main.append(f"/// Every table string, {len(pool.blob)} bytes; `s(offset, length)` points into it.")
    o_main.append("static STRINGS: &str = concat!(")
    for piece in pool.pieces:
        o_main.append(f"    {rs_str(piece)},")
    o_main.append(");")
    o_main.append("")
    stats["string_bytes"] = len(pool.blob)
    for text, (off, n) in pool.seen.items():
        if bytes(pool.blob[off:off + n]).decode("utf-8") != text:
            raise GenError(f"string pool: {text!r} does not decode at {off}+{n}")
    return "\n".join(o_main + body) + "\n", stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true",
                   help="exit 1 with a diff if data/generated/tables.rs is stale or hand-edited")
    g.add_argument("--dry-run", action="store_true", help="print the output instead of writing")
    args = ap.parse_args()
    try:
        text, stats = build()
    except (GenError, OSError, ValueError) as e:
        print(f"gen-tables: error: {e}", file=sys.stderr)
        return 2
    rel = OUT.relative_to(ROOT)
    if args.dry_run:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current == text:
            print(f"gen-tables: {rel} is up to date")
            return 0
        sys.stdout.writelines(difflib.unified_diff(
            current.splitlines(keepends=True), text.splitlines(keepends=True),
            fromfile=f"{rel} (on disk)", tofile=f"{rel} (generated)"))
        print(f"gen-tables: {rel} is stale or was edited by hand; run: {COMMAND}",
              file=sys.stderr)
        return 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"gen-tables: wrote {rel}: " + ", ".join(f"{k}={v}" for k, v in stats.items()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. `--check | head`
        sys.exit(1)
