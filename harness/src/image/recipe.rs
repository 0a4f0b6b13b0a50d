//! What goes into an image. The recipe is hashed; the image cache is keyed
//! by that hash, so an image is rebuilt exactly when its recipe changes.

use sha2::{Digest, Sha256};

use crate::platform::Platform;

/// Bump when the build steps in `build.rs` change in a way the recipe text
/// does not show.
const BUILDER_VERSION: u32 = 2;

pub const PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "udev",
    "dbus",
    "openssh-server",
    "docker.io",
    "containerd",
    "runc",
    "iptables",
    // The cloud kernel enables AppArmor: without the parser `docker run` fails.
    "apparmor",
    "linux-image-cloud-amd64",
    "initramfs-tools",
    "kmod",
    "e2fsprogs",
    "iproute2",
    "procps",
    "auditd",
    "busybox-static",
    "ca-certificates",
    "openssl",
    // The probe talks to the Docker API over the unix socket: under TCG one
    // docker CLI call costs ~0.8 s, a curl call a tenth of that.
    "curl",
];

/// Packages for `platform`: the common list plus what its suite splits out.
pub fn packages(platform: Platform) -> Vec<&'static str> {
    let mut p = PACKAGES.to_vec();
    if matches!(platform, Platform::Debian13 | Platform::Debian14) {
        // From trixie on, the docker CLI is its own package.
        p.push("docker-cli");
    }
    let late = platform.late_packages();
    p.retain(|x| !late.contains(x));
    if platform == Platform::Debian12NoCurl {
        p.retain(|p| *p != "curl");
    }
    p
}

/// Files written into the root filesystem before it becomes a disk.
pub fn files() -> Vec<(&'static str, &'static str, u32)> {
    vec![
        ("/etc/hostname", "shipshape\n", 0o644),
        ("/etc/hosts", "127.0.0.1 localhost\n127.0.1.1 shipshape\n::1 localhost ip6-localhost ip6-loopback\n", 0o644),
        ("/etc/fstab", "LABEL=shipshape-root / ext4 defaults,errors=remount-ro 0 1\n", 0o644),
        ("/etc/systemd/network/10-qemu.network", "[Match]\nName=e*\n\n[Network]\nDHCP=yes\n", 0o644),
        // QEMU's user network answers DNS here.
        ("/etc/resolv.conf", "nameserver 10.0.2.3\n", 0o644),
        (
            "/etc/ssh/sshd_config.d/10-shipshape.conf",
            "HostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n",
            0o644,
        ),
        // The root disk sits on pvscsi, whose driver is in the initramfs; the
        // data disk on virtio-scsi, whose driver is kept out of it. The kernel
        // names SCSI disks in the order their (asynchronous) probes run, so two
        // disks on one controller can swap names; this way the data disk only
        // appears after the root disk is mounted as sda, and is always sdb.
        ("/etc/initramfs-tools/modules", "vmw_pvscsi\nsd_mod\n", 0o644),
        (
            "/etc/initramfs-tools/hooks/zz-shipshape-late-data-disk",
            "#!/bin/sh\ncase \"$1\" in prereqs) echo; exit 0;; esac\nfind \"${DESTDIR}\" -name 'virtio_scsi.ko*' -delete\n",
            0o755,
        ),
        ("/etc/systemd/journald.conf.d/10-shipshape.conf", "[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n", 0o644),
    ]
}

/// A platform's own step in the chroot, before [`CHROOT_SCRIPT`].
pub fn platform_script(platform: Platform) -> Option<&'static str> {
    match platform {
        Platform::Debian12Ce => Some(include_str!("docker_ce.sh")),
        _ => None,
    }
}

/// Commands run in the chroot after the files are written.
pub const CHROOT_SCRIPT: &str = r#"set -e
systemctl enable systemd-networkd ssh docker auditd >/dev/null 2>&1
systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1
# Fast, quiet boots: no timers that wake apt or scrub disks mid-test.
for t in apt-daily apt-daily-upgrade e2scrub_all fstrim; do ln -sf /dev/null /etc/systemd/system/$t.timer; done
rm -f /etc/ssh/ssh_host_rsa_key* /etc/ssh/ssh_host_ecdsa_key* /etc/ssh/ssh_host_dsa_key*
passwd -l root >/dev/null
: > /etc/machine-id
update-initramfs -u -k all >/dev/null 2>&1
if lsinitramfs /boot/initrd.img-* | grep -q virtio_scsi; then echo "virtio_scsi is still in the initramfs" >&2; exit 1; fi
apt-get clean
"#;

/// Run over SSH on the first boot: brings in a local container image so that
/// containers start without a registry, and keeps its tarball for re-imports
/// (userns-remap gives dockerd a new, empty root).
pub const PROVISION_SCRIPT: &str = r#"set -eu
bb=$(command -v busybox)
root=$(mktemp -d)
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/root"
cp "$bb" "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
mkdir -p /opt/shipshape
tar -C "$root" --numeric-owner -cf /opt/shipshape/busybox.tar .
rm -rf "$root"
docker import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' /opt/shipshape/busybox.tar busybox:latest >/dev/null
docker run --rm busybox:latest true
docker version --format '{{.Server.Version}}'
# apt-cache builds its package cache on first use (~10 s under TCG); build it
# now, or every reset snapshot would pay for it again in the audit.
apt-cache gencaches >/dev/null
fstrim -a >/dev/null 2>&1 || true
sync
"#;

/// The data disk is `/dev/sdb` because its controller's driver loads only
/// after the root disk is mounted (see the initramfs hook in `files`).
pub const KERNEL_CMDLINE: &str = "root=LABEL=shipshape-root rw console=ttyS0,115200 net.ifnames=0 \
     systemd.show_status=false scsi_mod.scan=sync";

/// The recipe hash for `platform` (12 hex digits).
pub fn hash(platform: Platform) -> String {
    let mut h = Sha256::new();
    h.update(format!("builder {BUILDER_VERSION}\n"));
    h.update(format!("suite {}\n", platform.suite()));
    if let Some(script) = platform.debootstrap_script() {
        h.update(format!("script {script}\n"));
    }
    for x in platform.late_packages() {
        h.update(format!("late {x}\n"));
    }
    for p in packages(platform) {
        h.update(format!("pkg {p}\n"));
    }
    for (path, content, mode) in files() {
        h.update(format!(
            "file {path} {mode:o} {}\n{content}\n",
            content.len()
        ));
    }
    if let Some(s) = platform_script(platform) {
        h.update(s);
    }
    h.update(CHROOT_SCRIPT);
    h.update(PROVISION_SCRIPT);
    h.update(KERNEL_CMDLINE);
    hex::encode(&h.finalize()[..6])
}
