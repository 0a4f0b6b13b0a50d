//! The cloud-init NoCloud seed of a boot: fresh client and host keys, the
//! user-data that hands them in, and the FAT disk labelled `cidata` that
//! carries it. The host key's private half leaves this machine only in the
//! seed; the client key stays in the instance folder until it is removed.

use std::path::{Path, PathBuf};

use crate::driver::error::{io, run_tool};
use crate::driver::DriverError;
use crate::transport::ssh;

/// The seed's user-data: the login user with the client key (the image's
/// default user, or `user` made with sudo), and the host key handed in (no
/// other host keys made).
pub fn user_data(user: Option<&str>, client_pub: &str, host_priv: &str, host_pub: &str) -> String {
    let indented: String = host_priv.lines().map(|l| format!("    {l}\n")).collect();
    let users = match user {
        // The top-level key goes to the default user, whatever its name.
        None => format!(
            "users:\n  - default\nssh_authorized_keys:\n  - {}\n",
            client_pub.trim()
        ),
        Some(user) => format!(
            "users:\n  - name: {user}\n    shell: /bin/sh\n    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n    lock_passwd: true\n    ssh_authorized_keys:\n      - {}\n",
            client_pub.trim()
        ),
    };
    format!(
        "#cloud-config\n{users}ssh_deletekeys: true\nssh_genkeytypes: [ed25519]\nssh_keys:\n  ed25519_private: |\n{indented}  ed25519_public: {}\n",
        host_pub.trim()
    )
}

/// Default users of the cloud images people build on, tried in turn when
/// the console does not name the image's (it does when cloud-init prints
/// its key fingerprints there).
pub const DEFAULT_USERS: &[&str] = &[
    "debian",
    "ubuntu",
    "cloud-user",
    "ec2-user",
    "admin",
    "fedora",
    "centos",
    "rocky",
    "almalinux",
];

/// Makes the keys, the user-data and meta-data and the seed disk in `dir`;
/// returns the seed's path and the host key the guest will present.
pub fn make(
    dir: &Path,
    name: &str,
    user: Option<&str>,
) -> Result<(PathBuf, russh::keys::PublicKey), DriverError> {
    // Fresh keys: the client's, and the host key the guest is handed.
    let keygen = |key: &str, comment: &str| {
        crate::transport::keygen::ed25519(&dir.join(key), comment)
            .map_err(io("making an SSH key with ssh-keygen"))
    };
    let client_pub = keygen("id_ed25519", "shipshape-client")?;
    let host_pub = keygen("host_ed25519", "shipshape-host")?;
    let host_key = ssh::parse_public_key(&host_pub).map_err(|e| DriverError::Tool {
        tool: "ssh-keygen".into(),
        detail: e.to_string(),
    })?;
    let host_priv =
        std::fs::read_to_string(dir.join("host_ed25519")).map_err(io("reading the host key"))?;
    std::fs::write(
        dir.join("user-data"),
        user_data(user, &client_pub, &host_priv, &host_pub),
    )
    .map_err(io("writing user-data"))?;
    std::fs::write(
        dir.join("meta-data"),
        format!(
            "instance-id: {name}\nlocal-hostname: {}\n",
            "shipshape-image"
        ),
    )
    .map_err(io("writing meta-data"))?;
    // The host key's private half is in the seed now; not kept here.
    let _ = std::fs::remove_file(dir.join("host_ed25519"));
    let seed = dir.join("seed.img");
    run_tool(
        std::process::Command::new("mkfs.vfat")
            .args(["-n", "CIDATA", "-C"])
            .arg(&seed)
            .arg("2048"),
        "mkfs.vfat",
        "apt-get install dosfstools",
    )?;
    run_tool(
        std::process::Command::new("mcopy")
            .arg("-i")
            .arg(&seed)
            .arg(dir.join("user-data"))
            .arg(dir.join("meta-data"))
            .arg("::/"),
        "mcopy",
        "apt-get install mtools",
    )?;
    Ok((seed, host_key))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_seed_hands_in_the_keys_and_makes_no_others() {
        let u = super::user_data(
            Some("ops"),
            "ssh-ed25519 AAAC client\n",
            "-----BEGIN X-----\nabc\n-----END X-----\n",
            "ssh-ed25519 AAAH host\n",
        );
        assert!(u.starts_with("#cloud-config\n"));
        assert!(u.contains("  - name: ops\n"));
        assert!(u.contains("      - ssh-ed25519 AAAC client\n"));
        assert!(u.contains(
            "  ed25519_private: |\n    -----BEGIN X-----\n    abc\n    -----END X-----\n"
        ));
        assert!(u.contains("  ed25519_public: ssh-ed25519 AAAH host\n"));
        assert!(u.contains("ssh_deletekeys: true"));
    }

    #[test]
    fn without_a_user_the_key_goes_to_the_images_default_user() {
        let u = super::user_data(
            None,
            "ssh-ed25519 AAAC client\n",
            "k\n",
            "ssh-ed25519 AAAH host\n",
        );
        assert!(
            u.contains("users:\n  - default\nssh_authorized_keys:\n  - ssh-ed25519 AAAC client\n")
        );
        assert!(!u.contains("NOPASSWD"));
        assert!(u.contains("  ed25519_public: ssh-ed25519 AAAH host\n"));
    }
}
