//! Reboot and settle, once for every driver: trigger the reboot detached,
//! wait for a new boot id over a fresh connection, then for the boot to
//! settle. "Settled" is systemd done starting (`degraded` counts: the failed
//! units are the audit's business) and udev done with the data disk.
//!
//! Measured on a fresh machine: right after a reboot `lsblk` showed /dev/sdb
//! without its serial once, because udev had not processed the late SCSI
//! disk yet; a step that looks the disk up by serial would have flaked.

use std::time::{Duration, Instant};

use crate::driver::DriverError;
use crate::transport::ssh::{SshError, SshSession, SshTarget};

/// The kernel's id of this boot: a new one means the machine rebooted.
const BOOT_ID: &str = "cat /proc/sys/kernel/random/boot_id";

/// What a driver adds to the shared reboot: how the machine can be seen
/// dying on its side, and the console to show when it never comes back.
pub trait Watch: Send {
    /// `Some` if the machine is gone (its QEMU exited…): the error to give.
    fn gone(&mut self, during: &str) -> Option<DriverError>;
    /// The last lines of its console, or why there is none.
    fn console(&self) -> String;
}

/// A machine seen only over SSH: nothing to watch, no console.
pub struct OverSsh(pub String);

impl Watch for OverSsh {
    fn gone(&mut self, _during: &str) -> Option<DriverError> {
        None
    }
    fn console(&self) -> String {
        format!("(no console: {} is reached only over SSH)", self.0)
    }
}

/// Waits until udev has processed the queue and `disk` (the data disk's
/// stable name) exists: up to 60 s, polling; prints `missing` if it never
/// shows. `udevadm settle` alone returns early when the disk's event is not
/// queued yet, so the link is waited for as well.
pub fn settle_command(disk: &str) -> String {
    let disk = crate::shell::quote(disk);
    format!(
        "i=0; while :; do command -v udevadm >/dev/null 2>&1 && udevadm settle --timeout=10 >/dev/null 2>&1; \
         [ -e {disk} ] && break; i=$((i+1)); [ $i -ge 120 ] && {{ echo missing; break; }}; sleep 0.5; done"
    )
}

/// Reboots the machine behind `target` (with `trigger`, e.g. `systemctl
/// reboot`) and returns the new, settled session and the time taken.
pub async fn reboot_and_settle(
    target: &SshTarget,
    session: Option<SshSession>,
    trigger: &str,
    limit: Duration,
    data_disk: Option<&str>,
    watch: &mut dyn Watch,
) -> Result<(SshSession, Duration), DriverError> {
    let started = Instant::now();
    let deadline = started + limit;
    let session = match session {
        Some(s) => s,
        None => SshSession::connect(target, Duration::from_secs(20)).await?,
    };
    let before = session
        .exec_timeout(BOOT_ID, Duration::from_secs(30))
        .await?
        .stdout
        .trim()
        .to_string();
    // Detached, so the exec returns before sshd goes down.
    let detached = format!(
        "nohup sh -c 'sleep 0.3; {}' >/dev/null 2>&1 &",
        trigger.replace('\'', "")
    );
    session
        .exec_timeout(&detached, Duration::from_secs(30))
        .await?;
    session.close().await;
    let timeout = |what: &str, watch: &dyn Watch| DriverError::Timeout {
        what: what.into(),
        after: limit,
        console: watch.console(),
    };
    let session = loop {
        if let Some(e) = watch.gone("reboot") {
            return Err(e);
        }
        if Instant::now() >= deadline {
            return Err(timeout("reboot", watch));
        }
        let attempt = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(5));
        match SshSession::connect(target, attempt).await {
            Ok(s) => {
                let id = s.exec_timeout(BOOT_ID, Duration::from_secs(5)).await;
                match id {
                    Ok(out) if out.success() && out.stdout.trim() != before => break s,
                    _ => s.close().await,
                }
            }
            Err(e) if e.is_transient() => {}
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(10));
    let mut settle = crate::shell::WAIT_FOR_BOOT.to_string();
    if let Some(disk) = data_disk {
        settle = format!("{settle}; {}", settle_command(disk));
    }
    let settle_error = |source: SshError, watch: &dyn Watch| DriverError::SshDuring {
        what: "reboot (waiting for the boot to settle)".into(),
        source: Box::new(source),
        console: watch.console(),
    };
    // The settle commands only wait, so a connection lost while they run
    // (a stalled TCG guest, see transport/ssh.rs) is retried once on a new
    // one, as long as the machine is still on the new boot.
    let (session, out) = match session.exec_timeout(&settle, left).await {
        Ok(out) => (session, out),
        Err(first @ (SshError::NoExitStatus { .. } | SshError::Protocol { .. })) => {
            session.close().await;
            if let Some(e) = watch.gone("reboot (waiting for the boot to settle)") {
                return Err(e);
            }
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(30));
            let again = SshSession::connect(target, left.min(Duration::from_secs(60)))
                .await
                .map_err(|_| settle_error(first, watch))?;
            let id = again
                .exec_timeout(BOOT_ID, Duration::from_secs(30))
                .await
                .map_err(|e| settle_error(e, watch))?;
            if id.stdout.trim() == before {
                return Err(DriverError::Timeout {
                    what: "reboot: the machine came back on its old boot".into(),
                    after: limit,
                    console: watch.console(),
                });
            }
            let out = again
                .exec_timeout(&settle, left)
                .await
                .map_err(|e| settle_error(e, watch))?;
            (again, out)
        }
        Err(e) => return Err(settle_error(e, watch)),
    };
    let state = out.stdout.lines().next().unwrap_or_default().trim();
    if !matches!(state, "running" | "degraded") {
        return Err(DriverError::Timeout {
            what: format!("reboot: systemd state is `{state}`"),
            after: limit,
            console: watch.console(),
        });
    }
    if out.stdout.lines().any(|l| l.trim() == "missing") {
        return Err(DriverError::Timeout {
            what: format!(
                "reboot: the data disk {} never appeared",
                data_disk.unwrap_or_default()
            ),
            after: Duration::from_secs(60),
            console: watch.console(),
        });
    }
    Ok((session, started.elapsed()))
}
