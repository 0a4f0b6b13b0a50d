//! Where shipshape keeps images and instances on the runner.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The state directory: `$SHIPSHAPE_HOME`, else `$XDG_CACHE_HOME/shipshape`,
/// else `~/.cache/shipshape`.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    pub fn from_env() -> Self {
        let root = if let Some(h) = std::env::var_os("SHIPSHAPE_HOME") {
            PathBuf::from(h)
        } else if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
            PathBuf::from(x).join("shipshape")
        } else {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            PathBuf::from(home).join(".cache").join("shipshape")
        };
        Self { root }
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }

    pub fn instances(&self) -> PathBuf {
        self.root.join("instances")
    }

    /// Downloaded .debs, shared between image builds of the same suite.
    pub fn deb_cache(&self, suite: &str) -> PathBuf {
        self.root.join("debs").join(suite)
    }
}

/// Creates `dir` and its parents with mode 0700: these folders hold private keys.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Waits for an exclusive `flock` on `path` (created if missing). The lock
/// holds until the returned file is dropped, and dies with the process.
pub async fn lock_exclusive(path: &Path) -> io::Result<std::fs::File> {
    let file = std::fs::File::create(path)?;
    let (rc, file) = tokio::task::spawn_blocking(move || {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor we own; released when it closes.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        (r, file)
    })
    .await
    .map_err(io::Error::other)?;
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}
