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
