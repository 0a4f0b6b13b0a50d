//! What `audit`, `fix` and `test` act on: an SSH host, this machine, or a
//! platform's default VM, resolved once, before anything connects.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::driver::qemu::instance::InstanceRecord;
use crate::driver::HostInfo;
use crate::paths::Home;
use crate::platform::Platform;
use crate::transport::ssh::{self, SshTarget};

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
) -> Result<russh::keys::PublicKey, TargetError> {
    let keys =
        russh::keys::known_hosts::known_host_keys_path(host, port, known_hosts).map_err(|e| {
            TargetError::KnownHosts(format!("cannot read {}: {e}", known_hosts.display()))
        })?;
    keys.into_iter().next().map(|(_, k)| k).ok_or_else(|| {
        TargetError::KnownHosts(format!(
            "no host key for {host}:{port} in {}; add it (ssh-keyscan) or pass --host-key",
            known_hosts.display()
        ))
    })
}

/// How to reach and trust an ssh:// target.
#[derive(Debug, Clone, Default)]
pub struct SshOptions {
    /// Private key (default ~/.ssh/id_ed25519).
    pub identity: Option<PathBuf>,
    /// The host key ("ssh-ed25519 AAAA…"); default: looked up in `known_hosts`.
    pub host_key: Option<String>,
    /// Default ~/.ssh/known_hosts.
    pub known_hosts: Option<PathBuf>,
}

/// What a command acts on, resolved once from `--target`/`--local`.
pub enum Target {
    /// A VM `shipshape vm up` left running, by name.
    Vm(InstanceRecord),
    /// An ssh:// host, its key file checked and its host key pinned.
    Ssh(SshTarget),
    /// A platform: boot a fresh VM of its image.
    Platform(Platform),
    /// This machine.
    Local,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Bad(#[from] BadTarget),
    #[error("say what to {0}: --target ssh://user@host[:port], --target <vm name>, --target debian-12, or --local")]
    Missing(&'static str),
    #[error("key file {} does not exist (pass -i KEY)", .0.display())]
    NoKey(PathBuf),
    #[error("--host-key: {0}")]
    HostKey(String),
    #[error("{0}")]
    KnownHosts(String),
    #[error("VM `{name}`: {reason}")]
    Vm { name: String, reason: String },
}

/// Resolves `--target` (or `--local`): a running VM's name first, then a
/// platform, then an ssh:// URL, whose key file and host key are checked
/// here, before anything connects.
pub fn resolve(
    home: &Home,
    given: Option<&str>,
    local: bool,
    ssh: &SshOptions,
    what: &'static str,
) -> Result<Target, TargetError> {
    if local {
        return Ok(Target::Local);
    }
    let t = given.ok_or(TargetError::Missing(what))?;
    if let Some(rec) = crate::driver::qemu::instance::find(home, t) {
        return Ok(Target::Vm(rec));
    }
    match t.parse::<TargetSpec>()? {
        TargetSpec::Platform(p) => Ok(Target::Platform(p)),
        TargetSpec::Local => Ok(Target::Local),
        TargetSpec::Ssh { user, host, port } => {
            let key_path = ssh.identity.clone().unwrap_or_else(default_key);
            if !key_path.is_file() {
                return Err(TargetError::NoKey(key_path));
            }
            let host_key = match &ssh.host_key {
                Some(k) => {
                    ssh::parse_public_key(k).map_err(|e| TargetError::HostKey(e.to_string()))?
                }
                None => {
                    let kh = ssh.known_hosts.clone().unwrap_or_else(|| {
                        PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                            .join(".ssh/known_hosts")
                    });
                    known_host_key(&kh, &host, port)?
                }
            };
            Ok(Target::Ssh(SshTarget {
                host,
                port,
                user,
                key_path,
                host_key: Some(host_key),
            }))
        }
    }
}

impl Target {
    /// How to reach it over SSH: `None` for this machine and for a platform
    /// (whose VM does not exist yet).
    pub fn ssh_target(&self) -> Result<Option<SshTarget>, TargetError> {
        Ok(match self {
            Target::Vm(rec) => Some(self.attach(rec)?.ssh_target().clone()),
            Target::Ssh(t) => Some(t.clone()),
            Target::Platform(_) | Target::Local => None,
        })
    }

    fn attach(&self, rec: &InstanceRecord) -> Result<crate::driver::QemuVm, TargetError> {
        crate::driver::QemuVm::attach(rec.clone()).map_err(|e| TargetError::Vm {
            name: rec.name.clone(),
            reason: e.to_string(),
        })
    }

    /// What the fixes need to know about its host: the one place it is
    /// worked out for `fix` (the drivers give their own machines').
    pub fn host_info(&self, home: &Home) -> Result<HostInfo, TargetError> {
        let tls = |name: &str| home.root().join("tls").join(name.replace([':', '/'], "_"));
        Ok(match self {
            Target::Vm(rec) => crate::driver::Machine::host(&self.attach(rec)?),
            Target::Ssh(t) => HostInfo {
                data_disk: "/dev/sdb".into(),
                client_tls_dir: tls(&t.host),
                names: vec![t.host.clone()],
                ips: t.host.parse().into_iter().collect(),
                docker_tls: (t.host.clone(), 2376),
            },
            Target::Platform(_) | Target::Local => HostInfo {
                data_disk: "/dev/sdb".into(),
                client_tls_dir: tls("local"),
                names: vec!["localhost".into()],
                ips: vec![std::net::IpAddr::from([127, 0, 0, 1])],
                docker_tls: ("127.0.0.1".into(), 2376),
            },
        })
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
