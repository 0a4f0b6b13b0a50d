//! The target platforms an image can be built for.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Platform {
    /// bookworm, Debian's docker.io 20.10.24.
    #[serde(rename = "debian-12")]
    Debian12,
    /// trixie, docker.io 26.1.5.
    #[serde(rename = "debian-13")]
    Debian13,
    /// bullseye, docker.io 20.10.5, containerd 1.4, runc 1.0-rc93.
    #[serde(rename = "debian-11")]
    Debian11,
    /// forky (Debian testing): docker.io 28.5, containerd 2.1. It moves with
    /// testing: the image records the versions it got (`image list`).
    #[serde(rename = "debian-14")]
    Debian14,
    /// debian-12 without curl: the probe and the health check fall back to
    /// the docker CLI.
    #[serde(rename = "debian-12-nocurl")]
    Debian12NoCurl,
    /// debian-12 with Docker in docker-ce's layout (packages docker-ce,
    /// docker-ce-cli and containerd.io from a local package source,
    /// /usr/bin/dockerd, Docker CE's unit files), made from Debian's
    /// binaries: Docker's own repository cannot be reached here.
    #[serde(rename = "debian-12-ce")]
    Debian12Ce,
}

impl Platform {
    pub const ALL: [Platform; 6] = [
        Platform::Debian12,
        Platform::Debian13,
        Platform::Debian11,
        Platform::Debian14,
        Platform::Debian12NoCurl,
        Platform::Debian12Ce,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Platform::Debian12 => "debian-12",
            Platform::Debian13 => "debian-13",
            Platform::Debian11 => "debian-11",
            Platform::Debian14 => "debian-14",
            Platform::Debian12NoCurl => "debian-12-nocurl",
            Platform::Debian12Ce => "debian-12-ce",
        }
    }

    /// The Debian suite debootstrap installs.
    pub fn suite(self) -> &'static str {
        match self {
            Platform::Debian12 | Platform::Debian12NoCurl | Platform::Debian12Ce => "bookworm",
            Platform::Debian13 => "trixie",
            Platform::Debian11 => "bullseye",
            Platform::Debian14 => "forky",
        }
    }

    /// Packages installed with apt in the new root right after debootstrap,
    /// not by it. forky's kernel depends on `dracut | initramfs-tools`, and
    /// debootstrap takes the first alternative even when the second is
    /// included (the two conflict and the bootstrap fails); apt sees the
    /// installed initramfs-tools, whose hooks keep virtio_scsi out of the
    /// initramfs.
    pub fn late_packages(self) -> &'static [&'static str] {
        match self {
            Platform::Debian14 => &["linux-image-cloud-amd64"],
            _ => &[],
        }
    }

    /// debootstrap's script for the suite, where its own name has none
    /// (debootstrap 1.0.128 knows no forky; testing bootstraps like sid).
    pub fn debootstrap_script(self) -> Option<&'static str> {
        match self {
            Platform::Debian14 => Some("sid"),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown platform `{0}`; known platforms: debian-12, debian-13, debian-11, debian-14, debian-12-nocurl, debian-12-ce")]
pub struct UnknownPlatform(pub String);

impl FromStr for Platform {
    type Err = UnknownPlatform;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPlatform(s.to_string()))
    }
}
