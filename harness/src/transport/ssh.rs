//! The SSH transport, on russh: exec with per-command timeouts that also end
//! the command on the target, upload, a pinned host key, and reconnects with
//! backoff.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::ChannelMsg;

use crate::shell;

/// Where to connect and whom to trust.
#[derive(Debug, Clone)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub key_path: PathBuf,
    /// The only host key accepted. `None` trusts on first use, which only the
    /// `--target ssh://` path offers when the user asks for it.
    pub host_key: Option<PublicKey>,
}

impl SshTarget {
    pub fn display(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("cannot connect to {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connecting to {target} timed out after {after:?}")]
    ConnectTimeout { target: String, after: Duration },
    #[error(
        "host key mismatch for {target}: expected {expected}, the server offered {offered}; \
         refusing to connect (the VM was rebuilt, or something is in the middle)"
    )]
    HostKeyMismatch {
        target: String,
        expected: String,
        offered: String,
    },
    #[error("cannot read SSH key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("{target} refused public-key authentication for user {user}")]
    AuthRejected { target: String, user: String },
    #[error("command timed out after {after:?} and was ended on the target: {command}")]
    CommandTimeout {
        command: String,
        after: Duration,
        stdout: String,
        stderr: String,
    },
    #[error("SSH connection to {target} lost: {source}")]
    Protocol {
        target: String,
        #[source]
        source: russh::Error,
    },
    #[error("the channel closed without an exit status (connection dropped?): {command}")]
    NoExitStatus { command: String },
}

impl SshError {
    /// Errors worth retrying while a machine boots or reboots.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SshError::Connect { .. }
                | SshError::ConnectTimeout { .. }
                | SshError::Protocol { .. }
                | SshError::NoExitStatus { .. }
        )
    }
}

/// What a command printed and how it ended.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub status: u32,
    pub duration: Duration,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

struct Pinning {
    expected: Option<PublicKey>,
    offered: Arc<Mutex<Option<PublicKey>>>,
}

impl client::Handler for Pinning {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = server_public_key else {
            return Ok(false);
        };
        *self.offered.lock().expect("offered key") = Some(key.clone());
        Ok(match &self.expected {
            Some(expected) => expected.key_data() == key.key_data(),
            None => true,
        })
    }
}

/// One authenticated SSH connection.
pub struct SshSession {
    handle: client::Handle<Pinning>,
    target: SshTarget,
    /// Default time limit for `exec`.
    pub default_timeout: Duration,
    /// Every command runs under `sudo -n`: the login user is not root
    /// (an image's cloud-init user).
    pub sudo: bool,
}

/// Grace between the command's own limit and the client giving up on the
/// channel: `timeout -k` needs this long to SIGKILL a command that ignores TERM.
const KILL_GRACE: Duration = Duration::from_secs(3);

pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

