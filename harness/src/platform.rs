//! The target platforms an image can be built for.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Platform {
    #[serde(rename = "debian-12")]
    Debian12,
    #[serde(rename = "debian-13")]
    Debian13,
}

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::Debian12, Platform::Debian13];

    pub fn name(self) -> &'static str {
        match self {
            Platform::Debian12 => "debian-12",
            Platform::Debian13 => "debian-13",
        }
    }

    /// The Debian suite debootstrap installs.
    pub fn suite(self) -> &'static str {
        match self {
            Platform::Debian12 => "bookworm",
            Platform::Debian13 => "trixie",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown platform `{0}`; known platforms: debian-12, debian-13")]
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
