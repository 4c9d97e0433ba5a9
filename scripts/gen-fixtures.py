#!/usr/bin/env python3
"""Writes the fixture machines under tests/fixtures/<name>/ (a machine's `/` for --root).

File formats are copied from real machines: procfs lines as the driver's seq_printf writes them
(tabs in `information`, the trailing space of the GCC line), sysfs attributes with their
newline, /sys/bus/pci/devices entries as symlinks into /sys/devices and `driver` links into
/sys/bus/pci/drivers. Device nodes are stand-in regular files holding a `key=value` record of
the real node (see probe/src/detect/devnodes.rs). Deterministic: run it again and git shows no
change. Usage: python3 scripts/gen-fixtures.py  (from the workspace root)
"""
import json
import os
import shutil
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


# --- tiny binary files for the library inventory (issue 6) -------------------------------------
def elf_so(soname, note_json=None):
    """A minimal little-endian ELF64 x86-64 shared object: .dynstr, .dynamic with DT_SONAME,
    optionally a .note.cuda.fwd_compatibility note (owner "NVIDIA Corporation", JSON
    descriptor) as NVIDIA's cuda-compat libcuda carries, and .shstrtab. No code, no program
    headers: enough for nvprobe's reader (probe/src/doctor/elfinfo.rs). Deterministic."""
    import struct
    dynstr = b"\0" + soname.encode() + b"\0"
    shstr = b"\0"
    names = {}
    for n in (".dynstr", ".dynamic", ".note.cuda.fwd_compatibility", ".shstrtab"):
        names[n] = len(shstr)
        shstr += n.encode() + b"\0"
    body = bytearray(64)

    def pad(n):
        while len(body) % n:
            body.append(0)
    dynstr_off = len(body)
    body += dynstr
    pad(8)
    dynamic_off = len(body)
    for tag, val in ((14, 1), (5, dynstr_off), (10, len(dynstr)), (0, 0)):
        body += struct.pack("<QQ", tag, val)
    dynamic_len = len(body) - dynamic_off
    note_off = len(body)
    if note_json is not None:
        owner = b"NVIDIA Corporation\0"
        desc = note_json.encode() + b"\0"
        body += struct.pack("<III", len(owner), len(desc), 1) + owner
        pad(4)
        body += desc
        pad(4)
    note_len = len(body) - note_off
    shstr_off = len(body)
    body += shstr
    pad(8)
    shoff = len(body)
    sections = [(0, 0, 0, 0, 0, 0, 0), (names[".dynstr"], 3, dynstr_off, len(dynstr), 0, 1, 0),
                (names[".dynamic"], 6, dynamic_off, dynamic_len, 1, 8, 16)]
    if note_json is not None:
        sections.append((names[".note.cuda.fwd_compatibility"], 7, note_off, note_len, 0, 4, 0))
    sections.append((names[".shstrtab"], 3, shstr_off, len(shstr), 0, 1, 0))
    for name, typ, off, size, link, align, ent in sections:
        body += struct.pack("<IIQQQQIIQQ", name, typ, 0, off, off, size, link, 0, align, ent)
    body[:64] = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack(
        "<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, 64, 56, 0, 64, len(sections), len(sections) - 1)
    return bytes(body)


def ld_so_cache(entries):
    """/etc/ld.so.cache in glibc's new format (glibc-ld.so.cache1.1, little endian) for
    (soname, path) pairs, all x86-64 libc6 (flags 0x0303), in the given order."""
    import struct
    strings_at = 48 + 24 * len(entries)
    strings = b""
    rows = b""
    for soname, path in entries:
        k = strings_at + len(strings)
        strings += soname.encode() + b"\0"
        v = strings_at + len(strings)
        strings += path.encode() + b"\0"
        rows += struct.pack("<iIIIQ", 0x0303, k, v, 0, 0)
    head = b"glibc-ld.so.cache1.1" + struct.pack("<II", len(entries), len(strings)) + bytes([2, 0, 0, 0]) + bytes(16)
    return head + rows + strings


COMPAT_12_9 = '{"format":1,"CUDA version":"12.9","driver":[535,550,560,565,570,575],"device":[1,2,7,8,9,10,11,12,13,14]}'


class Machine:
    def __init__(self, name):
        self.root = os.path.join(OUT, name)
        if os.path.isdir(self.root):
            shutil.rmtree(self.root)
        os.makedirs(self.root)
        self.proc_pci = []

    def write(self, path, text):
        full = os.path.join(self.root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", newline="\n") as f:
            f.write(text)

    def link(self, path, target):
        full = os.path.join(self.root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        os.symlink(target, full)

    def mkdir(self, path):
        os.makedirs(os.path.join(self.root, path.lstrip("/")), exist_ok=True)

    def write_bytes(self, path, data):
        full = os.path.join(self.root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)

    def driver_libs(self, version, libdir="/usr/lib/x86_64-linux-gnu"):
        """libcuda and libnvidia-ml of a driver release, with their SONAME links; returns the
        (soname, path) pairs for ld.so.cache."""
        out = []
        for base in ("libcuda.so", "libnvidia-ml.so"):
            self.write_bytes(f"{libdir}/{base}.{version}", elf_so(base + ".1"))
            self.link(f"{libdir}/{base}.1", f"{base}.{version}")
            out.append((base + ".1", f"{libdir}/{base}.1"))
        return out

    def fabric_manager(self, version, branch, running=True):
        if running:
            self.write("/proc/4242/comm", "nv-fabricmanager\n")
            self.write("/proc/4242/cmdline", "/usr/bin/nv-fabricmanager\0-c\0/usr/share/nvidia/nvswitch/fabricmanager.cfg\0")
        self.write("/var/lib/dpkg/status", f"Package: libc6\nStatus: install ok installed\nPriority: optional\nVersion: 2.39-0ubuntu8.3\n\nPackage: nvidia-fabricmanager-{branch}\nStatus: install ok installed\nPriority: optional\nSection: multiverse/utils\nArchitecture: amd64\nVersion: {version}-1\n")

    # --- whole-machine pieces -------------------------------------------------------------
    def kernel(self, release, version_line):
        self.write("/proc/sys/kernel/osrelease", release + "\n")
        self.write("/proc/version", version_line + "\n")

    def os_release(self, pretty, ident, version_id, codename=None):
        lines = [f'PRETTY_NAME="{pretty}"', f'NAME="{ident.capitalize()}"', f'VERSION_ID="{version_id}"', f"ID={ident}"]
        if codename:
            lines.append(f"VERSION_CODENAME={codename}")
        self.write("/etc/os-release", "\n".join(lines) + "\n")

    def cgroup(self, text):
        self.write("/proc/self/cgroup", text)
        self.write("/proc/1/cgroup", text)

    def pci(self, bus, vendor, device, sub_vendor, sub_device, cls, rev, driver=None, parent="pci0000:00/0000:00:01.0"):
        dev_dir = f"/sys/devices/{parent}/{bus}"
        depth = dev_dir.count("/") - 1  # components below /sys
        self.write(f"{dev_dir}/vendor", f"0x{vendor:04x}\n")
        self.write(f"{dev_dir}/device", f"0x{device:04x}\n")
        self.write(f"{dev_dir}/subsystem_vendor", f"0x{sub_vendor:04x}\n")
        self.write(f"{dev_dir}/subsystem_device", f"0x{sub_device:04x}\n")
        self.write(f"{dev_dir}/class", f"0x{cls:06x}\n")
        self.write(f"{dev_dir}/revision", f"0x{rev:02x}\n")
        uevent = []
        if driver:
            uevent.append(f"DRIVER={driver}")
        uevent += [
            f"PCI_CLASS={cls:X}",
            f"PCI_ID={vendor:04X}:{device:04X}",
            f"PCI_SUBSYS_ID={sub_vendor:04X}:{sub_device:04X}",
            f"PCI_SLOT_NAME={bus}",
            f"MODALIAS=pci:v0000{vendor:04X}d0000{device:04X}sv0000{sub_vendor:04X}sd0000{sub_device:04X}bc{cls >> 16:02X}sc{(cls >> 8) & 0xff:02X}i{cls & 0xff:02X}",
        ]
        self.write(f"{dev_dir}/uevent", "\n".join(uevent) + "\n")
        up = "../" * (depth - 1)
        if driver:
            self.mkdir(f"/sys/bus/pci/drivers/{driver}")
            self.link(f"{dev_dir}/driver", f"{up}bus/pci/drivers/{driver}")
        self.link(f"/sys/bus/pci/devices/{bus}", f"../../../devices/{parent}/{bus}")
        # /proc/bus/pci/devices, as drivers/pci/proc.c prints it: bus and devfn (no domain),
        # vendor and device, IRQ, 7 BARs and 7 sizes, a tab, the bound driver.
        b, d, f = int(bus[5:7], 16), int(bus[8:10], 16), int(bus[11:12], 16)
        bars = "".join("\t%16x" % 0 for _ in range(14))
        self.proc_pci.append(f"{b:02x}{d << 3 | f:02x}\t{vendor:04x}{device:04x}\t0{bars}\t{driver or ''}\n")
        self.write("/proc/bus/pci/devices", "".join(self.proc_pci))

    def host_bridges(self):
        self.pci("0000:00:00.0", 0x8086, 0x09A2, 0x8086, 0x0000, 0x060000, 0x04, parent="pci0000:00")

    # --- NVIDIA driver pieces -------------------------------------------------------------
    def nvidia_driver(self, version, line, gcc, taint, params_extra=None, modify_device_files=1, uvm=True):
        self.write("/sys/module/nvidia/version", version + "\n")
        self.write("/sys/module/nvidia/initstate", "live\n")
        self.write("/sys/module/nvidia/taint", taint + "\n")
        self.write("/proc/driver/nvidia/version", f"NVRM version: {line}\nGCC version:  {gcc} \n")
        params = [
            "ResmanDebugLevel: 4294967295",
            "RmLogonRC: 1",
            f"ModifyDeviceFiles: {modify_device_files}",
            "DeviceFileUID: 0",
            "DeviceFileGID: 0",
            "DeviceFileMode: 438",
            "InitializeSystemMemoryAllocations: 1",
            "UsePageAttributeTable: 4294967295",
            "EnableMSI: 1",
            "EnablePCIeGen3: 0",
            "MemoryPoolSize: 0",
            "KMallocHeapMaxSize: 0",
            "VMallocHeapMaxSize: 0",
            "IgnoreMMIOCheck: 0",
            "EnableStreamMemOPs: 0",
            "EnableUserNUMAManagement: 1",
            "NvLinkDisable: 0",
            "RmProfilingAdminOnly: 1",
            "PreserveVideoMemoryAllocations: 0",
            "EnableS0ixPowerManagement: 0",
            "S0ixPowerManagementVideoMemoryThreshold: 256",
            "DynamicPowerManagement: 3",
            "DynamicPowerManagementVideoMemoryThreshold: 200",
            "RegisterPCIDriver: 1",
            "EnablePCIERelaxedOrderingMode: 0",
            "EnableResizableBar: 0",
        ] + (params_extra or []) + [
            'RegistryDwords: ""',
            'RegistryDwordsPerDevice: ""',
            'RmMsg: ""',
            'GpuBlacklist: ""',
            'TemporaryFilePath: ""',
            'ExcludedGpus: ""',
        ]
        self.write("/proc/driver/nvidia/params", "\n".join(params) + "\n")
        mods = []
        if uvm:
            mods.append(f"nvidia_uvm 2076672 0 - Live 0x0000000000000000 ({taint})")
            self.write("/sys/module/nvidia_uvm/initstate", "live\n")
            self.write("/sys/module/nvidia_uvm/version", version + "\n")
        mods += [
            f"nvidia_drm 135168 0 - Live 0x0000000000000000 ({taint})",
            f"nvidia_modeset 1638400 1 nvidia_drm, Live 0x0000000000000000 ({taint})",
            f"nvidia 104063040 12 nvidia_uvm,nvidia_modeset, Live 0x0000000000000000 ({taint})",
            "nvme 61440 2 - Live 0x0000000000000000",
            "nvme_core 208896 3 nvme, Live 0x0000000000000000",
        ]
        self.write("/proc/modules", "\n".join(mods) + "\n")

    def gpu_information(self, bus, model, uuid, minor, vbios="??.??.??.??.??", firmware=None):
        text = f"Model: \t\t {model}\nIRQ:   \t\t {200 + minor}\nGPU UUID: \t {uuid}\nVideo BIOS: \t {vbios}\nBus Type: \t PCIe\nDMA Size: \t 52 bits\nDMA Mask: \t 0xfffffffffffff\nBus Location: \t {bus}\nDevice Minor: \t {minor}\n"
        if firmware:
            text += f"GPU Firmware: \t {firmware}\n"
        text += "GPU Excluded:\t No\n"
        self.write(f"/proc/driver/nvidia/gpus/{bus}/information", text)

    def node(self, path, major, minor, mode="0666", gid=0, open_result="ok"):
        self.write(path, f"type=char\nmajor={major}\nminor={minor}\nmode={mode}\nuid=0\ngid={gid}\nopen={open_result}\n")

    def nvidia_nodes(self, minors, **kw):
        self.node("/dev/nvidiactl", 195, 255, **kw)
        self.node("/dev/nvidia-modeset", 195, 254, **kw)
        self.node("/dev/nvidia-uvm", 510, 0, **kw)
        self.node("/dev/nvidia-uvm-tools", 510, 1, **kw)
        for m in minors:
            self.node(f"/dev/nvidia{m}", 195, m, **kw)
        self.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")

    def lib_modules(self, release, nvidia_dir=None, ext=".ko.zst", names=("nvidia", "nvidia-uvm", "nvidia-modeset", "nvidia-drm", "nvidia-peermem")):
        base = f"/lib/modules/{release}"
        dep = [f"kernel/drivers/nvme/host/nvme{ext}: kernel/drivers/nvme/host/nvme-core{ext}", f"kernel/drivers/nvme/host/nvme-core{ext}:"]
        self.write(f"{base}/kernel/drivers/nvme/host/nvme{ext}", "")
        self.write(f"{base}/kernel/drivers/nvme/host/nvme-core{ext}", "")
        if nvidia_dir:
            for n in names:
                self.write(f"{base}/{nvidia_dir}/{n}{ext}", "")
            dep.insert(0, f"{nvidia_dir}/nvidia{ext}:")
            dep.insert(1, f"{nvidia_dir}/nvidia-uvm{ext}: {nvidia_dir}/nvidia{ext}")
        self.write(f"{base}/modules.dep", "\n".join(dep) + "\n")


UBUNTU_2404_KERNEL = "Linux version {r} (buildd@lcy02-amd64-103) (x86_64-linux-gnu-gcc-13 (Ubuntu 13.2.0-23ubuntu4) 13.2.0, GNU ld (GNU Binutils for Ubuntu) 2.42) #49-Ubuntu SMP PREEMPT_DYNAMIC Mon Nov  4 02:06:24 UTC 2024"
UBUNTU_2204_KERNEL = "Linux version {r} (buildd@lcy02-amd64-051) (x86_64-linux-gnu-gcc-12 (Ubuntu 12.3.0-1ubuntu1~22.04) 12.3.0, GNU ld (GNU Binutils for Ubuntu) 2.38) #60~22.04.1-Ubuntu SMP PREEMPT_DYNAMIC Fri Sep 27 09:46:28 UTC 2 2024"
BARE_CGROUP = "0::/user.slice/user-1000.slice/session-3.scope\n"


def bare_ubuntu(m, release="6.8.0-49-generic"):
    m.kernel(release, UBUNTU_2404_KERNEL.format(r=release))
    m.os_release("Ubuntu 24.04.1 LTS", "ubuntu", "24.04", "noble")
    m.cgroup(BARE_CGROUP)
    m.host_bridges()


def h100x8_open_580():
    m = Machine("bare-metal-h100x8-open-580")
    bare_ubuntu(m)
    m.nvidia_driver("580.65.06", "NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build  (dvs-builder@U22-I3-AF03-09-1)  Sun Jul 27 06:54:38 UTC 2025",
                    "gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)", "OE",
                    params_extra=["EnableGpuFirmware: 18", "EnableGpuFirmwareLogs: 2", "RmNvlinkBandwidthLinkCount: 0", "EnableDbgBreakpoint: 0",
                                  "OpenRmEnableUnsupportedGpus: 1", "DmaRemapPeerMmio: 1", "ImexChannelCount: 2048", "CreateImexChannel0: 0",
                                  "GrdmaPciTopoCheckOverride: 0", 'CoherentGPUMemoryMode: ""'])
    # The BMC's VGA (ASPEED): a display controller that is not NVIDIA's.
    m.pci("0000:03:00.0", 0x1A03, 0x2000, 0x1A03, 0x2000, 0x030000, 0x52, driver="ast", parent="pci0000:00/0000:00:1c.0/0000:02:00.0")
    buses = ["0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0", "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"]
    for minor, bus in enumerate(buses):
        root_port = f"pci{bus[:5]}{int(bus[5:7], 16) - 1:02x}"
        parent = f"{root_port}/{bus[:5]}{int(bus[5:7], 16) - 1:02x}:01.0"
        m.pci(bus, 0x10DE, 0x2330, 0x10DE, 0x16C1, 0x030200, 0xA1, driver="nvidia", parent=parent)
        m.gpu_information(bus, "NVIDIA H100 80GB HBM3", f"GPU-{minor:02x}5e1f2a-3b4c-5d6e-7f80-91a2b3c4d5e{minor}", minor, vbios="96.00.99.00.01", firmware="580.65.06")
    # Four NVSwitches (class 0x0680, bridge/other): not GPUs.
    for i, bus in enumerate(["0000:05:00.0", "0000:06:00.0", "0000:07:00.0", "0000:08:00.0"]):
        m.pci(bus, 0x10DE, 0x22A3, 0x10DE, 0x1796, 0x068000, 0xA1, driver="nvidia-nvswitch", parent=f"pci0000:00/0000:00:1d.{i}")
    m.nvidia_nodes(range(8))
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    # The driver's userspace, as the packages install it: without libcuda no CUDA program
    # starts (issue 19).
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("580.65.06")))
    # NVSwitch systems run the fabric manager of the driver's version (issue 6).
    m.fabric_manager("580.65.06", 580)


def no_gpu():
    m = Machine("no-gpu")
    bare_ubuntu(m)
    m.pci("0000:00:02.0", 0x8086, 0x46A6, 0x17AA, 0x22E4, 0x030000, 0x0C, driver="i915", parent="pci0000:00")
    m.pci("0000:00:1f.3", 0x8086, 0x51C8, 0x17AA, 0x22E4, 0x040380, 0x01, driver="snd_hda_intel", parent="pci0000:00")
    m.write("/proc/modules", "i915 4288512 42 - Live 0x0000000000000000\nsnd_hda_intel 61440 4 - Live 0x0000000000000000\nnvme 61440 2 - Live 0x0000000000000000\n")
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")
    m.lib_modules("6.8.0-49-generic")


def kernel_update_no_dkms():
    m = Machine("kernel-update-no-dkms")
    bare_ubuntu(m, "6.8.0-51-generic")
    # RTX 4090 (ASUS board), on the bus, no driver bound: nvidia.ko exists only for -49.
    m.pci("0000:01:00.0", 0x10DE, 0x2684, 0x1043, 0x889D, 0x030000, 0xA1, parent="pci0000:00/0000:00:01.0")
    m.pci("0000:01:00.1", 0x10DE, 0x22BA, 0x1043, 0x889D, 0x040300, 0xA1, driver="snd_hda_intel", parent="pci0000:00/0000:00:01.0")
    m.write("/proc/modules", "snd_hda_intel 61440 4 - Live 0x0000000000000000\nnvme 61440 2 - Live 0x0000000000000000\n")
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    m.lib_modules("6.8.0-51-generic")


def kernel_68_driver_545():
    """A kernel update to 6.8 with driver 545.29.02 installed: DKMS could not build the module
    for 6.8 (NixOS/nixpkgs#296773, "Build failure: nvidia-x11-545.29.02-6.8.1"), so it exists
    only for the previous kernel; the driver's userspace (libcuda 545.29.02) is in the loader
    cache."""
    m = Machine("kernel-6.8-driver-545-no-module")
    bare_ubuntu(m, "6.8.0-51-generic")
    m.pci("0000:01:00.0", 0x10DE, 0x2684, 0x1043, 0x889D, 0x030000, 0xA1, parent="pci0000:00/0000:00:01.0")
    m.write("/proc/modules", "nvme 61440 2 - Live 0x0000000000000000\n")
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")
    m.lib_modules("6.5.0-45-generic", "updates/dkms")
    m.lib_modules("6.8.0-51-generic")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("545.29.02")))


