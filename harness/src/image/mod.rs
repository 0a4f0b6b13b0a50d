//! Bootable images built from Debian packages, cached by recipe hash.

pub mod mirror;
pub mod recipe;

use std::path::{Path, PathBuf};

use russh::keys::PublicKey;
use serde::{Deserialize, Serialize};

use crate::paths::Home;
use crate::platform::Platform;
use crate::transport::ssh;

pub use recipe::KERNEL_CMDLINE;

/// What the builder records next to a finished image.
/// An image folder that cannot be used as it is.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("image metadata {path} is unreadable: {reason}; remove the folder to rebuild")]
    Corrupt { path: PathBuf, reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageMeta {
    pub platform: Platform,
    pub recipe_hash: String,
    pub mirror: Option<String>,
    pub docker_version: String,
    /// The engine's packages as installed, `name version`: a platform on
    /// Debian testing (debian-14) gets what the suite has on the day of the
    /// build, so the image says what it got.
    #[serde(default)]
    pub packages: Vec<String>,
    pub kernel_version: String,
    pub host_key: String,
    pub build_seconds: f64,
    pub built_unix: u64,
}

/// A built image: a qcow2 root disk, the kernel and initrd to boot it, the
/// SSH host key to pin and the client key to log in with.
#[derive(Debug, Clone)]
pub struct Image {
    pub platform: Platform,
    pub dir: PathBuf,
    pub qcow2: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub client_key: PathBuf,
    pub host_key: PublicKey,
    pub host_key_text: String,
    pub meta: ImageMeta,
}

pub const META: &str = "image.json";

impl Image {
    /// The folder an image with the current recipe lives in.
    pub fn dir_for(home: &Home, platform: Platform) -> PathBuf {
        home.images()
            .join(format!("{}-{}", platform.name(), recipe::hash(platform)))
    }

    /// Loads a finished image from its folder.
    pub fn load(dir: &Path) -> Result<Self, ImageError> {
        let meta_path = dir.join(META);
        let text = std::fs::read(&meta_path).map_err(|e| ImageError::Io {
            context: format!("reading {}", meta_path.display()),
            source: e,
        })?;
        let meta: ImageMeta = serde_json::from_slice(&text).map_err(|e| ImageError::Corrupt {
            path: meta_path.clone(),
            reason: e.to_string(),
        })?;
        let host_key = ssh::parse_public_key(&meta.host_key).map_err(|e| ImageError::Corrupt {
            path: meta_path.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            platform: meta.platform,
            dir: dir.to_path_buf(),
            qcow2: dir.join("root.qcow2"),
            kernel: dir.join("vmlinuz"),
            initrd: dir.join("initrd.img"),
            client_key: dir.join("id_ed25519"),
            host_key_text: meta.host_key.clone(),
            host_key,
            meta,
        })
    }

    /// The cached image for the current recipe, if it was built.
    pub fn cached(home: &Home, platform: Platform) -> Option<Self> {
        Self::load(&Self::dir_for(home, platform)).ok()
    }
}

/// Every finished image under the cache, current or stale.
pub fn list(home: &Home) -> Vec<Image> {
    let Ok(entries) = std::fs::read_dir(home.images()) else {
        return Vec::new();
    };
    let mut out: Vec<Image> = entries
        .flatten()
        .filter_map(|e| Image::load(&e.path()).ok())
        .collect();
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    out
}

/// Where a driver gets the image of a platform: the builder (`bake`), which
/// sits above the drivers because its first boot is a VM, hands itself in.
pub trait Source: Send + Sync {
    fn ensure<'a>(
        &'a self,
        home: &'a Home,
        platform: Platform,
        progress: &'a crate::progress::Progress,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Image, SourceError>> + Send + 'a>>;
}

/// An image that could not be had, with the builder's reason.
#[derive(Debug, thiserror::Error)]
#[error("image build failed: {0}")]
pub struct SourceError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// The images a run's drivers share.
pub type Images = std::sync::Arc<dyn Source>;
