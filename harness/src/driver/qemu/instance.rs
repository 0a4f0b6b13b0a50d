//! The on-disk record of a running VM instance, so that `vm ssh`/`vm down`
//! can find it from another process and the next run can reap what a killed
//! run left behind.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cleanup::{self, Owner};
use crate::driver::qemu::accel::Accel;
use crate::paths::Home;
use crate::platform::Platform;

pub const RECORD: &str = "instance.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceRecord {
    pub name: String,
    pub platform: Platform,
    pub dir: PathBuf,
    pub image_dir: PathBuf,
    pub ssh_port: u16,
    /// Host port forwarded to the guest's 2376 (dockerd's TLS listener).
    #[serde(default)]
    pub docker_tls_port: u16,
    pub qemu_pid: i32,
    /// The process that owns an ephemeral instance; `None` once `vm up` has
    /// handed the VM over to the user.
    pub owner: Option<Owner>,
    pub accel: Accel,
    pub created_unix: u64,
    pub host_key: String,
    pub client_key: PathBuf,
    pub snapshot: Option<String>,
}

impl InstanceRecord {
    pub fn save(&self) -> std::io::Result<()> {
        let tmp = self.dir.join(format!("{RECORD}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(tmp, self.dir.join(RECORD))
    }

    pub fn load(dir: &Path) -> std::io::Result<Self> {
        let text = std::fs::read(dir.join(RECORD))?;
        serde_json::from_slice(&text).map_err(std::io::Error::other)
    }

    /// True if `qemu_pid` is alive and really is this instance's QEMU (its
    /// command line names this instance's folder), not a recycled pid.
    pub fn qemu_alive(&self) -> bool {
        is_qemu_of(self.qemu_pid, &self.dir)
    }

    /// Stops the QEMU process and removes the folder (overlays, sockets, logs).
    pub fn destroy(&self) {
        if self.qemu_alive() {
            cleanup::kill_and_reap(self.qemu_pid);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn is_qemu_of(pid: i32, dir: &Path) -> bool {
    if pid <= 0 || !cleanup::pid_alive(pid) {
        return false;
    }
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            let c = String::from_utf8_lossy(&c);
            c.contains("qemu-system") && c.contains(&*dir.to_string_lossy())
        })
        .unwrap_or(false)
}

/// Every instance folder with a readable record.
pub fn list(home: &Home) -> Vec<InstanceRecord> {
    let Ok(entries) = std::fs::read_dir(home.instances()) else {
        return Vec::new();
    };
    let mut out: Vec<InstanceRecord> = entries
        .flatten()
        .filter_map(|e| InstanceRecord::load(&e.path()).ok())
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

pub fn find(home: &Home, name: &str) -> Option<InstanceRecord> {
    InstanceRecord::load(&home.instances().join(name)).ok()
}

/// Removes instances whose owning run died (killed with SIGKILL, or a crash):
/// their QEMU is stopped and their overlays deleted. Instances handed over by
/// `vm up` are only removed once their QEMU is gone. Returns the names reaped.
pub fn reap_stale(home: &Home) -> Vec<String> {
    let mut reaped = Vec::new();
    let Ok(entries) = std::fs::read_dir(home.instances()) else {
        return reaped;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        match InstanceRecord::load(&dir) {
            Ok(rec) => {
                let stale = match rec.owner {
                    Some(owner) => !owner.alive(),
                    None => !rec.qemu_alive(),
                };
                if stale {
                    rec.destroy();
                    reaped.push(rec.name);
                }
            }
            Err(_) => {
                // A folder without a record is a boot that died before it
                // wrote one. Its creator's claim tells; a folder without one
                // is left to a (maybe still live) creator for a minute.
                let orphaned = match Owner::of_folder(&dir) {
                    Some(owner) => !owner.alive(),
                    None => entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age.as_secs() > 60),
                };
                if orphaned {
                    if let Ok(pid) = std::fs::read_to_string(dir.join("qemu.pid")) {
                        if let Ok(pid) = pid.trim().parse::<i32>() {
                            if is_qemu_of(pid, &dir) {
                                cleanup::kill_and_reap(pid);
                            }
                        }
                    }
                    let _ = std::fs::remove_dir_all(&dir);
                    reaped.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
    }
    reaped
}