def nouveau():
    m = Machine("nouveau")
    m.kernel("6.11.4-301.fc41.x86_64", "Linux version 6.11.4-301.fc41.x86_64 (mockbuild@a0ad3e8ac2fd4b8a8b2ce3bdab0b8d67) (gcc (GCC) 14.2.1 20240912 (Red Hat 14.2.1-3), GNU ld version 2.43.1-2.fc41) #1 SMP PREEMPT_DYNAMIC Sun Oct 20 15:02:33 UTC 2024")
    m.write("/etc/os-release", 'NAME="Fedora Linux"\nVERSION="41 (Workstation Edition)"\nID=fedora\nVERSION_ID=41\nPRETTY_NAME="Fedora Linux 41 (Workstation Edition)"\n')
    m.cgroup(BARE_CGROUP)
    m.host_bridges()
    # GTX 1080 (GP104) driven by nouveau.
    m.pci("0000:01:00.0", 0x10DE, 0x1B80, 0x10DE, 0x119E, 0x030000, 0xA1, driver="nouveau")
    m.pci("0000:01:00.1", 0x10DE, 0x10F0, 0x10DE, 0x119E, 0x040300, 0xA1, driver="snd_hda_intel")
    m.write("/sys/module/nouveau/initstate", "live\n")
    m.write("/proc/modules", "nouveau 3096576 12 - Live 0x0000000000000000\ndrm_ttm_helper 16384 1 nouveau, Live 0x0000000000000000\nsnd_hda_intel 61440 4 - Live 0x0000000000000000\n")
    m.mkdir("/dev/dri")
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")
    m.lib_modules("6.11.4-301.fc41.x86_64", "kernel/drivers/gpu/drm/nouveau", ext=".ko.xz", names=("nouveau",))


