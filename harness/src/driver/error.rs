//! What a driver's failure is, whichever driver: every one of them reports
//! with the console's or the tool log's tail, so the error alone explains it.

use std::path::Path;
use std::time::Duration;

use crate::driver::qemu::qmp::QmpError;
use crate::transport::ssh::SshError;

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{tool}` failed: {detail}")]
    Tool { tool: String, detail: String },
    #[error("QEMU exited during {during} ({status}); console tail:\n{console}")]
    QemuExited {
        during: String,
        status: String,
        console: String,
    },
    #[error("{what} did not finish within {after:?}; console tail:\n{console}")]
    Timeout {
        what: String,
        after: Duration,
        console: String,
    },
    #[error(transparent)]
    Ssh(#[from] Box<SshError>),
    #[error("{what}: {source}; console tail:\n{console}")]
    SshDuring {
        what: String,
        #[source]
        source: Box<SshError>,
        console: String,
    },
    #[error(transparent)]
    Qmp(#[from] QmpError),
    #[error("instance `{0}` already exists; `shipshape vm down {0}` first")]
    Exists(String),
    #[error(transparent)]
    Image(#[from] crate::image::SourceError),
    #[error("the driver was not prepared before its first machine")]
    NotPrepared,
    #[error("no snapshot taken yet: boot with a snapshot before reset")]
    NoSnapshot,
}

pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DriverError {
    let context = context.into();
    move |source| DriverError::Io { context, source }
}

/// The last `lines` lines of a console log.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..]
        .iter()
        .map(|l| l.trim_end_matches('\r'))
        .collect::<Vec<_>>()
        .join("\n")
}

impl From<SshError> for DriverError {
    fn from(e: SshError) -> Self {
        DriverError::Ssh(Box::new(e))
    }
}
