//! Fresh ed25519 key pairs, made by ssh-keygen in the OpenSSH format that a
//! guest's sshd, cloud-init and Vagrant all read.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writes `path` (private, 0600) and `path.pub`; returns the public key.
pub fn ed25519(path: &Path, comment: &str) -> std::io::Result<String> {
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "ssh-keygen {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let mut public = path.as_os_str().to_owned();
    public.push(".pub");
    std::fs::read_to_string(public)
}
