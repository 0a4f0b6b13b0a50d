#!/bin/bash
# user_image.sh OUT.qcow2 — a Debian 12 (bookworm) disk image made the way a
# platform team makes one with ordinary tools, not with shipshape's builder:
# mmdebstrap for the root, a GPT disk with an EFI system partition holding a
# standalone GRUB, cloud-init (NoCloud) for users and keys. It boots under
# UEFI firmware with its own bootloader, so it stands for "an image we did
# not make" when shipshape is pointed at a host.
#
# What the image holds, and what it deliberately does not:
#   - linux-image-cloud-amd64, systemd, udev, openssh-server, docker.io,
#     apparmor, sudo, busybox-static, cloud-init (+ cloud-guest-utils);
#   - ifupdown + isc-dhcp-client, so cloud-init's fallback network config
#     (DHCP on the first NIC) has a renderer to write for;
#   - no users, no keys, no SSH host keys, an empty machine-id: every boot
#     of a copy gets its identity from cloud-init and systemd, not from here.
#
# Root is required (mmdebstrap --mode=root chroots, mkfs -d keeps owners).
# No loop devices are used: each filesystem is made in a plain file and put
# into the disk file at its partition's offset.
#
# Environment (all optional):
#   MIRROR        Debian archive URI; default: the first Debian archive in
#                 the host's apt sources (never a hard-coded host name)
#   SECURITY_MIRROR  debian-security URI; default: from the host's apt
#                 sources; "none" leaves the security suite out
#   MODE          mmdebstrap mode: root (default) or unshare
#   ROOT_MIB      size of the root partition in MiB (default 4096)
#   ESP_MIB       size of the EFI system partition in MiB (default 64)
#   ROOT_LABEL    ext4 label the bootloader and fstab find root by
#                 (default debian-root)
#   CLOUD_INIT    enabled (default), or disabled: installed but switched off
#                 (/etc/cloud/cloud-init.disabled), an image that never takes
#                 a seed, for the gate's error path
# Exit: 0 built, 1 the build failed, 2 bad usage or missing host tools.
set -euo pipefail

usage() { echo "usage: $0 OUT.qcow2   (as root)" >&2; exit 2; }
[ $# -eq 1 ] || usage
out=$1
case $out in *.qcow2) ;; *) usage ;; esac
if [ "$(id -u)" -ne 0 ]; then echo "$0: must run as root" >&2; exit 2; fi