def container_535():
    m = Machine("container-a100-proprietary-535")
    m.kernel("5.15.0-125-generic", "Linux version 5.15.0-125-generic (buildd@lcy02-amd64-027) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0, GNU ld (GNU Binutils for Ubuntu) 2.38) #135-Ubuntu SMP Fri Sep 27 13:53:58 UTC 2024")
    m.os_release("Ubuntu 22.04.5 LTS", "ubuntu", "22.04", "jammy")
    m.write("/.dockerenv", "")
    m.cgroup("0::/\n")
    m.write("/proc/self/mountinfo", "1183 1077 0:112 / / rw,relatime master:526 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/3XQ6:/var/lib/docker/overlay2/l/N7ZP,upperdir=/var/lib/docker/overlay2/9c1f/diff,workdir=/var/lib/docker/overlay2/9c1f/work\n1184 1183 0:115 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n1190 1184 0:117 / /proc/driver/nvidia rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=555\n")
    m.host_bridges()
    # sysfs is not namespaced: both host A100s are visible; only GPU 1 was given to this container.
    for minor, bus in enumerate(["0000:07:00.0", "0000:0f:00.0"]):
        m.pci(bus, 0x10DE, 0x20B0, 0x10DE, 0x134F, 0x030200, 0xA1, driver="nvidia", parent=f"pci0000:00/0000:00:0{minor + 1}.0")
    m.nvidia_driver("535.216.03", "NVIDIA UNIX x86_64 Kernel Module  535.216.03  Thu Apr  3 01:14:19 UTC 2025",
                    "gcc version 11.4.0 (Ubuntu 11.4.0-1ubuntu1~22.04)", "POE", modify_device_files=0)
    m.gpu_information("0000:0f:00.0", "NVIDIA A100-SXM4-40GB", "GPU-a3f0c2de-6b1d-4f7a-9c55-0e3d2b7f8a19", 1, vbios="92.00.36.00.01", firmware="535.216.03")
    m.node("/dev/nvidiactl", 195, 255)
    m.node("/dev/nvidia-uvm", 508, 0)
    m.node("/dev/nvidia-uvm-tools", 508, 1)
    m.node("/dev/nvidia1", 195, 1)
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")


def permission_denied_550():
    m = Machine("permission-denied-l40s-open-550")
    m.kernel("5.14.0-427.42.1.el9_4.x86_64", "Linux version 5.14.0-427.42.1.el9_4.x86_64 (mockbuild@x64-builder02.almalinux.org) (gcc (GCC) 11.4.1 20231218 (Red Hat 11.4.1-3), GNU ld version 2.35.2-43.el9) #1 SMP PREEMPT_DYNAMIC Fri Oct 18 08:21:48 EDT 2024")
    m.write("/etc/os-release", 'NAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\nID="rocky"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n')
    m.cgroup(BARE_CGROUP)
    m.host_bridges()
    m.pci("0000:4b:00.0", 0x10DE, 0x26B9, 0x10DE, 0x1851, 0x030200, 0xA1, driver="nvidia", parent="pci0000:4a/0000:4a:01.0")
    m.nvidia_driver("550.54.15", "NVIDIA UNIX Open Kernel Module for x86_64  550.54.15  Release Build  (dvs-builder@U16-A24-23-2)  Tue Mar  5 22:15:33 UTC 2024",
                    "gcc version 11.4.1 20231218 (Red Hat 11.4.1-3) (GCC)", "OE")
    m.gpu_information("0000:4b:00.0", "NVIDIA L40S", "GPU-5c7e9a13-2d4f-4b8e-a6c1-7f3e2d1b0a98", 0, vbios="95.02.42.00.02", firmware="550.54.15")
    m.nvidia_nodes([0], mode="0660", gid=44, open_result="EACCES")
    m.lib_modules("5.14.0-427.42.1.el9_4.x86_64", "extra", ext=".ko.xz")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("550.54.15", libdir="/usr/lib64")))


def nodes_missing_570():
    m = Machine("nodes-missing-rtx5090-open-570")
    bare_ubuntu(m, "6.8.0-49-generic")
    m.pci("0000:01:00.0", 0x10DE, 0x2B85, 0x1458, 0x4198, 0x030000, 0xA1, driver="nvidia")
    m.pci("0000:01:00.1", 0x10DE, 0x22E8, 0x1458, 0x4198, 0x040300, 0xA1, driver="snd_hda_intel")
    m.nvidia_driver("570.195.03", "NVIDIA UNIX Open Kernel Module for x86_64  570.195.03  Release Build  (dvs-builder@U22-I3-H04-03-1)  Sat Sep 20 00:47:16 UTC 2025",
                    "gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04.2)", "OE")
    m.gpu_information("0000:01:00.0", "NVIDIA GeForce RTX 5090", "GPU-9e1d2c3b-4a5f-4e6d-8c7b-0a1f2e3d4c5b", 0, firmware="570.195.03")
    # udev removed the nodes (or nvidia-modprobe is missing): only /dev/null is there.
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("570.195.03")))


def rtx5090_570():
    """An RTX 5090 (GB202, compute capability 12.0) on the 570 open driver, nodes present: CUDA
    starts (CUDA 12.8); a cu124 wheel has no sm_120 code for it (issue 22)."""
    m = Machine("rtx5090-open-570")
    bare_ubuntu(m, "6.8.0-49-generic")
    m.pci("0000:01:00.0", 0x10DE, 0x2B85, 0x1458, 0x4198, 0x030000, 0xA1, driver="nvidia")
    m.pci("0000:01:00.1", 0x10DE, 0x22E8, 0x1458, 0x4198, 0x040300, 0xA1, driver="snd_hda_intel")
    m.nvidia_driver("570.195.03", "NVIDIA UNIX Open Kernel Module for x86_64  570.195.03  Release Build  (dvs-builder@U22-I3-H04-03-1)  Sat Sep 20 00:47:16 UTC 2025",
                    "gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04.2)", "OE")
    m.gpu_information("0000:01:00.0", "NVIDIA GeForce RTX 5090", "GPU-9e1d2c3b-4a5f-4e6d-8c7b-0a1f2e3d4c5b", 0, firmware="570.195.03")
    m.nvidia_nodes([0])
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("570.195.03")))


def legacy_470():
    m = Machine("legacy-k80-proprietary-470")
    m.kernel("5.15.0-125-generic", UBUNTU_2204_KERNEL.format(r="5.15.0-125-generic"))
    m.os_release("Ubuntu 22.04.5 LTS", "ubuntu", "22.04", "jammy")
    m.cgroup(BARE_CGROUP)
    m.host_bridges()
    # A Tesla K80 board carries two GK210 GPUs behind a PLX switch.
    for minor, bus in enumerate(["0000:05:00.0", "0000:06:00.0"]):
        m.pci(bus, 0x10DE, 0x102D, 0x10DE, 0x106C, 0x030200, 0xA1, driver="nvidia", parent=f"pci0000:00/0000:00:03.0/0000:04:0{minor + 8}.0")
        m.gpu_information(bus, "Tesla K80", f"GPU-1f2e3d4c-5b6a-7980-a1b2-c3d4e5f6a7b{minor}", minor, vbios="80.21.1f.00.01")
    m.nvidia_driver("470.161.03", "NVIDIA UNIX x86_64 Kernel Module  470.161.03  Wed Oct 19 00:10:36 UTC 2022",
                    "gcc version 11.3.0 (Ubuntu 11.3.0-1ubuntu1~22.04)", "POE")
    m.nvidia_nodes([0, 1])
    m.lib_modules("5.15.0-125-generic", "updates/dkms", ext=".ko")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("470.161.03")))


def pascal_on_590():
    m = Machine("pascal-unbound-open-590")
    bare_ubuntu(m, "6.8.0-49-generic")
    # A GTX 1080 Ti with the 590 driver, which no longer drives Pascal: nothing binds it.
    m.pci("0000:01:00.0", 0x10DE, 0x1B06, 0x10DE, 0x120F, 0x030000, 0xA1, parent="pci0000:00/0000:00:01.0")
    m.nvidia_driver("590.44.01", "NVIDIA UNIX Open Kernel Module for x86_64  590.44.01  Release Build  (dvs-builder@U22-I3-AE18-23-3)  Tue Nov 25 04:52:23 UTC 2025",
                    "gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)", "OE")
    m.mkdir("/proc/driver/nvidia/gpus")
    m.node("/dev/nvidiactl", 195, 255)
    m.node("/dev/nvidia-modeset", 195, 254)
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("590.44.01")))


