#!/usr/bin/env python3
"""Writes the fixture machines under tests/fixtures/<name>/ (a machine's `/` for --root).

File formats are copied from real machines: procfs lines as the driver's seq_printf writes them
(tabs in `information`, the trailing space of the GCC line), sysfs attributes with their
newline, /sys/bus/pci/devices entries as symlinks into /sys/devices and `driver` links into
/sys/bus/pci/drivers. Device nodes are stand-in regular files holding a `key=value` record of
the real node (see probe/src/detect/devnodes.rs). Deterministic: run it again and git shows no
change. Usage: python3 scripts/gen-fixtures.py  (from the workspace root)
"""
import os
import shutil
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


class Machine:
    def __init__(self, name):
        self.root = os.path.join(OUT, name)
        if os.path.isdir(self.root):
            shutil.rmtree(self.root)
        os.makedirs(self.root)

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


def main():
    if not os.path.isdir(os.path.join(OUT, "..")):
        sys.exit("run from the workspace: tests/ not found")
    for make in (h100x8_open_580, no_gpu, kernel_update_no_dkms, nouveau, container_535,
                 permission_denied_550, nodes_missing_570, legacy_470, pascal_on_590):
        make()


if __name__ == "__main__":
    main()
