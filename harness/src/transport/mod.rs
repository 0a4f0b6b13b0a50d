//! Transports: how the harness runs commands on a target.

pub mod ssh;

pub use ssh::{ExecOutput, SshError, SshSession, SshTarget};