def pascal_580():
    """A GTX 1080 Ti (Pascal, 6.1) on the proprietary 580 driver, the last branch for Pascal:
    CUDA 13.0 starts, but PyTorch's cu128 and cu13x builds carry no sm_6x code; cu126 does
    (issue 22)."""
    m = Machine("pascal-gtx1080ti-580")
    bare_ubuntu(m, "6.8.0-49-generic")
    m.pci("0000:01:00.0", 0x10DE, 0x1B06, 0x10DE, 0x120F, 0x030000, 0xA1, driver="nvidia", parent="pci0000:00/0000:00:01.0")
    m.nvidia_driver("580.95.05", "NVIDIA UNIX x86_64 Kernel Module  580.95.05  Tue Sep 23 09:39:10 UTC 2025",
                    "gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)", "POE")
    m.gpu_information("0000:01:00.0", "NVIDIA GeForce GTX 1080 Ti", "GPU-3b1c5d7e-9f20-4a6b-8c1d-2e3f4a5b6c7d", 0, vbios="86.02.39.00.01")
    m.nvidia_nodes([0])
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("580.95.05")))


def h100_535():
    """An H100 PCIe on the 535 proprietary driver (CUDA 12.2), bare metal: a cu128 wheel's
    CUDA 12.8 runtime runs through minor-version compatibility only (issue 22)."""
    m = Machine("h100-pcie-proprietary-535")
    bare_ubuntu(m, "6.8.0-49-generic")
    m.pci("0000:17:00.0", 0x10DE, 0x2331, 0x10DE, 0x1626, 0x030200, 0xA1, driver="nvidia", parent="pci0000:16/0000:16:02.0")
    m.nvidia_driver("535.230.02", "NVIDIA UNIX x86_64 Kernel Module  535.230.02  Fri Dec 20 01:53:41 UTC 2024",
                    "gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)", "POE")
    m.gpu_information("0000:17:00.0", "NVIDIA H100 PCIe", "GPU-6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d", 0, vbios="96.00.30.00.01")
    m.nvidia_nodes([0])
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("535.230.02")))


def mismatch_550():
    """Driver packages upgraded to 550.107.02, the 550.90.07 module still loaded: NVML says
    'Driver/library version mismatch' (oddmario/NVIDIA-Ubuntu-Driver-Guide#4)."""
    m = Machine("mismatch-l40s-550")
    bare_ubuntu(m)
    m.pci("0000:4b:00.0", 0x10DE, 0x26B9, 0x10DE, 0x1851, 0x030200, 0xA1, driver="nvidia", parent="pci0000:4a/0000:4a:01.0")
    m.nvidia_driver("550.90.07", "NVIDIA UNIX x86_64 Kernel Module  550.90.07  Fri May 31 09:35:42 UTC 2024",
                    "gcc version 13.2.0 (Ubuntu 13.2.0-23ubuntu4)", "POE")
    m.gpu_information("0000:4b:00.0", "NVIDIA L40S", "GPU-7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", 0, vbios="95.02.42.00.02")
    m.nvidia_nodes([0])
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("550.107.02")))


def container_h100_compat():
    """A CUDA 12.9 image with cuda-compat-12-9 enabled (the CDI hook's ld.so.conf.d entry puts
    the compat directory first) on an R535 host with an H100: forward compatibility works."""
    m = Machine("container-h100-535-compat-12.9")
    m.kernel("5.15.0-125-generic", UBUNTU_2204_KERNEL.format(r="5.15.0-125-generic"))
    m.os_release("Ubuntu 22.04.5 LTS", "ubuntu", "22.04", "jammy")
    m.write("/.dockerenv", "")
    m.cgroup("0::/\n")
    m.host_bridges()
    m.pci("0000:1b:00.0", 0x10DE, 0x2330, 0x10DE, 0x16C1, 0x030200, 0xA1, driver="nvidia", parent="pci0000:1a/0000:1a:01.0")
    m.nvidia_driver("535.216.03", "NVIDIA UNIX x86_64 Kernel Module  535.216.03  Thu Apr  3 01:14:19 UTC 2025",
                    "gcc version 11.4.0 (Ubuntu 11.4.0-1ubuntu1~22.04)", "POE", modify_device_files=0)
    m.gpu_information("0000:1b:00.0", "NVIDIA H100 80GB HBM3", "GPU-0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", 0, vbios="96.00.99.00.01", firmware="535.216.03")
    m.node("/dev/nvidiactl", 195, 255)
    m.node("/dev/nvidia-uvm", 508, 0)
    m.node("/dev/nvidia0", 195, 0)
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")
    host = m.driver_libs("535.216.03")
    # The rest of what the container toolkit injects for utility,compute.
    lib = "/usr/lib/x86_64-linux-gnu"
    m.write_bytes(f"{lib}/libnvidia-ptxjitcompiler.so.535.216.03", elf_so("libnvidia-ptxjitcompiler.so.1"))
    m.link(f"{lib}/libnvidia-ptxjitcompiler.so.1", "libnvidia-ptxjitcompiler.so.535.216.03")
    host.append(("libnvidia-ptxjitcompiler.so.1", f"{lib}/libnvidia-ptxjitcompiler.so.1"))
    m.write("/usr/bin/nvidia-smi", "")
    compat = "/usr/local/cuda-12.9/compat"
    m.write_bytes(f"{compat}/libcuda.so.575.57.08", elf_so("libcuda.so.1", COMPAT_12_9))
    m.link(f"{compat}/libcuda.so.1", "libcuda.so.575.57.08")
    m.link("/usr/local/cuda", "cuda-12.9")
    m.write("/etc/ld.so.conf.d/00-compat-2f9c0d.conf", compat + "\n")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache([("libcuda.so.1", f"{compat}/libcuda.so.1")] + host))


def compat_on_geforce():
    """cuda-compat 12.9 put on the library path of a GeForce machine: every CUDA program fails
    with error 804 (forward compatibility was attempted on non supported HW)."""
    m = Machine("compat-geforce-rtx4090-550")
    bare_ubuntu(m)
    m.pci("0000:01:00.0", 0x10DE, 0x2684, 0x1043, 0x889D, 0x030000, 0xA1, driver="nvidia")
    m.pci("0000:01:00.1", 0x10DE, 0x22BA, 0x1043, 0x889D, 0x040300, 0xA1, driver="snd_hda_intel")
    m.nvidia_driver("550.127.05", "NVIDIA UNIX Open Kernel Module for x86_64  550.127.05  Release Build  (dvs-builder@U16-I3-B03-4-3)  Tue Oct  8 02:56:05 UTC 2024",
                    "gcc version 13.2.0 (Ubuntu 13.2.0-23ubuntu4)", "OE")
    m.gpu_information("0000:01:00.0", "NVIDIA GeForce RTX 4090", "GPU-3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b", 0, firmware="550.127.05")
    m.nvidia_nodes([0])
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    host = m.driver_libs("550.127.05")
    compat = "/usr/local/cuda-12.9/compat"
    m.write_bytes(f"{compat}/libcuda.so.575.57.08", elf_so("libcuda.so.1", COMPAT_12_9))
    m.link(f"{compat}/libcuda.so.1", "libcuda.so.575.57.08")
    m.write("/etc/ld.so.conf.d/cuda-compat.conf", compat + "\n")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache([("libcuda.so.1", f"{compat}/libcuda.so.1")] + host))


def hgx_no_fabric_manager():
    """An HGX H100 board with NVSwitches whose fabric manager is not running."""
    m = Machine("hgx-h100-no-fabricmanager-570")
    bare_ubuntu(m)
    for minor, bus in enumerate(["0000:18:00.0", "0000:2a:00.0"]):
        m.pci(bus, 0x10DE, 0x2330, 0x10DE, 0x16C1, 0x030200, 0xA1, driver="nvidia", parent=f"pci0000:{bus[5:7]}/0000:{bus[5:7]}:01.0")
        m.gpu_information(bus, "NVIDIA H100 80GB HBM3", f"GPU-{minor:02x}a1b2c3-d4e5-4f60-8172-93a4b5c6d7e{minor}", minor, vbios="96.00.99.00.01", firmware="570.195.03")
    for i, bus in enumerate(["0000:05:00.0", "0000:06:00.0"]):
        m.pci(bus, 0x10DE, 0x22A3, 0x10DE, 0x1796, 0x068000, 0xA1, driver="nvidia-nvswitch", parent=f"pci0000:00/0000:00:1d.{i}")
    m.nvidia_driver("570.195.03", "NVIDIA UNIX Open Kernel Module for x86_64  570.195.03  Release Build  (dvs-builder@U22-I3-H04-03-1)  Sat Sep 20 00:47:16 UTC 2025",
                    "gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04.2)", "OE")
    m.nvidia_nodes([0, 1])
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("570.195.03")))


def wheels_565():
    """R565 (which reports CUDA 12.7, a version no toolkit has) with a CUDA 12.6 toolkit, its
    stubs (and the Docker-build trick of a libcuda.so.1 link in the stubs directory) and a
    Python venv holding the CUDA 12.6 runtime wheel."""
    m = Machine("rtx4090-565-toolkit-wheels")
    bare_ubuntu(m)
    m.pci("0000:01:00.0", 0x10DE, 0x2684, 0x1043, 0x889D, 0x030000, 0xA1, driver="nvidia")
    m.nvidia_driver("565.57.01", "NVIDIA UNIX Open Kernel Module for x86_64  565.57.01  Release Build  (dvs-builder@U16-I3-C04-4-1)  Thu Oct 10 12:06:39 UTC 2024",
                    "gcc version 13.2.0 (Ubuntu 13.2.0-23ubuntu4)", "OE")
    m.gpu_information("0000:01:00.0", "NVIDIA GeForce RTX 4090", "GPU-6b5a4f3e-2d1c-4b0a-9f8e-7d6c5b4a3f2e", 0, firmware="565.57.01")
    m.nvidia_nodes([0])
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    host = m.driver_libs("565.57.01")
    tk = "/usr/local/cuda-12.6/targets/x86_64-linux/lib"
    m.write_bytes(f"{tk}/libcudart.so.12.6.77", elf_so("libcudart.so.12"))
    m.link(f"{tk}/libcudart.so.12", "libcudart.so.12.6.77")
    m.write_bytes(f"{tk}/stubs/libcuda.so", elf_so("libcuda.so.1"))
    m.link(f"{tk}/stubs/libcuda.so.1", "libcuda.so")
    m.link("/usr/local/cuda-12.6/lib64", "targets/x86_64-linux/lib")
    m.link("/usr/local/cuda", "cuda-12.6")
    site = "/opt/venv/lib/python3.12/site-packages"
    m.write_bytes(f"{site}/nvidia/cuda_runtime/lib/libcudart.so.12", elf_so("libcudart.so.12"))
    m.write(f"{site}/nvidia_cuda_runtime_cu12-12.6.77.dist-info/METADATA", "Metadata-Version: 2.1\nName: nvidia-cuda-runtime-cu12\nVersion: 12.6.77\n")
    m.write("/etc/ld.so.conf.d/000_cuda.conf", "/usr/local/cuda/targets/x86_64-linux/lib\n")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(host + [("libcudart.so.12", f"{tk}/libcudart.so.12")]))