pub fn load_private_key(path: &Path) -> Result<PrivateKey, SshError> {
    russh::keys::load_secret_key(path, None).map_err(|e| SshError::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// A public key that is not an OpenSSH one.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadKey(pub String);

pub fn parse_public_key(text: &str) -> Result<PublicKey, BadKey> {
    PublicKey::from_openssh(text.trim()).map_err(|e| BadKey(e.to_string()))
}

impl SshSession {
    /// Connects once, within `timeout`.
    pub async fn connect(target: &SshTarget, timeout: Duration) -> Result<Self, SshError> {
        let key = load_private_key(&target.key_path)?;
        match tokio::time::timeout(timeout, Self::connect_inner(target, key)).await {
            Ok(r) => r,
            Err(_) => Err(SshError::ConnectTimeout {
                target: target.display(),
                after: timeout,
            }),
        }
    }

    async fn connect_inner(target: &SshTarget, key: PrivateKey) -> Result<Self, SshError> {
        let config = Arc::new(client::Config {
            inactivity_timeout: None,
            // A guest under TCG can stop answering for well over 30 s: a CI
            // run lost its connection right after a reboot while the guest's
            // kernel printed a stall trace at 83 s of its boot (two 2-vCPU
            // VMs on 2 cores). 5 s x 24 tolerates 2 min; a machine that goes
            // down closes the TCP connection at once anyway, and every
            // command has its own timeout.
            keepalive_interval: Some(Duration::from_secs(5)),
            keepalive_max: 24,
            ..Default::default()
        });
        let offered = Arc::new(Mutex::new(None));
        let handler = Pinning {
            expected: target.host_key.clone(),
            offered: offered.clone(),
        };
        let stream = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|source| SshError::Connect {
                target: target.display(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let mut handle = match client::connect_stream(config, stream, handler).await {
            Ok(h) => h,
            Err(e) => {
                let offered = offered.lock().expect("offered key").clone();
                if let (Some(expected), Some(offered)) = (&target.host_key, offered) {
                    if expected.key_data() != offered.key_data() {
                        return Err(SshError::HostKeyMismatch {
                            target: target.display(),
                            expected: fingerprint(expected),
                            offered: fingerprint(&offered),
                        });
                    }
                }
                return Err(SshError::Protocol {
                    target: target.display(),
                    source: e,
                });
            }
        };
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .map_err(|source| SshError::Protocol {
                target: target.display(),
                source,
            })?
            .flatten();
        let auth = handle
            .authenticate_publickey(
                target.user.clone(),
                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
            )
            .await
            .map_err(|source| SshError::Protocol {
                target: target.display(),
                source,
            })?;
        if !auth.success() {
            return Err(SshError::AuthRejected {
                target: target.display(),
                user: target.user.clone(),
            });
        }
        Ok(Self {
            handle,
            target: target.clone(),
            default_timeout: Duration::from_secs(120),
            sudo: false,
        })
    }

    /// Connects, retrying transient failures with exponential backoff
    /// (0.2 s doubling to 2 s) until `deadline`. A wrong host key or a refused
    /// key is not retried.
    /// The session in `slot`, connecting (with backoff, for up to 30 s) if
    /// there is none: how a driver keeps one connection per machine.
    pub async fn reuse_or_connect<'a>(
        slot: &'a mut Option<SshSession>,
        target: &SshTarget,
    ) -> Result<&'a SshSession, SshError> {
        if slot.is_none() {
            let s = Self::connect_with_backoff(
                target,
                Instant::now() + std::time::Duration::from_secs(30),
            )
            .await?;
            *slot = Some(s);
        }
        Ok(slot.as_ref().expect("just connected"))
    }

    pub async fn connect_with_backoff(
        target: &SshTarget,
        deadline: Instant,
    ) -> Result<Self, SshError> {
        let mut delay = Duration::from_millis(200);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = left
                .min(Duration::from_secs(10))
                .max(Duration::from_millis(100));
            match Self::connect(target, attempt).await {
                Ok(s) => return Ok(s),
                Err(e) if e.is_transient() && Instant::now() + delay < deadline => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// Runs `command` under `sh -c` with the default time limit.
    pub async fn exec(&self, command: &str) -> Result<ExecOutput, SshError> {
        self.exec_with(command, None, self.default_timeout).await
    }

    /// Runs `command` with a time limit that is enforced on the target too:
    /// the command runs under `timeout -k`, so a stuck command is ended there,
    /// not just abandoned by closing the channel.
    pub async fn exec_timeout(
        &self,
        command: &str,
        limit: Duration,
    ) -> Result<ExecOutput, SshError> {
        self.exec_with(command, None, limit).await
    }

    /// Runs `command` with `stdin` fed to it.
    pub async fn exec_with(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        limit: Duration,
    ) -> Result<ExecOutput, SshError> {
        let secs = limit.as_secs_f64().max(0.1);
        let wrapped = format!(
            "exec {}timeout -k {} {:.1} {}",
            if self.sudo { "sudo -n " } else { "" },
            KILL_GRACE.as_secs(),
            secs,
            timeout_argv(command)
        );
        let started = Instant::now();
        let run = self.raw_exec(&wrapped, stdin);
        let (stdout, stderr, status) = match tokio::time::timeout(limit + KILL_GRACE * 2, run).await
        {
            Ok(r) => r?,
            Err(_) => {
                return Err(SshError::CommandTimeout {
                    command: command.to_string(),
                    after: limit,
                    stdout: String::new(),
                    stderr: String::new(),
                })
            }
        };
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        let status = status.ok_or_else(|| SshError::NoExitStatus {
            command: command.to_string(),
        })?;
        // `timeout` exits 124 when it sent TERM and 137 when it had to KILL.
        if (status == 124 || status == 137) && started.elapsed() >= limit {
            return Err(SshError::CommandTimeout {
                command: command.to_string(),
                after: limit,
                stdout,
                stderr,
            });
        }
        Ok(ExecOutput {
            stdout,
            stderr,
            status,
            duration: started.elapsed(),
        })
    }

    async fn raw_exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<(Vec<u8>, Vec<u8>, Option<u32>), SshError> {
        let proto = |source| SshError::Protocol {
            target: self.target.display(),
            source,
        };
        let mut channel = self.handle.channel_open_session().await.map_err(proto)?;
        channel.exec(true, command).await.map_err(proto)?;
        if let Some(data) = stdin {
            channel.data(data).await.map_err(proto)?;
        }
        channel.eof().await.map_err(proto)?;
        let (mut out, mut err, mut status) = (Vec::new(), Vec::new(), None);
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => out.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => err.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::ExitSignal { .. } => status = status.or(Some(255)),
                _ => {}
            }
        }
        Ok((out, err, status))
    }

    /// Writes `data` to `path` on the target, atomically (temp file + rename),
    /// with `mode`.
    pub async fn upload(&self, data: &[u8], path: &str, mode: u32) -> Result<(), SshError> {
        let tmp = format!("{path}.shipshape-upload");
        let cmd = format!(
            "cat > {t} && chmod {mode:o} {t} && mv -f {t} {p}",
            t = shell::quote(&tmp),
            p = shell::quote(path),
        );
        let out = self
            .exec_with(&cmd, Some(data), self.default_timeout)
            .await?;
        if !out.success() {
            return Err(SshError::Protocol {
                target: self.target.display(),
                source: russh::Error::IO(std::io::Error::other(format!(
                    "upload to {path} failed: {}",
                    out.stderr.trim()
                ))),
            });
        }
        Ok(())
    }

    /// Reads a file from the target.
    pub async fn download(&self, path: &str) -> Result<Vec<u8>, SshError> {
        let (out, err, status) = self
            .raw_exec(&format!("cat {}", shell::quote(path)), None)
            .await?;
        if status != Some(0) {
            return Err(SshError::Protocol {
                target: self.target.display(),
                source: russh::Error::IO(std::io::Error::other(format!(
                    "download of {path} failed: {}",
                    String::from_utf8_lossy(&err).trim()
                ))),
            });
        }
        Ok(out)
    }

    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// What `timeout` runs for `command`: the words themselves when they name a
/// program with plain arguments (the audit's `sh -s`), else `sh -c COMMAND`.
/// Under emulation the extra shell is 30-60 ms of the audit's time.
fn timeout_argv(command: &str) -> String {
    // Builtins and keywords have no program `timeout` could run.
    const SHELL_ONLY: &[&str] = &[
        ".", ":", "alias", "bg", "break", "case", "cd", "command", "continue", "declare", "eval",
        "exec", "exit", "export", "fg", "for", "getopts", "hash", "if", "jobs", "let", "local",
        "read", "readonly", "return", "set", "shift", "source", "times", "trap", "type", "ulimit",
        "umask", "unalias", "unset", "until", "wait", "while",
    ];
    let words: Vec<&str> = command.split(' ').collect();
    let plain = words.iter().all(|w| !w.is_empty() && shell::quote(w) == *w)
        && !words[0].contains('=')
        && !SHELL_ONLY.contains(&words[0]);
    if plain {
        command.to_string()
    } else {
        format!("sh -c {}", shell::quote(command))
    }
}

/// Connects to an `ssh://` target, checking the key file first.
pub async fn connect_checked(target: &SshTarget) -> Result<SshSession, SshError> {
    if !target.key_path.exists() {
        return Err(SshError::Key {
            path: target.key_path.clone(),
            reason: "no such file".into(),
        });
    }
    load_private_key(&target.key_path)?;
    SshSession::connect(target, Duration::from_secs(20)).await
}

#[cfg(test)]
mod tests {
    use super::timeout_argv;

    #[test]
    fn plain_programs_run_without_a_shell() {
        assert_eq!(timeout_argv("sh -s"), "sh -s");
        assert_eq!(timeout_argv("cat /etc/os-release"), "cat /etc/os-release");
        assert_eq!(timeout_argv("exit 3"), "sh -c 'exit 3'");
        assert_eq!(timeout_argv("A=1 env"), "sh -c 'A=1 env'");
        assert_eq!(timeout_argv("echo a; echo b"), "sh -c 'echo a; echo b'");
        assert_eq!(timeout_argv("echo  two"), "sh -c 'echo  two'");
        assert_eq!(timeout_argv(""), "sh -c ''");
    }
}
