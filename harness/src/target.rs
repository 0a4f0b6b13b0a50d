//! What `audit`, `fix` and `test` act on: an SSH host, this machine, or a
//! platform's default VM; and the connection that runs commands there.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::platform::Platform;
use crate::transport::ssh::{self, ExecOutput, SshError, SshSession, SshTarget};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// `ssh://user@host[:port]`
    Ssh {
        user: String,
        host: String,
        port: u16,
    },
    /// `--local`
    Local,
    /// A platform name: boot that platform's default VM.
    Platform(Platform),
}

#[derive(Debug, thiserror::Error)]
#[error("bad target `{given}`: {why}; expected ssh://user@host[:port], or a platform (debian-12, debian-13)")]
pub struct BadTarget {
    pub given: String,
    pub why: String,
}

impl FromStr for TargetSpec {
    type Err = BadTarget;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| BadTarget {
            given: s.to_string(),
            why: why.to_string(),
        };
        if let Ok(p) = s.parse::<Platform>() {
            return Ok(TargetSpec::Platform(p));
        }
        let rest = s
            .strip_prefix("ssh://")
            .ok_or_else(|| bad("unknown scheme or platform"))?;
        let rest = rest.trim_end_matches('/');
        let (user, hostport) = rest
            .split_once('@')
            .ok_or_else(|| bad("no user (ssh://USER@host)"))?;
        if user.is_empty() || user.contains([':', '/', ' ']) {
            return Err(bad("empty or malformed user"));
        }
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            // [v6]:port
            let (h, after) = h.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("port is not a number 1-65535"))?,
                None if after.is_empty() => 22,
                None => return Err(bad("junk after `]`")),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().map_err(|_| bad("port is not a number 1-65535"))?,
                ),
                None => (hostport.to_string(), 22),
            }
        };
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            return Err(bad("empty or malformed host"));
        }
        if port == 0 {
            return Err(bad("port 0"));
        }
        Ok(TargetSpec::Ssh {
            user: user.to_string(),
            host,
            port,
        })
    }
}

/// Finds the pinned key for `host:port` in an OpenSSH known_hosts file.
pub fn known_host_key(
    known_hosts: &Path,
    host: &str,
    port: u16,
) -> Result<russh::keys::PublicKey, String> {
    let keys = russh::keys::known_hosts::known_host_keys_path(host, port, known_hosts)
        .map_err(|e| format!("cannot read {}: {e}", known_hosts.display()))?;
    keys.into_iter().next().map(|(_, k)| k).ok_or_else(|| {
        format!(
            "no host key for {host}:{port} in {}; add it (ssh-keyscan) or pass --host-key",
            known_hosts.display()
        )
    })
}

/// Connects to an `ssh://` target, checking the key file first.
pub async fn connect_ssh(target: &SshTarget) -> Result<SshSession, SshError> {
    if !target.key_path.exists() {
        return Err(SshError::Key {
            path: target.key_path.clone(),
            reason: "no such file".into(),
        });
    }
    ssh::load_private_key(&target.key_path)?;
    SshSession::connect(target, Duration::from_secs(20)).await
}

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
            Conn::Local => local_exec(command, stdin, limit).await,
        }
    }
}

async fn local_exec(
    command: &str,
    stdin: Option<&[u8]>,
    limit: Duration,
) -> Result<ExecOutput, SshError> {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let started = Instant::now();
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| SshError::Connect {
            target: "localhost".into(),
            source,
        })?;
    let mut input = child.stdin.take().expect("piped");
    let data = stdin.map(<[u8]>::to_vec).unwrap_or_default();
    tokio::spawn(async move {
        let _ = input.write_all(&data).await;
    });
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(ExecOutput {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            status: out.status.code().map(|c| c as u32).unwrap_or(255),
            duration: started.elapsed(),
        }),
        Ok(Err(source)) => Err(SshError::Connect {
            target: "localhost".into(),
            source,
        }),
        Err(_) => Err(SshError::CommandTimeout {
            command: command.to_string(),
            after: limit,
            stdout: String::new(),
            stderr: String::new(),
        }),
    }
}

/// The default key for `ssh://` targets when `-i` is not given.
pub fn default_key() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".ssh").join("id_ed25519")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert_eq!(
            "ssh://root@10.0.0.5:2222".parse::<TargetSpec>().unwrap(),
            TargetSpec::Ssh {
                user: "root".into(),
                host: "10.0.0.5".into(),
                port: 2222
            }
        );
        assert_eq!(
            "ssh://ops@host.example".parse::<TargetSpec>().unwrap(),
            TargetSpec::Ssh {
                user: "ops".into(),
                host: "host.example".into(),
                port: 22
            }
        );
        assert_eq!(
            "ssh://a@[::1]:22".parse::<TargetSpec>().unwrap(),
            TargetSpec::Ssh {
                user: "a".into(),
                host: "::1".into(),
                port: 22
            }
        );
        assert_eq!(
            "debian-13".parse::<TargetSpec>().unwrap(),
            TargetSpec::Platform(Platform::Debian13)
        );
        for bad in [
            "http://x",
            "ssh://host",
            "ssh://u@h:99999",
            "ssh://u@:22",
            "ssh://u@h:x",
            "centos-7",
        ] {
            let e = bad.parse::<TargetSpec>().unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