# --- issue 8: WSL2, gVisor, Tegra/Jetson, containers --------------------------------------------
WSL_KERNEL = "5.15.167.4-microsoft-standard-WSL2"
WSL_VERSION = "Linux version 5.15.167.4-microsoft-standard-WSL2 (root@f9c826d3017f) (gcc (GCC) 11.2.0, GNU ld (GNU Binutils) 2.37) #1 SMP Tue Nov 5 00:21:55 UTC 2024"
WSL_STORE = "/usr/lib/wsl/drivers/nv_dispi.inf_amd64_3c1b5a2e8f0d4e71"


def wsl2(name, ldconfig):
    """WSL2 on a Windows host with an RTX 4070 (driver 32.0.15.6094 = 560.94). The GPU itself is
    behind /dev/dxg (a stand-in here: the adapters come from the emulator in tests); the fixture
    holds the file side: the WSL kernel, the interop handler, the Hyper-V vPCI render device,
    /usr/lib/wsl/lib and the driver store. `ldconfig=False` is the classic breakage: /etc/wsl.conf
    turns off WSL's ld.wsl.conf + ldconfig, so the loader never searches /usr/lib/wsl/lib.
    The healthy machine is also a capture bundle whose ioctl log holds the emulated /dev/dxg
    replies, so `--root` reports the Windows driver and the GPUs."""
    log = kept_log(name) if ldconfig else None
    m = Machine(name)
    m.kernel(WSL_KERNEL, WSL_VERSION)
    m.os_release("Ubuntu 24.04.1 LTS", "ubuntu", "24.04", "noble")
    m.cgroup("0::/\n")
    m.write("/proc/sys/fs/binfmt_misc/WSLInterop", "enabled\ninterpreter /init\nflags: PF\noffset 0\nmagic 4d5a\n")
    m.node("/dev/dxg", 10, 124)
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")
    # GPU-PV shows a Microsoft "Basic Render" 3D controller on a synthetic PCI domain.
    m.pci("5582:00:00.0", 0x1414, 0x008E, 0x0000, 0x0000, 0x030200, 0x00, parent="pci5582:00")
    lib = "/usr/lib/wsl/lib"
    m.write_bytes(f"{lib}/libcuda.so.1.1", elf_so("libcuda.so.1"))
    m.write_bytes(f"{lib}/libcuda.so.1", elf_so("libcuda.so.1"))
    m.write_bytes(f"{lib}/libcuda.so", elf_so("libcuda.so.1"))
    m.write_bytes(f"{lib}/libnvidia-ml.so.1", elf_so("libnvidia-ml.so.1"))
    m.write_bytes(f"{lib}/libnvidia-ptxjitcompiler.so.1", elf_so("libnvidia-ptxjitcompiler.so.1"))
    for f in ("libdxcore.so", "libd3d12.so", "libd3d12core.so", "nvidia-smi"):
        m.write(f"{lib}/{f}", "")
    for f in ("libcuda.so.1.1", "libcuda_loader.so", "libnvidia-ml.so.1", "libnvidia-ml_loader.so",
              "libnvidia-ptxjitcompiler.so.1", "libnvdxgdmal.so.1"):
        m.write_bytes(f"{WSL_STORE}/{f}", elf_so(f.replace(".so.1.1", ".so.1")))
    for f in ("nvcubins.bin", "nvidia-smi"):
        m.write(f"{WSL_STORE}/{f}", "")
    if ldconfig:
        m.write("/etc/ld.so.conf.d/ld.wsl.conf", "# This file was automatically generated by WSL. To stop automatic generation of this file, add the following entry to /etc/wsl.conf:\n# [automount]\n# ldconfig = false\n/usr/lib/wsl/lib\n")
        m.write_bytes("/etc/ld.so.cache", ld_so_cache([("libcuda.so.1", f"{lib}/libcuda.so.1"), ("libnvidia-ml.so.1", f"{lib}/libnvidia-ml.so.1")]))
        m.write("/etc/wsl.conf", "[boot]\nsystemd=true\n")
    else:
        m.write_bytes("/etc/ld.so.cache", ld_so_cache([]))
        m.write("/etc/wsl.conf", "[boot]\nsystemd=true\n\n[automount]\nldconfig = false\n")
    if ldconfig:
        bundle(m, log, deep=False)


def wsl2_rtx4070():
    wsl2("wsl2-rtx4070", ldconfig=True)


def wsl2_ldconfig_off():
    wsl2("wsl2-ldconfig-off", ldconfig=False)


GVISOR_VERSION = "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016"


def kept_log(name):
    """The recorded ioctl log of a fixture bundle, kept across regeneration (the tests in
    probe/tests/platforms.rs record it from the emulators: NVPROBE_UPDATE_FIXTURES=1)."""
    path = os.path.join(OUT, name, ".nvprobe", "ioctl.json")
    return open(path).read() if os.path.isfile(path) else None


def bundle(m, log, deep):
    """Makes machine `m` a capture bundle: `--root` replays the ioctl log (when there is one)."""
    events = 0
    if log is not None:
        m.write("/.nvprobe/ioctl.json", log)
        events = len(json.loads(log)["events"])
    meta = {
        "format": "nvprobe-capture/1",
        "tool": {"name": "nvprobe", "version": "0.1.0"},
        "created_unix": 1763683200,
        "machine": "/",
        "flags": {"deep": deep, "cross_check": False, "timeout_ms": 2000},
        "redacted": False,
        "environment": {},
        "shim_output": None,
        "copied": {"files": 0, "sparse": 0, "dirs": 0, "links": 0, "stand_ins": 0, "bytes": 0},
        "unreadable": [],
        "ioctl_events": events,
    }
    m.write("/.nvprobe/capture.json", json.dumps(meta, indent=2) + "\n")


def gvisor(name, nvproxy):
    """A gVisor (runsc) sandbox on an H100 host with driver 580.65.06. gVisor presents a fixed
    kernel identity, has no PCI sysfs and, with --nvproxy, a /proc/driver/nvidia holding only
    `params`. The driver version and GPU list come from ioctls nvproxy forwards (the emulator in
    tests). Without nvproxy there are no NVIDIA nodes at all.

    With nvproxy the machine is also a capture bundle (.nvprobe/): `--root` replays the ioctl
    replies in .nvprobe/ioctl.json, recorded from the emulated nvproxy by the test
    platforms_gvisor_fixture_replays_nvproxy (NVPROBE_UPDATE_FIXTURES=1 rewrites it); this
    script keeps that file and writes capture.json around it."""
    log = kept_log(name)
    m = Machine(name)
    m.kernel("4.4.0", GVISOR_VERSION)
    m.os_release("Ubuntu 22.04.5 LTS", "ubuntu", "22.04", "jammy")
    m.cgroup("0::/\n")
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")
    m.mkdir("/sys/devices/system/cpu")
    if nvproxy:
        m.write("/proc/driver/nvidia/params", "ResmanDebugLevel: 4294967295\nRmLogonRC: 1\nModifyDeviceFiles: 0\nDeviceFileUID: 0\nDeviceFileGID: 0\nDeviceFileMode: 438\n")
        m.node("/dev/nvidiactl", 195, 255)
        m.node("/dev/nvidia-uvm", 508, 0)
        m.node("/dev/nvidia0", 195, 0)
        m.driver_libs("580.65.06")
        m.write("/usr/bin/nvidia-smi", "")
        bundle(m, log, deep=True)


def gvisor_h100():
    gvisor("gvisor-h100", nvproxy=True)


def gvisor_no_nvproxy():
    gvisor("gvisor-no-nvproxy", nvproxy=False)


def jetson(name, in_container):
    """A Jetson AGX Orin 64GB on Jetson Linux 36.4 (JetPack 6.1): nvgpu drives the integrated
    GPU (no PCI, no nvidia.ko). In a container started without the NVIDIA runtime, the GPU's
    device nodes are missing."""
    m = Machine(name)
    m.kernel("5.15.148-tegra", "Linux version 5.15.148-tegra (buildbrain@mobile-u64-6336-d8000) (aarch64-buildroot-linux-gnu-gcc.br_real (Buildroot 2022.08) 11.3.0, GNU ld (GNU Binutils) 2.38) #1 SMP PREEMPT Thu Sep 12 21:32:47 PDT 2024")
    m.os_release("Ubuntu 22.04.5 LTS", "ubuntu", "22.04", "jammy")
    m.write("/etc/nv_tegra_release", "# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic, EABI: aarch64, DATE: Fri Sep 13 04:36:44 UTC 2024\n# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\nTARGET_USERSPACE_LIB_DIR_PATH=usr/lib/aarch64-linux-gnu/nvidia\n")
    m.write("/proc/device-tree/compatible", "nvidia,p3737-0000+p3701-0005\0nvidia,p3701-0005\0nvidia,tegra234\0")
    m.write("/proc/device-tree/model", "NVIDIA Jetson AGX Orin Developer Kit\0")
    m.write("/sys/devices/soc0/family", "Tegra\n")
    m.write("/sys/devices/soc0/machine", "NVIDIA Jetson AGX Orin Developer Kit\n")
    m.write("/sys/devices/soc0/soc_id", "35\n")
    m.write("/sys/devices/soc0/revision", "A01\n")
    m.write("/sys/module/nvgpu/initstate", "live\n")
    m.write("/proc/modules", "nvgpu 2744320 23 - Live 0x0000000000000000 (O)\nnvmap 139264 102 nvgpu, Live 0x0000000000000000 (O)\n")
    m.mkdir("/sys/bus/pci/devices")
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")
    if in_container:
        m.write("/.dockerenv", "")
        m.cgroup("0::/\n")
    else:
        m.cgroup("0::/user.slice/user-1000.slice/session-2.scope\n")
        m.node("/dev/nvhost-ctrl-gpu", 507, 0, gid=44)
        m.node("/dev/nvmap", 10, 125, gid=44)
        m.node("/dev/nvgpu/igpu0/ctrl", 507, 0, gid=44)