suite=bookworm
mode=${MODE:-root}
root_mib=${ROOT_MIB:-4096}
esp_mib=${ESP_MIB:-64}
label=${ROOT_LABEL:-debian-root}
cloud_init=${CLOUD_INIT:-enabled}
case $cloud_init in enabled | disabled) ;; *) echo "$0: CLOUD_INIT is enabled or disabled" >&2; exit 2 ;; esac
# ext4 labels are at most 16 bytes; GRUB and the initramfs match it exactly.
if [ ${#label} -gt 16 ]; then echo "$0: ROOT_LABEL longer than 16 bytes" >&2; exit 2; fi

# --- 1. Host tools: name what is missing, install nothing. ------------------
# The script runs on build hosts the caller owns; changing their package set
# is the caller's decision, so it only says which Debian packages to add.
missing=()
need() { # command package
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
# sbin is not always on a non-login root's PATH; the tools live there.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
need mmdebstrap mmdebstrap
need sfdisk fdisk
need mkfs.ext4 e2fsprogs
need mkfs.vfat dosfstools
need mcopy mtools
need mmd mtools
need grub-mkstandalone grub-common
need qemu-img qemu-utils
need chroot coreutils
# grub-mkstandalone alone is not enough: the x86_64-efi platform modules come
# from a separate package.
[ -f /usr/lib/grub/x86_64-efi/linux.mod ] || missing+=(grub-efi-amd64-bin)
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  echo "$0: missing host tools; install these Debian packages: $pkgs" >&2
  echo "  apt-get install --no-install-recommends $pkgs" >&2
  exit 2
fi

# --- The package mirror: from the host's apt sources, or MIRROR. -----------
# The build must use the archive this host is configured for (a site mirror,
# a proxy, a snapshot), so it is read from apt's own configuration, one-line
# (.list) and deb822 (.sources) formats alike. Security archives are told
# apart by name, as apt's defaults name them.
apt_source_files() {
  local f
  [ -f /etc/apt/sources.list ] && echo /etc/apt/sources.list
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && echo "$f"
  done
  return 0
}
# host_uri security|archive: the first deb URI of that kind serving a Debian
# suite; empty if none.
host_uri() {
  local want=$1 f
  while read -r f; do
    case $f in
      *.sources)
        # deb822: one stanza per paragraph; Types/URIs/Suites/Enabled fields.
        awk -v RS= -F '\n' -v want="$want" '
          {
            types = uris = suites = ""; enabled = "yes"
            for (i = 1; i <= NF; i++) {
              line = $i
              if (line ~ /^[ \t]*#/) continue
              k = line; sub(/:.*/, "", k); k = tolower(k)
              v = line; sub(/^[^:]*:[ \t]*/, "", v)
              if (k == "types") types = v
              else if (k == "uris") uris = v
              else if (k == "suites") suites = v
              else if (k == "enabled") enabled = tolower(v)
            }
            if (enabled == "no" || (" " types " ") !~ / deb /) next
            if (suites !~ /(^| )(bookworm|trixie|bullseye|sid|stable|testing|unstable|oldstable)(-security|-updates)?( |$)/) next
            n = split(uris, u, /[ \t]+/)
            for (j = 1; j <= n; j++) {
              if (u[j] !~ /^(https?|file):/) continue
              sec = (u[j] ~ /security/)
              if ((want == "security") == sec) { sub(/\/$/, "", u[j]); print u[j]; exit }
            }
          }' "$f"
        ;;
      *)
        # one-line: deb [options] URI suite components...
        awk -v want="$want" '
          { sub(/#.*/, "") }
          $1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
            uri = $i; s = $(i + 1)
            if (uri !~ /^(https?|file):/) next
            if (s !~ /^(bookworm|trixie|bullseye|sid|stable|testing|unstable|oldstable)(-security|-updates)?$/) next
            sec = (uri ~ /security/)
            if ((want == "security") == sec) { sub(/\/$/, "", uri); print uri; exit }
          }' "$f"
        ;;
    esac
  done < <(apt_source_files) | head -n 1
}
mirror=${MIRROR:-$(host_uri archive)}
if [ -z "$mirror" ]; then
  echo "$0: no Debian archive in the host's apt sources; set MIRROR" >&2
  exit 2
fi
security=${SECURITY_MIRROR:-$(host_uri security)}
[ "$security" = none ] && security=
sources=("deb $mirror $suite main" "deb $mirror $suite-updates main")
[ -n "$security" ] && sources+=("deb $security $suite-security main")

# --- Work area, next to the output (same filesystem, room for a raw disk). --
out_dir=$(cd "$(dirname "$out")" && pwd)
work=$(mktemp -d "$out_dir/.user-image.XXXXXX")
# apt downloads as the unprivileged _apt user; mktemp's 0700 would make it
# fall back to downloading as root.
chmod 0755 "$work"
rootdir=$work/root
cleanup() {
  # mmdebstrap unmounts what it mounted; if anything is still mounted under
  # the work area (a killed build), deleting through it would reach the
  # host's /dev or /proc, so leave it for a human instead.
  if findmnt -rn -o TARGET | grep -q "^$work/"; then
    echo "$0: something is still mounted under $work; not removing it" >&2
    return
  fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

t0=$(date +%s)
step() { echo "[$(( $(date +%s) - t0 ))s] $*"; }

# --- 2. The root filesystem. ------------------------------------------------
# ESP volume id chosen now: fstab, written inside the root, names it.
esp_id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
esp_uuid=$(printf '%s-%s' "${esp_id:0:4}" "${esp_id:4:4}" | tr a-f A-F)

# The customize hook runs on the host after every package is installed, with
# the root as $1. It turns the chroot into an image that takes its identity
# at first boot.
hook=$work/customize.sh
cat > "$hook" <<HOOK
set -eu
r=\$1
# Root by label (the bootloader finds it the same way), ESP by its volume id.
# nofail: a missing or damaged ESP must not stop the boot, nothing at runtime
# needs it (the kernel is read from the root filesystem).
mkdir -p "\$r/boot/efi"
cat > "\$r/etc/fstab" <<FSTAB
LABEL=$label  /          ext4  errors=remount-ro               0 1
UUID=$esp_uuid  /boot/efi  vfat  umask=0077,nofail,x-systemd.device-timeout=30s  0 2
FSTAB
# cloud-init: only NoCloud (a cidata-labelled disk) and None. Debian's own
# list lets cloud-init try the metadata services of many clouds, and on a
# machine with none of them it can wait a long time for answers that never
# come.
cat > "\$r/etc/cloud/cloud.cfg.d/90_user_image_datasource.cfg" <<CFG
datasource_list: [ NoCloud, None ]
CFG
[ "$cloud_init" = enabled ] || : > "\$r/etc/cloud/cloud-init.disabled"
# C.UTF-8 is built into glibc. Any other locale makes cloud-init's locale
# module run Debian's locale-gen, which ignores the locale it is given and
# generates only what /etc/locale.gen lists (nothing), so update-locale then
# fails and cloud-init ends in status "error".
echo LANG=C.UTF-8 > "\$r/etc/default/locale"
# /etc/hosts gets the hostname from meta-data: without it sudo complains on
# every call that it cannot resolve the host's own name.
cat > "\$r/etc/cloud/cloud.cfg.d/91_user_image_system.cfg" <<CFG
locale: C.UTF-8
manage_etc_hosts: true
CFG
# ifupdown reads what cloud-init renders (50-cloud-init in interfaces.d);
# write the file so that the source line is certainly there.
mkdir -p "\$r/etc/network/interfaces.d"
cat > "\$r/etc/network/interfaces" <<NET
# Interfaces other than lo are written by cloud-init into interfaces.d.
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback
NET
# No host keys: openssh-server's postinst made some in the chroot, and every
# copy of this image would share them. cloud-init makes or receives them.
rm -f "\$r"/etc/ssh/ssh_host_*
# The build host's name and resolver must not leak into the image: the
# hostname comes from cloud-init's meta-data, the resolver from DHCP.
echo localhost > "\$r/etc/hostname"
rm -f "\$r/etc/resolv.conf" && : > "\$r/etc/resolv.conf"
# An empty machine-id makes systemd create one per machine at first boot.
: > "\$r/etc/machine-id"
rm -f "\$r/var/lib/dbus/machine-id"
# Docker starts at boot (docker.io enables it; say so in case a policy
# changed that). The enable is only a symlink: nothing runs in the chroot.
chroot "\$r" systemctl enable docker.service ssh.service >/dev/null 2>&1
HOOK

step "mmdebstrap $suite ($mode) from $mirror"
# --variant=important: Essential, required and important priorities, what
# debootstrap installs by default; it brings systemd-sysv, udev, ifupdown,
# isc-dhcp-client, kmod, iproute2, fdisk. Recommends are not installed;
# what is needed is named: dbus (a systemd Recommends) because without it
# systemctl, hostnamectl and poweroff cannot reach systemd over the bus.
# Services: mmdebstrap installs a policy-rc.d that answers 101 and a dummy
# start-stop-daemon for the whole install, so no maintainer script can start
# sshd, dockerd or containerd in the chroot; systemctl itself refuses to
# start units when it sees a chroot. The check after the build proves it.
includes=linux-image-cloud-amd64,systemd-sysv,udev,dbus,cloud-init,cloud-guest-utils,openssh-server,docker.io,apparmor,busybox-static,sudo,ifupdown,isc-dhcp-client
mmdebstrap --mode="$mode" --variant=important --format=directory \
  --include="$includes" \
  --customize-hook="sh $hook \"\$1\"" \
  "$suite" "$rootdir" "${sources[@]}"

# Nothing may still be running from the chroot (a daemon started despite the
# policy would keep files open and write into the image being packed).
for p in /proc/[0-9]*; do
  case $(readlink "$p/root" 2>/dev/null || true) in
    "$rootdir"|"$rootdir"/*)
      echo "$0: process ${p#/proc/} ($(cat "$p/comm" 2>/dev/null)) runs inside the chroot" >&2
      exit 1 ;;
  esac
done
# The bootloader boots /vmlinuz and /initrd.img: the kernel package keeps
# these links pointing at the newest kernel, so updates inside the running
# image need no bootloader change.
for f in vmlinuz initrd.img; do
  if [ ! -e "$rootdir/$f" ]; then echo "$0: no /$f in the root" >&2; exit 1; fi
done
[ ! -e "$rootdir/usr/sbin/policy-rc.d" ] || { echo "$0: policy-rc.d left in the image" >&2; exit 1; }
if ls "$rootdir"/etc/ssh/ssh_host_* >/dev/null 2>&1; then
  echo "$0: SSH host keys left in the image" >&2; exit 1
fi

# --- 3. The filesystems, each in a file. ------------------------------------
used_mib=$(( $(du -s --block-size=1M -x "$rootdir" | cut -f1) ))
# ext4 metadata and journal take a few percent; Docker needs room to work.
if [ $(( used_mib * 13 / 10 + 512 )) -gt "$root_mib" ]; then
  echo "$0: root holds ${used_mib} MiB; ROOT_MIB=$root_mib is too small" >&2
  exit 1
fi
step "root filesystem: ${used_mib} MiB of files into ${root_mib} MiB ext4 '$label'"
# mkfs.ext4 -d copies the tree (owners, modes, xattrs such as file
# capabilities, hard links, device nodes) straight into the new filesystem,
# no mount and so no loop device. metadata_csum_seed stays off: GRUB 2.06
# refuses ext4 with that incompatible feature.
truncate -s "${root_mib}M" "$work/root.img"
mkfs.ext4 -q -F -L "$label" -O ^metadata_csum_seed -E lazy_itable_init=0 \
  -d "$rootdir" "$work/root.img"

step "EFI system partition: standalone GRUB, ${esp_mib} MiB FAT32"
# The GRUB config is embedded in the EFI binary (a memdisk), so the ESP holds
# one file and nothing on it needs regenerating when the kernel changes: it
# finds the root by label and boots the kernel links there. console=ttyS0
# (last, so it is /dev/console) puts the boot log and a getty on the serial
# line, where a VM's console is read.
cat > "$work/grub.cfg" <<CFG
insmod part_gpt
insmod ext2
set timeout=1
set default=0
search --no-floppy --label --set=root $label
menuentry "Debian GNU/Linux ($label)" {
  linux /vmlinuz root=LABEL=$label ro console=tty0 console=ttyS0,115200n8
  initrd /initrd.img
}
CFG
grub-mkstandalone -O x86_64-efi -o "$work/BOOTX64.EFI" \
  --modules="part_gpt ext2 search search_label linux normal" \
  --locales= --fonts= --themes= \
  "boot/grub/grub.cfg=$work/grub.cfg"
truncate -s "${esp_mib}M" "$work/esp.img"
# FAT32 with one sector per cluster keeps a small ESP above FAT32's cluster
# minimum; the volume id is the one fstab names.
mkfs.vfat -F 32 -s 1 -n ESP -i "$esp_id" "$work/esp.img" >/dev/null
# mtools write into the image file directly (no mount). EFI/BOOT/BOOTX64.EFI
# is the removable-media path firmware boots with no boot entries set, as in
# a fresh VM or a new machine.
export MTOOLS_SKIP_CHECK=1
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

# --- The disk: GPT written by sfdisk into a file, filesystems dd'd in. -----
# 1 MiB before the first partition (GPT header and alignment) and 1 MiB after
# the last (the backup GPT).
raw=$work/disk.raw
truncate -s "$(( 1 + esp_mib + root_mib + 1 ))M" "$raw"
esp_start=2048
root_start=$(( esp_start + esp_mib * 2048 ))
step "GPT: ESP at sector $esp_start, root at sector $root_start"
# The root carries the discoverable-partitions x86-64 root type, so tools
# that look for it by type find it too.
sfdisk --quiet --no-reread --no-tell-kernel "$raw" <<PT
label: gpt
unit: sectors
start=$esp_start, size=$(( esp_mib * 2048 )), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition"
start=$root_start, size=$(( root_mib * 2048 )), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root"
PT
# Read the table back: the filesystems go exactly where sfdisk put the
# partitions, not where this script believes it asked for them.
mapfile -t starts < <(sfdisk -d "$raw" | sed -n 's/.*start= *\([0-9]*\),.*/\1/p')
got_esp=${starts[0]:-} got_root=${starts[1]:-}
if [ "$got_esp" != "$esp_start" ] || [ "$got_root" != "$root_start" ]; then
  echo "$0: partition table has starts $got_esp $got_root, expected $esp_start $root_start" >&2
  exit 1
fi
# conv=notrunc keeps the backup GPT, conv=sparse keeps zero blocks unwritten.
dd if="$work/esp.img" of="$raw" bs=1M seek=$(( esp_start / 2048 )) conv=notrunc,sparse status=none
dd if="$work/root.img" of="$raw" bs=1M seek=$(( root_start / 2048 )) conv=notrunc,sparse status=none
rm -f "$work/esp.img" "$work/root.img"

step "qcow2: $out"
# Written beside the output and renamed: a failed or interrupted build never
# leaves a half-written image under the final name.
qemu-img convert -f raw -O qcow2 "$raw" "$work/out.qcow2"
rm -f "$raw"
mv -f "$work/out.qcow2" "$out"
step "done: $(du -h "$out" | cut -f1) on disk, sha256 $(sha256sum "$out" | cut -d' ' -f1)"
