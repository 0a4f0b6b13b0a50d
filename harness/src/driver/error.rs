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
    #[error("{file}: {reason}; {hint}; console tail:\n{console}")]
    BootStuck {
        file: String,
        reason: String,
        hint: String,
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

/// Runs a host tool to completion: a tool that cannot start names how to
/// install it, one that fails gives its stderr.
pub fn run_tool(
    cmd: &mut std::process::Command,
    what: &str,
    install: &str,
) -> Result<(), DriverError> {
    let out = cmd
        .output()
        .map_err(io(format!("running {what} ({install})")))?;
    if !out.status.success() {
        return Err(DriverError::Tool {
            tool: what.into(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// The last `lines` lines of a console log, as text: firmware (OVMF's
/// screen, GRUB's menu) writes terminal control sequences there, which
/// would garble an error message.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = plain_text(&String::from_utf8_lossy(&text));
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

/// `text` without ANSI escape sequences (CSI `ESC [ … final`, and two-byte
/// `ESC x`) and without carriage returns.
pub fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.next() == Some('[') {
                    // Parameters and intermediates, up to a final byte @..~.
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

impl From<SshError> for DriverError {
    fn from(e: SshError) -> Self {
        DriverError::Ssh(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn console_text_loses_terminal_control_sequences() {
        let raw = "\u{1b}[2J\u{1b}[01;01H\u{1b}[=3hBdsDxe: failed\r\n\u{1b}[1m\u{1b}[33m\u{1b}[40mShell> \u{1b}[0m\n";
        assert_eq!(super::plain_text(raw), "BdsDxe: failed\nShell> \n");
    }

    #[test]
    fn the_tail_is_the_last_lines_that_say_something() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("console.log");
        std::fs::write(&p, "a\r\nb\n\n\u{1b}[2J\nc\nd\n").unwrap();
        assert_eq!(super::tail(&p, 2), "c\nd");
        assert_eq!(super::tail(&p, 9), "a\nb\nc\nd");
    }
}
