//! Drivers bring up target machines. `qemu` is the default: a local VM booted
//! from an image that `image` builds from Debian packages. `ssh_host` is an
//! existing machine reached over SSH (the image-pipeline gate, or a
//! disposable host a user lends to the scenarios). `vagrant` brings a box up
//! with `vagrant up` and reaches it over the same SSH transport. `container`
//! runs the image as a systemd container with dockerd inside, for scenarios
//! that need no reboot and no disk.

pub mod container;
pub mod error;
pub mod qemu;
pub mod ssh_host;
pub mod vagrant;

use std::future::Future;
use std::time::Duration;

pub use container::ContainerVm;
pub use error::DriverError;
pub use qemu::{BootOptions, QemuVm};
pub use ssh_host::SshHost;
pub use vagrant::VagrantVm;

use serde::Deserialize;

use crate::fix::FixContext;
use crate::transport::ssh::SshSession;

/// What the scenario runner needs of a machine, whatever brought it up.
pub trait Machine: Send {
    /// The live SSH session, connecting if needed.
    fn ssh(&mut self) -> impl Future<Output = Result<&SshSession, DriverError>> + Send;
    /// Where fixes keep runner-side material, and what the machine is called.
    fn fix_context(&self) -> FixContext;
    /// Where the runner reaches dockerd's TLS port from this side.
    fn docker_tls_addr(&self) -> (String, u16);
    /// Reboots and waits for a new boot id, or fails after `limit`.
    fn reboot(
        &mut self,
        limit: Duration,
    ) -> impl Future<Output = Result<Duration, DriverError>> + Send;
    /// If the machine is gone for good: what is known about how it ended.
    fn death_report(&mut self) -> Option<String>;
}

impl Machine for QemuVm {
    async fn ssh(&mut self) -> Result<&SshSession, DriverError> {
        QemuVm::ssh(self).await
    }
    fn fix_context(&self) -> FixContext {
        QemuVm::fix_context(self)
    }
    fn docker_tls_addr(&self) -> (String, u16) {
        ("127.0.0.1".into(), self.record.docker_tls_port)
    }
    async fn reboot(&mut self, limit: Duration) -> Result<Duration, DriverError> {
        QemuVm::reboot(self, limit).await
    }
    fn death_report(&mut self) -> Option<String> {
        QemuVm::death_report(self)
    }
}

/// What a scenario needs of its machine beyond a shell and dockerd. A driver
/// that cannot offer one skips the scenario and says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// Implied by `after_fix: reboot`.
    Reboot,
    /// The added empty disk (`$SHIPSHAPE_DATA_DISK`).
    DataDisk,
    /// Raising resource limits past the runner's own: hard rlimits, and the
    /// kernel's per-namespace counts such as `user.max_user_namespaces`
    /// (both need CAP_SYS_RESOURCE where the kernel is shared).
    RaiseLimits,
    /// An unprivileged user's own user namespaces and /dev/net/tun, which a
    /// rootless dockerd (rootlesskit, slirp4netns) needs.
    UserNamespaces,
    /// A package manager: whichever driver, the machine is asked at run
    /// time (`command -v`), and a machine without it skips the scenario.
    Apt,
    Dnf,
    Yum,
}

impl Need {
    /// The program a package-manager need looks for on the machine.
    pub fn program(self) -> Option<&'static str> {
        match self {
            Need::Apt => Some("apt-get"),
            Need::Dnf => Some("dnf"),
            Need::Yum => Some("yum"),
            _ => None,
        }
    }
}
