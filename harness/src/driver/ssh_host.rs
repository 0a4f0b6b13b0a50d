//! An existing machine reached over SSH. Nothing brings it up or resets it:
//! scenarios run on it one after another, each starting from what the last
//! one left, which is why `shipshape test` refuses such a host unless the
//! user marks it disposable.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::driver::DriverError;
use crate::fix::FixContext;
use crate::transport::ssh::{SshSession, SshTarget};

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
        let session = crate::target::connect_ssh(&target).await?;
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

    async fn boot_id(&mut self) -> Result<String, DriverError> {
        let s = crate::driver::Machine::ssh(self).await?;
        Ok(s.exec("cat /proc/sys/kernel/random/boot_id")
            .await?
            .stdout
            .trim()
            .to_string())
    }

    async fn drop_ssh(&mut self) {
        if let Some(s) = self.ssh.take() {
            s.close().await;
        }
    }
}

impl crate::driver::Machine for SshHost {
    async fn ssh(&mut self) -> Result<&SshSession, DriverError> {
        Ok(SshSession::reuse_or_connect(&mut self.ssh, &self.target).await?)
    }

    fn fix_context(&self) -> FixContext {
        let ips: Vec<IpAddr> = self.target.host.parse().into_iter().collect();
        FixContext {
            data_disk: self.data_disk.clone(),
            client_tls_dir: self.tls_dir.path().to_path_buf(),
            names: vec![self.target.host.clone(), "localhost".into()],
            ips,
        }
    }

    fn docker_tls_addr(&self) -> (String, u16) {
        (self.target.host.clone(), 2376)
    }

    async fn reboot(&mut self, limit: Duration) -> Result<Duration, DriverError> {
        let started = Instant::now();
        let deadline = started + limit;
        let before = self.boot_id().await?;
        // Detached, so the exec returns before sshd goes down.
        let s = crate::driver::Machine::ssh(self).await?;
        s.exec("nohup sh -c 'sleep 0.3; systemctl reboot' >/dev/null 2>&1 &")
            .await?;
        self.drop_ssh().await;
        loop {
            if Instant::now() >= deadline {
                return Err(DriverError::Timeout {
                    what: "reboot".into(),
                    after: limit,
                    console: format!("(no console: {} is reached only over SSH)", self.describe()),
                });
            }
            let attempt = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(5));
            match SshSession::connect(&self.target, attempt).await {
                Ok(s) => {
                    let id = s
                        .exec_timeout(
                            "cat /proc/sys/kernel/random/boot_id",
                            Duration::from_secs(5),
                        )
                        .await;
                    match id {
                        Ok(out) if out.success() && out.stdout.trim() != before => {
                            let left = deadline
                                .saturating_duration_since(Instant::now())
                                .max(Duration::from_secs(5));
                            // `degraded` still means the boot finished.
                            let _ = s.exec_timeout(crate::shell::WAIT_FOR_BOOT, left).await;
                            self.ssh = Some(s);
                            return Ok(started.elapsed());
                        }
                        _ => s.close().await,
                    }
                }
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e.into()),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn death_report(&mut self) -> Option<String> {
        // Nothing here watches the machine itself; a lost connection shows
        // in the step that lost it.
        None
    }
}