def jetson_orin_l4t_36():
    jetson("jetson-orin-l4t-36", in_container=False)


def jetson_orin_container_no_runtime():
    jetson("jetson-orin-container-no-runtime", in_container=True)


CONTAINER_570_LINE = "NVIDIA UNIX Open Kernel Module for x86_64  570.133.20  Release Build  (dvs-builder@U16-I3-B03-4-3)  Tue Mar 25 18:52:58 UTC 2025"


def container_base(name, gpus, visible, uvm=True, libs=("libcuda", "libnvidia-ml"), smi=True,
                   version="570.133.20", line=CONTAINER_570_LINE, extra_cache=()):
    """A Docker container on a host with `gpus` H100s (sysfs shows them all) and driver
    570.133.20; the toolkit injected the GPUs at indices `visible` (procfs copy + nodes)."""
    m = Machine(name)
    m.kernel("6.8.0-49-generic", UBUNTU_2404_KERNEL.format(r="6.8.0-49-generic"))
    m.os_release("Ubuntu 22.04.5 LTS", "ubuntu", "22.04", "jammy")
    m.write("/.dockerenv", "")
    m.cgroup("0::/\n")
    m.host_bridges()
    buses = [f"0000:{b:02x}:00.0" for b in (0x1b, 0x43, 0x52, 0x61)][:gpus]
    for i, bus in enumerate(buses):
        m.pci(bus, 0x10DE, 0x2330, 0x10DE, 0x16C1, 0x030200, 0xA1, driver="nvidia", parent=f"pci0000:{bus[5:7]}/0000:{bus[5:7]}:01.0")
    m.nvidia_driver(version, line, "gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)", "OE", modify_device_files=0)
    if visible:
        m.node("/dev/nvidiactl", 195, 255)
        if uvm:
            m.node("/dev/nvidia-uvm", 508, 0)
            m.node("/dev/nvidia-uvm-tools", 508, 1)
    for i in visible:
        m.gpu_information(buses[i], "NVIDIA H100 80GB HBM3", f"GPU-5d2e8c4a-1f3b-4a6d-9e7c-0b1a2c3d4e{i:02x}", i, vbios="96.00.99.00.01", firmware=version)
        m.node(f"/dev/nvidia{i}", 195, i)
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")
    libdir = "/usr/lib/x86_64-linux-gnu"
    entries = []
    for base in libs:
        m.write_bytes(f"{libdir}/{base}.so.{version}", elf_so(base + ".so.1"))
        m.link(f"{libdir}/{base}.so.1", f"{base}.so.{version}")
        entries.append((base + ".so.1", f"{libdir}/{base}.so.1"))
    if "libcuda" in libs:
        m.write_bytes(f"{libdir}/libnvidia-ptxjitcompiler.so.{version}", elf_so("libnvidia-ptxjitcompiler.so.1"))
        m.link(f"{libdir}/libnvidia-ptxjitcompiler.so.1", f"libnvidia-ptxjitcompiler.so.{version}")
    if smi:
        m.write("/usr/bin/nvidia-smi", "")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(entries + list(extra_cache)))
    return m


def container_visible_subset():
    container_base("container-visible-subset", gpus=4, visible=[2, 3])


def container_missing_nodes():
    # Only /dev/nvidia0 was passed ('--device /dev/nvidia0' style, or a host without
    # nvidia-uvm loaded) and only the utility libraries were injected.
    container_base("container-missing-nodes", gpus=1, visible=[0], uvm=False, libs=("libnvidia-ml",))


def container_no_gpu_requested():
    # 'docker run -e NVIDIA_VISIBLE_DEVICES=all' without '--gpus' or the NVIDIA runtime: the host's
    # driver is visible through sysfs, nothing was injected.
    m = Machine("container-no-gpu-injected")
    m.kernel("6.8.0-49-generic", UBUNTU_2404_KERNEL.format(r="6.8.0-49-generic"))
    m.os_release("Ubuntu 22.04.5 LTS", "ubuntu", "22.04", "jammy")
    m.write("/.dockerenv", "")
    m.cgroup("0::/\n")
    m.host_bridges()
    m.pci("0000:1b:00.0", 0x10DE, 0x2330, 0x10DE, 0x16C1, 0x030200, 0xA1, driver="nvidia", parent="pci0000:1a/0000:1a:01.0")
    m.write("/sys/module/nvidia/version", "570.133.20\n")
    m.write("/sys/module/nvidia/initstate", "live\n")
    m.write("/sys/module/nvidia/taint", "OE\n")
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")


# --- issue 23: virtual-GPU managers ------------------------------------------------------------
def cuda_runtime(m, full, soname, libdir="/usr/local/cuda/lib64"):
    """A CUDA image's runtime: libcudart.so.<full> with its SONAME link, as the toolkit's
    cuda-cudart package installs it; returns the ld.so.cache entry (the image's
    /etc/ld.so.conf.d/000_cuda.conf puts this directory in the cache)."""
    m.write_bytes(f"{libdir}/libcudart.so.{full}", elf_so(soname))
    m.link(f"{libdir}/{soname}", f"libcudart.so.{full}")
    m.write("/etc/ld.so.conf.d/000_cuda.conf", libdir + "\n")
    return (soname, f"{libdir}/{soname}")


def container_hami_580_cuda11():
    """A Kubernetes pod on an H100 host with driver 580 (CUDA 13.0) under HAMi: the device
    plugin mounted the host's /usr/local/vgpu/ld.so.preload over /etc/ld.so.preload and
    libvgpu.so beside it; the image is a CUDA 11.8 one (libcudart 11.8.89): two majors behind."""
    line = "NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build  (dvs-builder@U22-I3-AF03-09-1)  Sun Jul 27 06:54:38 UTC 2025"
    m = container_base("container-hami-580-cuda11", gpus=1, visible=[0], version="580.65.06", line=line,
                       extra_cache=[("libcudart.so.11.0", "/usr/local/cuda/lib64/libcudart.so.11.0")])
    cuda_runtime(m, "11.8.89", "libcudart.so.11.0")
    m.write("/etc/ld.so.preload", "/usr/local/vgpu/libvgpu.so\n")
    m.write_bytes("/usr/local/vgpu/libvgpu.so", elf_so("libvgpu.so"))


def vcuda_config(pod_uid, container, bus_id, memory, cores, driver=(570, 133)):
    """gpu-manager's vcuda.config: struct resource_data_t (vcuda-controller include/hijack.h,
    packed, aligned 8), as virtual-manager's setting_to_disk writes it: FILENAME_MAX 4096,
    NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 16; 8240 bytes."""
    import struct
    b = bytearray(8240)
    b[0:len(pod_uid)] = pod_uid.encode()
    b[4096:4096 + len(container)] = container.encode()
    b[8192:8192 + len(bus_id)] = bus_id.encode()
    struct.pack_into("<QiiiiI", b, 8208, memory, cores, 1, driver[0], driver[1], 1 if cores < 100 else 0)
    return bytes(b)


def container_gpu_manager_570():
    """A pod under tkestack GPU-Manager with tencent.com/vcuda-core 50: /usr/local/nvidia is
    the virtual driver (libcuda-control.so), /etc/vcuda the pod's directory with the
    container's vcuda.config; the image is CUDA 12.4."""
    m = container_base("container-gpu-manager-570", gpus=1, visible=[0],
                       extra_cache=[("libcudart.so.12", "/usr/local/cuda/lib64/libcudart.so.12")])
    cuda_runtime(m, "12.4.127", "libcudart.so.12")
    # /usr/local/nvidia is gpu-manager's driver volume in share mode (pkg/services/volume):
    # the driver's libraries mirrored, and libcuda-control.so cloned over the SONAME files
    # libcuda.so.1 / libcuda.so and libnvidia-ml.so.1 / libnvidia-ml.so.
    nv = "/usr/local/nvidia/lib64"
    hook = elf_so("libcuda-control.so")
    m.write_bytes(f"{nv}/libcuda-control.so", hook)
    for base in ("libcuda.so", "libnvidia-ml.so"):
        m.write_bytes(f"{nv}/{base}.570.133.20", elf_so(base + ".1"))
        m.write_bytes(f"{nv}/{base}.1", hook)
        m.write_bytes(f"{nv}/{base}", hook)
    m.write("/etc/vcuda/vcuda.sock", "")
    cid = "k8s_cuda_trainer-7d9f8b6c5-x2v4q_default_3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d_0"
    m.write_bytes(f"/etc/vcuda/{cid}/vcuda.config", vcuda_config("3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", cid, "00000000:1B:00.0", 4 * 268435456, 50))
    m.write_bytes(f"/etc/vcuda/{cid}/pids.config", (4242).to_bytes(4, "little"))


# --- issue 23: kernel module builds -------------------------------------------------------------
EFI_GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
SHIM_LOCK = "605dab50-e046-4300-abb6-3dd810dd8b23"
# efivarfs attributes: NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS = 0x07; SecureBoot is
# BOOTSERVICE_ACCESS | RUNTIME_ACCESS = 0x06.
EFI_ATTR_BS_RT = (0x06).to_bytes(4, "little")


def fake_der(tag):
    """A stand-in X.509 certificate: a DER SEQUENCE header and distinct content."""
    body = (tag.encode() * 40)[:700]
    return b"\x30\x82" + len(body).to_bytes(2, "big") + body


