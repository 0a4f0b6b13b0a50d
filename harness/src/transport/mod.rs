//! Transports: how the harness runs commands on a target, over SSH or on
//! this machine, behind one `Conn`.

pub mod keygen;
pub mod local;
pub mod ssh;

use std::time::Duration;

pub use ssh::{ExecOutput, SshError, SshSession, SshTarget};

/// Where commands run: over a live SSH session, or on this machine.
#[derive(Clone, Copy)]
pub enum Conn<'a> {
    Ssh(&'a SshSession),
    Local,
}

impl Conn<'_> {
    pub fn describe(&self) -> String {
        match self {
            Conn::Ssh(s) => s.target().display(),
            Conn::Local => "localhost".into(),
        }
    }

    /// Runs `command` with `stdin`, within `limit`.
    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        limit: Duration,
    ) -> Result<ExecOutput, SshError> {
        match self {
            Conn::Ssh(s) => s.exec_with(command, stdin, limit).await,
            Conn::Local => local::local_exec(command, stdin, limit).await,
        }
    }
}
