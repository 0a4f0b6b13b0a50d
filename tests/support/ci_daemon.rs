//! Starts a daemon the tests need with its `.ci/` script (`libvirtd`,
//! `dockerd`): idempotent, and the way CI machines without systemd as PID 1
//! get one.

use std::path::Path;
use std::process::Command;

pub fn start(script: &str) -> Result<(), libtest_mimic::Failed> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.ci")
        .join(script);
    let out = Command::new("bash")
        .arg(&path)
        .arg("start")
        .output()
        .map_err(|e| format!("running .ci/{script}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{script} is not answering and .ci/{script} could not start it (install the host \
             packages with .ci/host-deps): {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}