def mok_list(certs):
    """MokListRT as the efivar holds it after the attributes: EFI_SIGNATURE_LISTs of
    EFI_CERT_X509_GUID (a1 59 c0 a5 e4 94 a7 4a 87 b5 ab 15 5c 2b f0 72), one cert each, with
    the owner GUID before the data."""
    import struct
    x509 = bytes.fromhex("a159c0a5e494a74a87b5ab155c2bf072")
    owner = bytes.fromhex("50ab5d6046e0004300abb63dd810dd8b")
    out = b""
    for c in certs:
        size = 16 + len(c)
        out += x509 + struct.pack("<III", 28 + size, 0, size) + owner + c
    return out


def secure_boot(m, on, lockdown="integrity", sig_enforce="Y"):
    m.write_bytes(f"/sys/firmware/efi/efivars/SecureBoot-{EFI_GLOBAL}", EFI_ATTR_BS_RT + bytes([1 if on else 0]))
    modes = ["none", "integrity", "confidentiality"]
    m.write("/sys/kernel/security/lockdown", " ".join(f"[{x}]" if x == lockdown else x for x in modes) + "\n")
    m.write("/sys/module/module/parameters/sig_enforce", sig_enforce + "\n")


def kernel_headers(m, release):
    """linux-headers-<release>: /usr/src/linux-headers-<release> with its Makefile, and the
    /lib/modules/<release>/build link into it."""
    m.write(f"/usr/src/linux-headers-{release}/Makefile", "# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 8\nSUBLEVEL = 0\n")
    m.link(f"/lib/modules/{release}/build", f"/usr/src/linux-headers-{release}")


def dkms_tree(m, module, version, releases, source=True, ext=".ko.zst", ko=b""):
    """/var/lib/dkms/<module>/<version> as DKMS 3 leaves it: `source` -> /usr/src/<m>-<v>
    (dangling once the package is removed), `<release>/x86_64/module/*.ko*` per build."""
    base = f"/var/lib/dkms/{module}/{version}"
    m.link(f"{base}/source", f"/usr/src/{module}-{version}")
    if source:
        m.write(f"/usr/src/{module}-{version}/dkms.conf",
                f'PACKAGE_NAME="{module}"\nPACKAGE_VERSION="{version}"\nAUTOINSTALL="yes"\n'
                'BUILT_MODULE_NAME[0]="nvidia"\nDEST_MODULE_LOCATION[0]="/updates/dkms"\n')
    for r in releases:
        for n in ("nvidia", "nvidia-uvm", "nvidia-modeset", "nvidia-drm", "nvidia-peermem"):
            m.write_bytes(f"{base}/{r}/x86_64/module/{n}{ext}", ko)
        m.write(f"{base}/{r}/x86_64/log/make.log", f"DKMS make.log for {module}-{version} for kernel {r} (x86_64)\n")


def module_file(signed):
    """The end of a kernel module: an ELF head, then (signed) the PKCS#7 blob, struct
    module_signature {algo 0, hash 0, id_type 2 (PKEY_ID_PKCS7), signer_len 0, key_id_len 0,
    pad[3], sig_len big-endian} and the magic, as scripts/sign-file appends them."""
    head = b"\x7fELF\x02\x01\x01" + bytes(9) + b".modinfo\0license=NVIDIA\0" + bytes(64) + b"\x01\x02section headers"
    if not signed:
        return head
    sig = b"\x30\x82\x02\x10" + b"pkcs7" * 100
    return head + sig + bytes([0, 0, 2, 0, 0, 0, 0, 0]) + len(sig).to_bytes(4, "big") + b"~Module signature appended~\n"


def unbound_a6000(m):
    """An RTX A6000 on the bus with no driver bound, and /proc/modules without nvidia."""
    m.pci("0000:41:00.0", 0x10DE, 0x2230, 0x10DE, 0x1459, 0x030000, 0xA1, parent="pci0000:40/0000:40:01.1")
    m.pci("0000:41:00.1", 0x10DE, 0x1AEF, 0x10DE, 0x1459, 0x040300, 0xA1, driver="snd_hda_intel", parent="pci0000:40/0000:40:01.1")
    m.write("/proc/modules", "snd_hda_intel 61440 4 - Live 0x0000000000000000\nnvme 61440 2 - Live 0x0000000000000000\n")
    m.write("/proc/sys/kernel/tainted", "0\n")
    m.write("/dev/null", "type=char\nmajor=1\nminor=3\nmode=0666\nuid=0\ngid=0\nopen=ok\n")


def dkms_secure_boot_mok_not_enrolled():
    """Ubuntu 22.04 with Secure Boot: DKMS built 535.183.01 for the running kernel and signed
    it with the MOK that update-secureboot-policy made, but the key was never enrolled
    (MokListRT holds Canonical's only): 'Key was rejected by service'. A tree of 525.147.05,
    whose package is gone, is still in /var/lib/dkms."""
    r = "6.8.0-51-generic"
    m = Machine("dkms-secure-boot-mok-not-enrolled")
    m.kernel(r, UBUNTU_2204_KERNEL.format(r=r))
    m.os_release("Ubuntu 22.04.5 LTS", "ubuntu", "22.04", "jammy")
    m.cgroup(BARE_CGROUP)
    m.host_bridges()
    unbound_a6000(m)
    m.lib_modules(r, "updates/dkms", ext=".ko")
    for n in ("nvidia", "nvidia-uvm", "nvidia-modeset", "nvidia-drm", "nvidia-peermem"):
        m.write_bytes(f"/lib/modules/{r}/updates/dkms/{n}.ko", module_file(signed=True))
    kernel_headers(m, r)
    dkms_tree(m, "nvidia", "535.183.01", [r], ext=".ko", ko=module_file(signed=True))
    dkms_tree(m, "nvidia", "525.147.05", ["6.5.0-41-generic"], source=False)
    secure_boot(m, on=True)
    mok = fake_der("local-mok")
    m.write_bytes("/var/lib/shim-signed/mok/MOK.der", mok)
    m.write_bytes(f"/sys/firmware/efi/efivars/MokListRT-{SHIM_LOCK}", EFI_ATTR_BS_RT + mok_list([fake_der("canonical")]))


def dkms_no_headers_550():
    """Ubuntu 24.04 after a kernel update: the running 6.8.0-51 has no headers (its build link
    dangles), so DKMS built 550.127.05 for 6.8.0-49 only."""
    m = Machine("dkms-no-headers-550")
    bare_ubuntu(m, "6.8.0-51-generic")
    unbound_a6000(m)
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    m.lib_modules("6.8.0-51-generic")
    kernel_headers(m, "6.8.0-49-generic")
    m.link("/lib/modules/6.8.0-51-generic/build", "/usr/src/linux-headers-6.8.0-51-generic")
    dkms_tree(m, "nvidia", "550.127.05", ["6.8.0-49-generic"])
    secure_boot(m, on=False, lockdown="none", sig_enforce="N")


# --- issue 23: driver package layers -----------------------------------------------------------
def dpkg_stanza(pkg, version, section="multiverse/libs", status="install ok installed", source=None,
                arch="amd64", size=1024, depends=None, desc="NVIDIA driver package"):
    """One /var/lib/dpkg/status stanza in dpkg's field order, with an indented long
    description as dpkg writes it."""
    lines = [f"Package: {pkg}", f"Status: {status}", "Priority: optional", f"Section: {section}",
             f"Installed-Size: {size}", "Maintainer: Ubuntu Core Developers <ubuntu-devel-discuss@lists.ubuntu.com>",
             f"Architecture: {arch}"]
    if source:
        lines.append(f"Source: {source}")
    lines.append(f"Version: {version}")
    if depends:
        lines.append(f"Depends: {depends}")
    lines += [f"Description: {desc}", " This package is part of the NVIDIA driver stack.", " .",
              " Version: in a description is not a field.",
              "Original-Maintainer: Debian NVIDIA Maintainers <pkg-nvidia-devel@lists.alioth.debian.org>"]
    return "\n".join(lines) + "\n"


def dpkg_status(m, stanzas):
    base = dpkg_stanza("libc6", "2.39-0ubuntu8.3", section="libs", size=13011, desc="GNU C Library: Shared libraries")
    m.write("/var/lib/dpkg/status", "\n".join([base] + stanzas))


def dpkg_split_branch_530_535():
    """Ubuntu 22.04, an L40S: the 535-server module packages are installed and loaded, but
    the userspace is 530 (libnvidia-compute-530, nvidia-utils-530, pinned from another
    repository): split branches, and the libraries the loader finds are 530's."""
    r = "6.8.0-49-generic"
    m = Machine("dpkg-split-branch-530-535")
    m.kernel(r, UBUNTU_2204_KERNEL.format(r=r))
    m.os_release("Ubuntu 22.04.5 LTS", "ubuntu", "22.04", "jammy")
    m.cgroup(BARE_CGROUP)
    m.host_bridges()
    m.pci("0000:ca:00.0", 0x10DE, 0x26B9, 0x10DE, 0x1851, 0x030200, 0xA1, driver="nvidia", parent="pci0000:c9/0000:c9:01.0")
    m.nvidia_driver("535.183.01", "NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024",
                    "gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)", "PO")
    m.gpu_information("0000:ca:00.0", "NVIDIA L40S", "GPU-8a9b0c1d-2e3f-4a5b-8c7d-9e0f1a2b3c4d", 0, vbios="95.02.66.00.02")
    m.nvidia_nodes([0])
    m.lib_modules(r, "kernel/nvidia-535srv", ext=".ko")
    m.write("/proc/sys/kernel/tainted", "4097\n")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("530.30.02")))
    kv = "6.8.0-49.49~22.04.1+1"
    dpkg_status(m, [
        dpkg_stanza(f"linux-modules-nvidia-535-server-{r}", kv, section="kernel", source="linux-restricted-modules-hwe-6.8",
                    depends=f"linux-image-{r} | linux-image-unsigned-{r}, linux-signatures-nvidia-{r} (= {kv}), linux-objects-nvidia-535-server-{r} (= {kv}), nvidia-kernel-common-535-server (>= 535.183.01)"),
        dpkg_stanza(f"linux-objects-nvidia-535-server-{r}", kv, section="kernel", source="linux-restricted-modules-hwe-6.8"),
        dpkg_stanza(f"linux-signatures-nvidia-{r}", kv, section="kernel", source="linux-restricted-modules-hwe-6.8"),
        dpkg_stanza("nvidia-kernel-common-535-server", "535.183.01-0ubuntu0.22.04.1", source="nvidia-graphics-drivers-535-server"),
        dpkg_stanza("libnvidia-compute-530", "530.30.02-0ubuntu1", source="nvidia-graphics-drivers-530"),
        dpkg_stanza("nvidia-utils-530", "530.30.02-0ubuntu1", section="multiverse/utils", source="nvidia-graphics-drivers-530"),
        dpkg_stanza("nvidia-container-toolkit", "1.17.8-1", section="utils", depends="nvidia-container-toolkit-base (= 1.17.8-1), libnvidia-container-tools (>= 1.17.8-1), libnvidia-container-tools (<< 2.0.0)"),
        dpkg_stanza("nvidia-container-toolkit-base", "1.17.8-1", section="utils"),
    ])


