//! The driver contract, on Test Kitchen's split between a driver (what
//! brings machines up) and a transport (how commands reach them).
//!
//! A [`Driver`] is one run's source of machines: QEMU from shipshape's image
//! (`qemu`), `vagrant up` of a box (`vagrant`), a systemd container on the
//! local Docker daemon (`container`), or a host someone lent (`ssh_host`). It
//! prepares once (image, box, import, and reaping what a killed run left),
//! says which [`Need`]s it cannot meet, and creates [`Machine`]s. Nothing
//! outside `driver/` knows which one is running: the scheduler and the
//! scenario runner see the two traits only.

pub mod container;
pub mod error;
pub mod image_file;
pub mod qemu;
pub mod reboot;
pub mod ssh_host;
pub mod vagrant;

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use container::{ContainerDriver, ContainerVm};
pub use error::DriverError;
pub use qemu::{BootOptions, QemuDriver, QemuVm};
pub use ssh_host::{SshHost, SshHostDriver};
pub use vagrant::{VagrantDriver, VagrantVm};

use crate::platform::Platform;
use crate::transport::Conn;

/// Which run a result belongs to: the driver and what it ran.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "driver", content = "of", rename_all = "lowercase")]
pub enum RunId {
    /// shipshape's image of a platform, booted by QEMU.
    Qemu(Platform),
    /// A Vagrant platform (a box, or a platform file), by name.
    Vagrant(String),
    /// shipshape's image of a platform as a systemd container.
    Container(Platform),
    /// A host someone lent: `user@host:port`.
    Host(String),
    /// A user's own disk image, by file name.
    Image(String),
}

impl RunId {
    /// The name of its JUnit testsuite, its matrix column and its live lines.
    pub fn label(&self) -> String {
        match self {
            RunId::Qemu(p) => p.name().to_string(),
            RunId::Vagrant(n) => format!("{n}-vagrant"),
            RunId::Container(p) => format!("{}-container", p.name()),
            RunId::Host(h) => h.clone(),
            RunId::Image(f) => format!("image-{f}"),
        }
    }

    /// The platform, where the run is one of shipshape's images.
    pub fn platform(&self) -> Option<Platform> {
        match self {
            RunId::Qemu(p) | RunId::Container(p) => Some(*p),
            RunId::Vagrant(_) | RunId::Host(_) | RunId::Image(_) => None,
        }
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// What the harness knows about a machine's host, for the steps and fixes
/// that run there.
#[derive(Debug, Clone)]
pub struct HostInfo {
    /// The added empty disk (`$SHIPSHAPE_DATA_DISK`), as the machine names it.
    pub data_disk: String,
    /// Where the client side of TLS material the fixes generate is kept.
    pub client_tls_dir: PathBuf,
    /// Names and addresses a server certificate must be valid for.
    pub names: Vec<String>,
    pub ips: Vec<IpAddr>,
    /// Where this side reaches dockerd's TLS port (2376 in the machine).
    pub docker_tls: (String, u16),
}

/// What a reset did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// The machine is back at its clean state, in this long.
    Done(Duration),
    /// The machine cannot go back: destroy it and create another.
    Recreate,
}

/// A machine a driver brought up.
pub trait Machine: Send + Sync {
    /// The connection to it, connecting again if the last one went.
    fn conn(&mut self) -> impl Future<Output = Result<Conn<'_>, DriverError>> + Send;
    /// Facts about its host.
    fn host(&self) -> HostInfo;
    /// How it came up, for the live lines ("booted", "resumed the saved boot").
    fn how_up(&self) -> String {
        "up".into()
    }
    /// Back to the clean state, or [`Reset::Recreate`].
    fn reset(&mut self) -> impl Future<Output = Result<Reset, DriverError>> + Send;
    /// Reboots, and waits until the new boot has settled (systemd finished,
    /// udev done with the data disk), or fails after `limit`. Every driver
    /// that can reboot does it through [`reboot::reboot_and_settle`].
    fn reboot(
        &mut self,
        limit: Duration,
    ) -> impl Future<Output = Result<Duration, DriverError>> + Send;
    /// If the machine is gone for good: what is known about how it ended.
    fn death_report(&mut self) -> Option<String>;
    /// Stops it and removes everything it left on this side.
    fn destroy(self) -> impl Future<Output = ()> + Send;
}

/// One run's source of machines.
pub trait Driver: Send + Sync {
    type M: Machine + 'static;
    /// What its results are filed under.
    fn id(&self) -> RunId;
    /// Why it cannot offer `need`, if it cannot.
    fn cannot(&self, need: Need) -> Option<String> {
        let _ = need;
        None
    }
    /// How many of its machines may be up at once.
    fn max_machines(&self) -> usize {
        usize::MAX
    }
    /// Everything before the first machine: the image, box or container
    /// image, and reaping what a killed run left. Called once per run.
    fn prepare(&mut self) -> impl Future<Output = Result<(), DriverError>> + Send;
    /// A new machine; `seq` tells this run's machines apart.
    fn create(&self, seq: usize) -> impl Future<Output = Result<Self::M, DriverError>> + Send;
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
