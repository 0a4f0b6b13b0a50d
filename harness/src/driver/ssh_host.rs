//! An existing machine reached over SSH. Nothing brings it up or resets it:
//! scenarios run on it one after another, each starting from what the last
//! one left, which is why `shipshape test` refuses such a host unless the
//! user marks it disposable.

use std::net::IpAddr;
use std::time::Duration;

use crate::driver::reboot::{reboot_and_settle, OverSsh, Watch};
use crate::driver::{DriverError, HostInfo, Reset, RunId};
use crate::transport::ssh::{SshSession, SshTarget};
use crate::transport::Conn;

pub struct SshHost {
    target: SshTarget,
    ssh: Option<SshSession>,
    data_disk: String,
    /// The client half of TLS material the fixes generate; removed with the
    /// host value, or by the signal handler (an exit on a signal runs no Drop).
    tls_dir: tempfile::TempDir,
    _tls_guard: crate::cleanup::Guard,
}

impl SshHost {
    /// Connects once, so that a wrong key or an unreachable host fails here,
    /// before any scenario starts.
    pub async fn connect(target: SshTarget, data_disk: String) -> Result<Self, DriverError> {
        let session = crate::transport::ssh::connect_checked(&target).await?;
        Self::with_session(target, session, data_disk)
    }

    /// A host already connected (the Vagrant driver's, once `vagrant up` is done).
    pub fn with_session(
        target: SshTarget,
        session: SshSession,
        data_disk: String,
    ) -> Result<Self, DriverError> {
        let tls_dir = tempfile::Builder::new()
            .prefix("shipshape-tls-")
            .tempdir()
            .map_err(|source| DriverError::Io {
                context: "creating a folder for the TLS client material".into(),
                source,
            })?;
        let _tls_guard = crate::cleanup::remove_on_signal(tls_dir.path());
        Ok(Self {
            target,
            ssh: Some(session),
            data_disk,
            tls_dir,
            _tls_guard,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "{}@{}:{}",
            self.target.user, self.target.host, self.target.port
        )
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    async fn drop_ssh(&mut self) {
        if let Some(s) = self.ssh.take() {
            s.close().await;
        }
    }

    /// The live session, connecting again if the last one went.
    pub async fn ssh(&mut self) -> Result<&SshSession, DriverError> {
        Ok(SshSession::reuse_or_connect(&mut self.ssh, &self.target).await?)
    }

    /// Reboots through the shared reboot-and-settle, with `watch` for the
    /// driver's own view of the machine (Vagrant's libvirt console).
    pub async fn reboot_watched(
        &mut self,
        limit: Duration,
        watch: &mut dyn Watch,
    ) -> Result<Duration, DriverError> {
        let session = self.ssh.take();
        let disk = self.data_disk.clone();
        let (s, took) = reboot_and_settle(
            &self.target,
            session,
            "systemctl reboot",
            limit,
            Some(&disk),
            watch,
        )
        .await?;
        self.ssh = Some(s);
        Ok(took)
    }
}

impl crate::driver::Machine for SshHost {
    async fn conn(&mut self) -> Result<Conn<'_>, DriverError> {
        Ok(Conn::Ssh(SshHost::ssh(self).await?))
    }

    fn host(&self) -> HostInfo {
        let ips: Vec<IpAddr> = self.target.host.parse().into_iter().collect();
        HostInfo {
            data_disk: self.data_disk.clone(),
            client_tls_dir: self.tls_dir.path().to_path_buf(),
            names: vec![self.target.host.clone(), "localhost".into()],
            ips,
            docker_tls: (self.target.host.clone(), 2376),
        }
    }

    async fn reset(&mut self) -> Result<Reset, DriverError> {
        // Nothing resets a lent host: the next scenario starts from what
        // this one left, on a new connection.
        Ok(Reset::Recreate)
    }

    async fn reboot(&mut self, limit: Duration) -> Result<Duration, DriverError> {
        let mut watch = OverSsh(self.describe());
        self.reboot_watched(limit, &mut watch).await
    }

    fn death_report(&mut self) -> Option<String> {
        // Nothing here watches the machine itself; a lost connection shows
        // in the step that lost it.
        None
    }

    async fn destroy(mut self) {
        self.drop_ssh().await;
    }
}

/// A host someone lent, disposable: one machine at a time, which is the
/// host itself, connected again for every scenario.
pub struct SshHostDriver {
    target: SshTarget,
    data_disk: String,
    /// The connection `prepare` made, handed to the first machine.
    first: std::sync::Mutex<Option<SshSession>>,
}

impl SshHostDriver {
    pub fn new(target: SshTarget, data_disk: String) -> Self {
        Self {
            target,
            data_disk,
            first: std::sync::Mutex::new(None),
        }
    }
}

impl crate::driver::Driver for SshHostDriver {
    type M = SshHost;
    fn id(&self) -> RunId {
        RunId::Host(format!(
            "{}@{}:{}",
            self.target.user, self.target.host, self.target.port
        ))
    }
    fn max_machines(&self) -> usize {
        1
    }
    async fn prepare(&mut self) -> Result<(), DriverError> {
        // Connects once, so that a wrong key or an unreachable host fails
        // here, before any scenario starts.
        let s = crate::transport::ssh::connect_checked(&self.target).await?;
        *self.first.lock().expect("first") = Some(s);
        Ok(())
    }
    async fn create(&self, _seq: usize) -> Result<SshHost, DriverError> {
        let first = self.first.lock().expect("first").take();
        let session = match first {
            Some(s) => s,
            None => crate::transport::ssh::connect_checked(&self.target).await?,
        };
        SshHost::with_session(self.target.clone(), session, self.data_disk.clone())
    }
}
