#!/bin/sh
# Makes scripts/rpmdb/rocky9-nvidia.sqlite, a real rpm database (RPM 4.16+ SQLite backend) for
# the fixture machine rpm-split-branch-550-560 (scripts/gen-fixtures.py copies it to
# /var/lib/rpm/rpmdb.sqlite). Empty packages named and versioned as NVIDIA's RHEL 9 repository
# names them (https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64/, the
# yum-packaging-* spec files), built with rpmbuild and registered with `rpm --justdb`, so every
# header is rpm's own. Needs rpm, rpmbuild and sqlite3 (Debian: apt-get install rpm sqlite3).
# Usage: sh scripts/rpmdb/gen-rpmdb.sh   (from the workspace root)
set -eu
out="$(pwd)/scripts/rpmdb/rocky9-nvidia.sqlite"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1730000000
# name epoch version release arch
cat > "$work/list" <<'LIST'
kmod-nvidia-open-dkms 3 560.35.03 1.el9 x86_64
nvidia-kmod-common 3 560.35.03 1.el9 noarch
nvidia-driver 3 550.127.05 1.el9 x86_64
nvidia-driver-libs 3 550.127.05 1.el9 x86_64
nvidia-driver-cuda 3 550.127.05 1.el9 x86_64
nvidia-driver-cuda-libs 3 550.127.05 1.el9 x86_64
nvidia-fabric-manager - 550.127.05 1 x86_64
libnvidia-nscq-550 - 550.127.05 1 x86_64
nvidia-container-toolkit - 1.13.5 1 x86_64
nvidia-container-toolkit-base - 1.13.5 1 x86_64
dkms - 3.1.0 1.el9 noarch
bash - 5.1.8 9.el9 x86_64
LIST
while read -r name epoch version release arch; do
  {
    echo "Name: $name"
    [ "$epoch" = - ] || echo "Epoch: $epoch"
    echo "Version: $version"
    echo "Release: $release"
    echo "Summary: nvprobe fixture stand-in for $name"
    echo "License: MIT"
    [ "$arch" = noarch ] && echo "BuildArch: noarch"
    printf '%%description\nEmpty stand-in.\n%%files\n'
  } > "$work/$name.spec"
  rpmbuild -bb --quiet --define "_topdir $work/top" --define "_buildhost fixture" \
    --define "use_source_date_epoch_as_buildtime 1" --target "$arch" "$work/$name.spec" >/dev/null
done < "$work/list"
db="$work/db"
mkdir -p "$db"
rpm --define '_db_backend sqlite' --dbpath "$db" --initdb
rpm --define '_db_backend sqlite' --dbpath "$db" --justdb --nodeps --noscripts --ignorearch -i \
  $(find "$work/top/RPMS" -name '*.rpm' | sort)
rpm --define '_db_backend sqlite' --dbpath "$db" -qa --qf '%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE}.%{ARCH}\n' | sort
# 512-byte pages (rpm's own are 4096): a 12-package file of ~50 KB instead of 240 KB, and every
# ~1.4 KB header spills into overflow pages, which the reader must follow.
sqlite3 "$db/rpmdb.sqlite" 'PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;' >/dev/null
cp "$db/rpmdb.sqlite" "$out"
ls -l "$out"