def rpm_split_branch_550_560():
    """Rocky Linux 9.4, an L40S: NVIDIA's open DKMS module of 560 (kmod-nvidia-open-dkms) is
    loaded, but the userspace packages are 550's (nvidia-driver-cuda-libs pinned by a
    versionlock), as are the fabric manager and NSCQ; the container toolkit is 1.13.5. The
    package database is a real rpmdb.sqlite (scripts/rpmdb/gen-rpmdb.sh)."""
    r = "5.14.0-427.42.1.el9_4.x86_64"
    m = Machine("rpm-split-branch-550-560")
    m.kernel(r, "Linux version 5.14.0-427.42.1.el9_4.x86_64 (mockbuild@x64-builder02.almalinux.org) (gcc (GCC) 11.4.1 20231218 (Red Hat 11.4.1-3), GNU ld version 2.35.2-43.el9) #1 SMP PREEMPT_DYNAMIC Fri Oct 18 08:21:48 EDT 2024")
    m.write("/etc/os-release", 'NAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\nID="rocky"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n')
    m.cgroup(BARE_CGROUP)
    m.host_bridges()
    m.pci("0000:4b:00.0", 0x10DE, 0x26B9, 0x10DE, 0x1851, 0x030200, 0xA1, driver="nvidia", parent="pci0000:4a/0000:4a:01.0")
    m.nvidia_driver("560.35.03", "NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build  (dvs-builder@U16-I3-B03-4-3)  Fri Aug 16 21:22:33 UTC 2024",
                    "gcc version 11.4.1 20231218 (Red Hat 11.4.1-3) (GCC)", "OE")
    m.gpu_information("0000:4b:00.0", "NVIDIA L40S", "GPU-5c7e9a13-2d4f-4b8e-a6c1-7f3e2d1b0a99", 0, vbios="95.02.42.00.02", firmware="560.35.03")
    m.nvidia_nodes([0])
    m.lib_modules(r, "extra", ext=".ko.xz")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("550.127.05", libdir="/usr/lib64")))
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "rpmdb", "rocky9-nvidia.sqlite"), "rb") as f:
        m.write_bytes("/var/lib/rpm/rpmdb.sqlite", f.read())


def dpkg_desktop_flavour_orphans_570():
    """Ubuntu 24.04, an H100 PCIe (no NVSwitch) with the desktop nvidia-driver-570 loaded;
    left from 550: the module package of an old kernel and its firmware package, a removed
    libnvidia-compute-550 (config files only), the fabric manager and NSCQ of 550; the
    container toolkit is 1.13.5."""
    m = Machine("dpkg-desktop-flavour-orphans-570")
    bare_ubuntu(m)
    m.pci("0000:17:00.0", 0x10DE, 0x2331, 0x10DE, 0x1626, 0x030200, 0xA1, driver="nvidia", parent="pci0000:16/0000:16:01.0")
    m.nvidia_driver("570.195.03", "NVIDIA UNIX Open Kernel Module for x86_64  570.195.03  Release Build  (dvs-builder@U22-I3-H04-03-1)  Sat Sep 20 00:47:16 UTC 2025",
                    "gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)", "O")
    m.gpu_information("0000:17:00.0", "NVIDIA H100 PCIe", "GPU-3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", 0, vbios="96.00.30.00.01", firmware="570.195.03")
    m.nvidia_nodes([0])
    m.lib_modules("6.8.0-49-generic", "kernel/nvidia-570", ext=".ko")
    m.lib_modules("6.8.0-45-generic", "kernel/nvidia-550", ext=".ko")
    m.write("/proc/sys/kernel/tainted", "4096\n")
    m.write_bytes("/etc/ld.so.cache", ld_so_cache(m.driver_libs("570.195.03")))
    k49, k45 = "6.8.0-49.49+1", "6.8.0-45.45+1"
    v570, v550 = "570.195.03-0ubuntu0.24.04.1", "550.127.05-0ubuntu0.24.04.1"
    dpkg_status(m, [
        dpkg_stanza("nvidia-driver-570", v570, source="nvidia-graphics-drivers-570",
                    depends="libnvidia-gl-570 (= 570.195.03-0ubuntu0.24.04.1), nvidia-kernel-common-570 (= 570.195.03-0ubuntu0.24.04.1), libnvidia-compute-570, xserver-xorg-video-nvidia-570, nvidia-utils-570"),
        dpkg_stanza("libnvidia-compute-570", v570, source="nvidia-graphics-drivers-570"),
        dpkg_stanza("libnvidia-compute-550", v550, status="deinstall ok config-files", source="nvidia-graphics-drivers-550"),
        dpkg_stanza("nvidia-utils-570", v570, section="multiverse/utils", source="nvidia-graphics-drivers-570"),
        dpkg_stanza("nvidia-kernel-common-570", v570, section="multiverse/x11", source="nvidia-graphics-drivers-570"),
        dpkg_stanza("xserver-xorg-video-nvidia-570", v570, section="multiverse/x11", source="nvidia-graphics-drivers-570"),
        dpkg_stanza("nvidia-firmware-570-570.195.03", v570, section="multiverse/kernel", source="nvidia-graphics-drivers-570"),
        dpkg_stanza("nvidia-firmware-550-550.127.05", v550, section="multiverse/kernel", source="nvidia-graphics-drivers-550"),
        dpkg_stanza("linux-modules-nvidia-570-6.8.0-49-generic", k49, section="kernel", source="linux-restricted-modules"),
        dpkg_stanza("linux-modules-nvidia-550-6.8.0-45-generic", k45, section="kernel", source="linux-restricted-modules"),
        dpkg_stanza("nvidia-fabricmanager-550", "550.127.05-1", section="multiverse/utils"),
        dpkg_stanza("libnvidia-nscq-550", "550.127.05-1", section="multiverse/libs"),
        dpkg_stanza("nvidia-container-toolkit", "1.13.5-1", section="utils", depends="nvidia-container-toolkit-base (= 1.13.5-1), libnvidia-container-tools (>= 1.13.5-1), libnvidia-container-tools (<< 2.0.0)"),
        dpkg_stanza("nvidia-container-toolkit-base", "1.13.5-1", section="utils"),
        dpkg_stanza("libnvidia-container1", "1.13.5-1", section="libs"),
    ])


# --- issue 9: one label set per node -----------------------------------------------------------
def mixed_4090_a4000_570():
    """A workstation with two different GPUs: an RTX A4000 (GA104, 8.6) and an RTX 4090 (AD102,
    8.9). Node labels describe the lowest compute capability; conda's __cuda_arch is the
    minimum, the wheel variant's sm_arch the maximum."""
    m = Machine("mixed-a4000-rtx4090-570")
    bare_ubuntu(m)
    m.pci("0000:01:00.0", 0x10DE, 0x2684, 0x1043, 0x889D, 0x030000, 0xA1, driver="nvidia", parent="pci0000:00/0000:00:01.0")
    m.pci("0000:01:00.1", 0x10DE, 0x22BA, 0x1043, 0x889D, 0x040300, 0xA1, driver="snd_hda_intel", parent="pci0000:00/0000:00:01.0")
    m.pci("0000:41:00.0", 0x10DE, 0x24B0, 0x10DE, 0x14AD, 0x030000, 0xA1, driver="nvidia", parent="pci0000:40/0000:40:01.1")
    m.nvidia_driver("570.195.03", "NVIDIA UNIX Open Kernel Module for x86_64  570.195.03  Release Build  (dvs-builder@U22-I3-H04-03-1)  Sat Sep 20 00:47:16 UTC 2025",
                    "gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04.2)", "OE")
    m.gpu_information("0000:01:00.0", "NVIDIA GeForce RTX 4090", "GPU-2c4e6a8b-1d3f-4a5b-9c7d-e1f203a4b5c6", 0, vbios="95.02.18.80.5f", firmware="570.195.03")
    m.gpu_information("0000:41:00.0", "NVIDIA RTX A4000", "GPU-7d8e9fa0-b1c2-4d3e-8f4a-5b6c7d8e9f01", 1, vbios="94.04.5b.00.04", firmware="570.195.03")
    m.nvidia_nodes([0, 1])
    m.lib_modules("6.8.0-49-generic", "updates/dkms")
    m.driver_libs("570.195.03")


def main():
    if not os.path.isdir(os.path.join(OUT, "..")):
        sys.exit("run from the workspace: tests/ not found")
    for make in (h100x8_open_580, no_gpu, kernel_update_no_dkms, kernel_68_driver_545, nouveau, container_535,
                 permission_denied_550, nodes_missing_570, rtx5090_570, legacy_470, pascal_on_590, pascal_580, h100_535,
                 mismatch_550, container_h100_compat, compat_on_geforce, hgx_no_fabric_manager,
                 wheels_565, wsl2_rtx4070, wsl2_ldconfig_off, gvisor_h100, gvisor_no_nvproxy,
                 jetson_orin_l4t_36, jetson_orin_container_no_runtime, container_visible_subset,
                 container_missing_nodes, container_no_gpu_requested, mixed_4090_a4000_570,
                 container_hami_580_cuda11, container_gpu_manager_570,
                 dkms_secure_boot_mok_not_enrolled, dkms_no_headers_550,
                 dpkg_split_branch_530_535, dpkg_desktop_flavour_orphans_570, rpm_split_branch_550_560):
        make()
    # git keeps no empty directory: drop them, so the trees here are the ones a clone has.
    for top, dirs, files in os.walk(OUT, topdown=False):
        if not dirs and not files and top != OUT:
            os.rmdir(top)
        elif not os.listdir(top) and top != OUT:
            os.rmdir(top)


if __name__ == "__main__":
    main()
