//! `shipshape audit --image FILE`: the image as built, judged.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use shipshape_harness::driver::image_file;
use shipshape_harness::paths::Home;
use shipshape_harness::progress::Progress;
use shipshape_harness::transport::Conn;
use shipshape_harness::{audit as auditing, gate};

use super::audit::{emit, judgement, AuditArgs};

/// A disk image file as built (qcow2 or raw, from Packer or a cloud image
/// builder): booted through its firmware and bootloader on an overlay (the
/// file is never written), keys handed in by a cloud-init NoCloud seed.
#[derive(clap::Args)]
pub(super) struct ImageArgs {
    /// The image file to judge.
    #[arg(long, conflicts_with = "target")]
    pub(super) image: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value = "qcow2", requires = "image")]
    pub(super) image_format: image_file::ImageFormat,
    /// What boots the image.
    #[arg(long, value_enum, default_value = "uefi", requires = "image")]
    pub(super) firmware: image_file::Firmware,
    /// The login user. Without it, the image's own cloud-init default user
    /// (debian on Debian's images), whose passwordless sudo the image
    /// grants; with a name, the seed creates that user with passwordless
    /// sudo.
    #[arg(long, requires = "image")]
    pub(super) image_user: Option<String>,
    /// Guest memory in MiB.
    #[arg(long = "image-memory", default_value_t = 2048, requires = "image")]
    pub(super) memory: u32,
    /// The bus of the image's own disk: on scsi it is /dev/sda and the data
    /// disk /dev/sdb; virtio (/dev/vda, data disk /dev/sda) is for an image
    /// whose fstab names /dev/vda.
    #[arg(
        long = "image-root-bus",
        value_enum,
        default_value = "scsi",
        requires = "image"
    )]
    pub(super) root_bus: image_file::RootBus,
    /// Guest CPUs.
    #[arg(long = "image-cpus", default_value_t = 2, requires = "image")]
    pub(super) cpus: u32,
    /// Seconds from QEMU's start to cloud-init done before the image counts
    /// as one that never answers (a user image took 80–130 s under TCG).
    #[arg(long = "image-timeout", default_value_t = 600, requires = "image")]
    pub(super) timeout: u64,
}

impl ImageArgs {
    pub(super) fn boot(&self, file: &std::path::Path) -> image_file::ImageBoot {
        image_file::ImageBoot {
            file: file.to_path_buf(),
            format: self.image_format,
            firmware: self.firmware,
            user: self.image_user.clone(),
            memory_mb: self.memory,
            cpus: self.cpus,
            root_bus: self.root_bus,
            data_disk_bytes: 2 << 30,
            timeout: Duration::from_secs(self.timeout),
        }
    }
}

/// `--image`: hash the file, boot it on an overlay, audit, stop, and hash
/// it again: a file that changed is an error, whatever the verdicts.
pub(super) async fn run(
    home: &Home,
    args: &AuditArgs,
    file: &std::path::Path,
    policy: &shipshape_checks::Policy,
    waivers: &[gate::Waiver],
    policy_sha256: Option<String>,
) -> Result<ExitCode> {
    let before = gate::sha256_file(file).with_context(|| format!("reading {}", file.display()))?;
    let boot = args.img.boot(file);
    let progress = Progress::new(&format!("audit {}", file.display()));
    progress.stage("booting the image");
    let name = format!("image-{}", std::process::id());
    let vm = image_file::ImageFileVm::boot(home, &name, &boot).await?;
    progress.finish(&format!(
        "up in {:.1}s (cloud-init done), logged in as {} with sudo",
        vm.up_took.as_secs_f64(),
        vm.login_user()
    ));
    let result = auditing::run(&Conn::Ssh(vm.session().expect("booted")), policy).await;
    vm.destroy().await;
    let mut run = result?;
    run.target = file.display().to_string();
    let after = gate::sha256_file(file).with_context(|| format!("reading {}", file.display()))?;
    anyhow::ensure!(
        before == after,
        "{} changed while it was audited (sha256 {before} before, {after} after)",
        file.display()
    );
    let judged = gate::Judged::Image {
        path: file.display().to_string(),
        sha256: before,
    };
    let j = judgement(
        &run,
        waivers,
        args.fail_on,
        args.benchmark,
        judged,
        policy_sha256,
    );
    emit(&run, args, &j)
}
