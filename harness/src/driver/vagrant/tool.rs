//! The `vagrant` command itself: shipshape's own Vagrant home, no update
//! checks, and a run that is logged and killed with its process group.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::cleanup;
use crate::driver::error::{io, tail};
use crate::driver::DriverError;
use crate::paths::Home;

/// The folder that holds Vagrant's own state (boxes), and the instances.
pub fn vagrant_home(home: &Home) -> PathBuf {
    home.root().join("vagrant.d")
}

pub fn instances_dir(home: &Home) -> PathBuf {
    home.root().join("vagrant")
}

/// A `vagrant` command for `dir` (or no instance), with shipshape's Vagrant
/// home and no update checks (these machines reach no Vagrant Cloud).
pub fn command(home: &Home, dir: Option<&Path>) -> std::process::Command {
    let mut c = std::process::Command::new("vagrant");
    c.env("VAGRANT_HOME", vagrant_home(home))
        .env("VAGRANT_CHECKPOINT_DISABLE", "1")
        .env("VAGRANT_NO_COLOR", "1")
        .env("VAGRANT_DEFAULT_PROVIDER", "libvirt")
        .stdin(Stdio::null());
    if let Some(d) = dir {
        c.env("VAGRANT_CWD", d).current_dir(d);
    }
    c
}

/// Runs a vagrant command to completion in its own process group (killed on
/// a signal), its output appended to `log`.
pub async fn run_logged(
    mut cmd: std::process::Command,
    log: &Path,
    what: &str,
    limit: Duration,
) -> Result<(), DriverError> {
    use std::os::unix::process::CommandExt;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io(format!("opening {}", log.display())))?;
    let err = out.try_clone().map_err(io("duplicating the log handle"))?;
    cmd.stdout(out).stderr(err).process_group(0);
    let mut child = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .map_err(io(format!(
            "starting `{what}` (is Vagrant installed? see vagrant/README.md)"
        )))?;
    let pid = child.id().unwrap_or(0) as i32;
    let _group = cleanup::kill_group_on_signal(pid);
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(s) => s.map_err(io(format!("waiting for `{what}`")))?,
        Err(_) => {
            // SAFETY: a signal to the process group this call created.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            let _ = child.wait().await;
            return Err(DriverError::Timeout {
                what: format!("`{what}`"),
                after: limit,
                console: tail(log, 30),
            });
        }
    };
    if !status.success() {
        return Err(DriverError::Tool {
            tool: what.into(),
            detail: format!(
                "{status}; last lines of {}:\n{}",
                log.display(),
                tail(log, 30)
            ),
        });
    }
    Ok(())
}
