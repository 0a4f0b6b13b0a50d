//! What an image's boot log says about a boot that will never answer SSH,
//! so that it fails at once with the reason instead of at `--image-timeout`
//! (600 s by default). Pure: the driver reads the files and keeps the time.

/// A boot that is stuck, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stuck {
    /// The firmware found no bootloader it can run.
    NothingToBoot(&'static str),
    /// cloud-init ran and found no datasource: not our NoCloud seed.
    NoDatasource,
    /// The image booted to a login prompt, and nothing of cloud-init ran.
    NoCloudInit,
}

impl Stuck {
    pub fn reason(&self) -> String {
        match self {
            Stuck::NothingToBoot(what) => format!("the firmware found nothing to boot ({what})"),
            Stuck::NoDatasource => "cloud-init finished without a datasource (DataSourceNone): \
                 the image's datasource_list leaves NoCloud out, so the seed's keys never arrived"
                .into(),
            Stuck::NoCloudInit => "the image booted to a login prompt and cloud-init never ran: \
                 it needs cloud-init with the NoCloud datasource for the seeded user and keys"
                .into(),
        }
    }
}

/// Reads the console (the serial line) and SeaBIOS's debug port (which holds
/// what SeaBIOS puts on the screen). A login prompt with no cloud-init is
/// `login_without_cloud_init`, left to the driver to time.
pub fn diagnose(console: &str, firmware: &str) -> Option<Stuck> {
    if console.contains("UEFI Interactive Shell") {
        return Some(Stuck::NothingToBoot("OVMF fell through to its UEFI shell"));
    }
    if firmware.contains("No bootable device") || console.contains("No bootable device") {
        return Some(Stuck::NothingToBoot("SeaBIOS: no bootable device"));
    }
    // cloud-init's closing line names the datasource it used.
    if console.lines().any(|l| {
        l.contains("Cloud-init v.") && l.contains("finished at") && l.contains("DataSourceNone")
    }) {
        return Some(Stuck::NoDatasource);
    }
    None
}

/// True if a getty's login prompt is on the console and cloud-init left no
/// trace there: no unit of it started, no line of it printed.
pub fn login_without_cloud_init(console: &str) -> bool {
    // "<hostname> login:" at the start of a line; kernel messages may
    // follow on the same line ("localhost login: [   20.42] Initializing…").
    let prompt = console.lines().any(|l| {
        let mut words = l.split_whitespace();
        !l.starts_with(char::is_whitespace)
            && words.next().is_some()
            && words.next() == Some("login:")
    });
    prompt && !console.to_ascii_lowercase().contains("cloud-init")
}

/// The user cloud-init installed the seed's key for, as its fingerprint
/// table names it: "ci-info: ++++Authorized keys from
/// /home/debian/.ssh/authorized_keys for user debian++++".
pub fn default_user(console: &str) -> Option<String> {
    console.lines().find_map(|l| {
        let (_, rest) = l.split_once("Authorized keys from ")?;
        let (_, user) = rest.split_once(" for user ")?;
        let user = user.trim().trim_end_matches('+');
        (!user.is_empty() && !user.contains(char::is_whitespace)).then(|| user.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_firmware_shell_and_seabios_mean_nothing_to_boot() {
        let ovmf = "BdsDxe: starting Boot0002 \"EFI Internal Shell\"\nUEFI Interactive Shell v2.2\nShell> ";
        assert!(matches!(diagnose(ovmf, ""), Some(Stuck::NothingToBoot(_))));
        let seabios =
            "Booting from Hard Disk...\nBoot failed: not a bootable disk\nNo bootable device.\n";
        assert!(matches!(
            diagnose("", seabios),
            Some(Stuck::NothingToBoot(_))
        ));
    }

    #[test]
    fn cloud_init_without_a_datasource_is_stuck_and_with_nocloud_is_not() {
        let none = "[   60.1] cloud-init[512]: Cloud-init v. 22.4.2 finished at Tue, 01 Dec 2026 19:16:40 +0000. Datasource DataSourceNone.  Up 60.00 seconds\n";
        assert_eq!(diagnose(none, ""), Some(Stuck::NoDatasource));
        let nocloud = "[   45.6] cloud-init[512]: Cloud-init v. 22.4.2 finished at Tue, 01 Dec 2026 19:16:40 +0000. Datasource DataSourceNoCloud [seed=/dev/vda][dsmode=net].  Up 45.61 seconds\n";
        assert_eq!(diagnose(nocloud, ""), None);
    }

    #[test]
    fn the_default_user_is_read_from_the_fingerprint_table() {
        let t = "[   40.1] cloud-init[600]: ci-info: ++++++++Authorized keys from /home/debian/.ssh/authorized_keys for user debian++++++++\n";
        assert_eq!(default_user(t).as_deref(), Some("debian"));
        assert_eq!(
            default_user("ci-info: no authorized SSH keys fingerprints found for user x.\n"),
            None
        );
    }

    #[test]
    fn a_login_prompt_counts_only_without_cloud_init() {
        let plain = "[  OK  ] Started getty@tty1.service\n\nDebian GNU/Linux 12 debian ttyS0\n\ndebian login: \n";
        assert!(login_without_cloud_init(plain));
        let interleaved = "Debian GNU/Linux 12 localhost ttyS0\n\nlocalhost login: [   20.429496] Initializing XFRM netlink socket\n";
        assert!(login_without_cloud_init(interleaved));
        let with = "[   14.9] cloud-init[275]: Cloud-init v. 22.4.2 running 'init-local'\nshipshape-image login: ";
        assert!(!login_without_cloud_init(with));
        assert!(!login_without_cloud_init(
            "Starting OpenBSD Secure Shell server...\n"
        ));
    }
}
