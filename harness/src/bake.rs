//! Bakes an image (it sits above the drivers: its first boot is a QEMU VM): debootstrap → files and keys → `mkfs.ext4 -d` → qcow2 →
//! a first boot that imports a local container image → poweroff.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::cleanup;
use crate::driver::qemu::{qemu_img, QemuVm};
use crate::driver::DriverError;
use crate::image::{recipe, Image, ImageError, ImageMeta, META};
use crate::paths::{self, Home};
use crate::platform::Platform;
use crate::progress::Progress;
use crate::transport::ssh;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("missing host tools: {missing}; install them with: apt-get install -y {packages}")]
    MissingTools { missing: String, packages: String },
    #[error("building an image needs root (debootstrap, chroot and mkfs -d keep owners)")]
    NotRoot,
    #[error("`{step}` failed (exit {status}):\n{output}")]
    Step {
        step: String,
        status: String,
        output: String,
    },
    #[error("image metadata {path} is unreadable: {reason}; remove the folder to rebuild")]
    Corrupt { path: PathBuf, reason: String },
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("first boot of the new image failed: {0}")]
    Boot(#[from] Box<DriverError>),
}

impl From<DriverError> for BuildError {
    fn from(e: DriverError) -> Self {
        BuildError::Boot(Box::new(e))
    }
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let context = context.into();
    move |source| BuildError::Io { context, source }
}

/// Host tools an image build needs, with the Debian package of each.
const TOOLS: &[(&str, &str)] = &[
    ("debootstrap", "debootstrap"),
    ("mkfs.ext4", "e2fsprogs"),
    ("qemu-img", "qemu-utils"),
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("ssh-keygen", "openssh-client"),
];

pub fn check_tools() -> Result<(), BuildError> {
    let path = std::env::var("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin"];
    let found = |tool: &str| {
        path.split(':')
            .chain(extra)
            .any(|d| Path::new(d).join(tool).is_file())
    };
    let missing: Vec<_> = TOOLS.iter().filter(|(t, _)| !found(t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
    // Installing qemu-system-x86 alone removes a newer preinstalled qemu-utils.
    if packages.contains(&"qemu-system-x86") && !packages.contains(&"qemu-utils") {
        packages.push("qemu-utils");
    }
    Err(BuildError::MissingTools {
        missing: missing
            .iter()
            .map(|(t, _)| *t)
            .collect::<Vec<_>>()
            .join(", "),
        packages: packages.join(" "),
    })
}

/// The cached image for `platform`, building it if its recipe changed.
/// The builder as drivers see it: `ensure` behind `image::Source`.
pub struct Baker;

impl crate::image::Source for Baker {
    fn ensure<'a>(
        &'a self,
        home: &'a Home,
        platform: Platform,
        progress: &'a Progress,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Image, crate::image::SourceError>> + Send + 'a>,
    > {
        Box::pin(async move {
            ensure(home, platform, progress)
                .await
                .map_err(|e| crate::image::SourceError(Box::new(e)))
        })
    }
}

/// The images of a run, built on demand.
pub fn images() -> crate::image::Images {
    std::sync::Arc::new(Baker)
}

pub async fn ensure(
    home: &Home,
    platform: Platform,
    progress: &Progress,
) -> Result<Image, BuildError> {
    if let Some(image) = Image::cached(home, platform) {
        return Ok(image);
    }
    // One build per platform at a time, across processes: a second caller
    // waits, then finds the image the first one built.
    paths::private_dir(&home.images()).map_err(io("creating the image cache"))?;
    let lock_path = home.images().join(format!(".lock-{}", platform.name()));
    let lock = paths::lock_exclusive(&lock_path)
        .await
        .map_err(io(format!("locking {}", lock_path.display())))?;
    if let Some(image) = Image::cached(home, platform) {
        return Ok(image);
    }
    let result = build(home, platform, progress).await;
    drop(lock);
    result
}

async fn run_step(
    step: &str,
    cmd: &mut tokio::process::Command,
    progress: &Progress,
) -> Result<String, BuildError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.kill_on_drop(true);
    // Its own process group, so that an interrupt reaches what it starts.
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(io(format!("starting {step}")))?;
    let _guard = cleanup::kill_group_on_signal(child.id().unwrap_or(0) as i32);
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let mut out_lines = BufReader::new(stdout).lines();
    let mut err_lines = BufReader::new(stderr).lines();
    let mut log = Vec::<String>::new();
    let (mut out_done, mut err_done) = (false, false);
    while !(out_done && err_done) {
        tokio::select! {
            l = out_lines.next_line(), if !out_done => match l {
                Ok(Some(l)) => { progress.detail(&l); log.push(l); }
                _ => out_done = true,
            },
            l = err_lines.next_line(), if !err_done => match l {
                Ok(Some(l)) => { progress.detail(&l); log.push(l); }
                _ => err_done = true,
            },
        }
    }
    let status = child
        .wait()
        .await
        .map_err(io(format!("waiting for {step}")))?;
    if !status.success() {
        let start = log.len().saturating_sub(40);
        return Err(BuildError::Step {
            step: step.to_string(),
            status: status.to_string(),
            output: log[start..].join("\n"),
        });
    }
    Ok(log.join("\n"))
}

fn keygen(path: &Path, comment: &str) -> Result<String, BuildError> {
    crate::transport::keygen::ed25519(path, comment)
        .map_err(io("making an SSH key with ssh-keygen"))
}

fn write_file(root: &Path, path: &str, content: &str, mode: u32) -> Result<(), BuildError> {
    let dest = root.join(path.trim_start_matches('/'));
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    }
    // resolv.conf may be a dangling symlink in a fresh rootfs.
    let _ = std::fs::remove_file(&dest);
    std::fs::write(&dest, content).map_err(io(format!("writing {}", dest.display())))?;
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode))
        .map_err(io(format!("chmod {}", dest.display())))
}

fn find_boot_file(boot: &Path, prefix: &str) -> Result<PathBuf, BuildError> {
    let entries = std::fs::read_dir(boot).map_err(io(format!("reading {}", boot.display())))?;
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    found.sort();
    found.pop().ok_or_else(|| BuildError::Step {
        step: format!("finding {prefix}* in {}", boot.display()),
        status: "none".into(),
        output: String::new(),
    })
}

/// Builds the image for `platform` from scratch and stores it in the cache.
pub async fn build(
    home: &Home,
    platform: Platform,
    progress: &Progress,
) -> Result<Image, BuildError> {
    check_tools()?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(BuildError::NotRoot);
    }
    let started = Instant::now();
    let hash = recipe::hash(platform);
    paths::private_dir(&home.images()).map_err(io("creating the image cache"))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".build-{}-{hash}-", platform.name()))
        .tempdir_in(home.images())
        .map_err(io("creating a build folder"))?;
    let _tmp_guard = cleanup::remove_on_signal(tmp.path());
    // It will hold the client's private key.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700))
        .map_err(io("restricting the build folder"))?;
    let work = tmp.path();
    let rootfs = work.join("rootfs");

    let mirror = crate::image::mirror::host_mirror();
    let debs = home.deb_cache(platform.suite());
    std::fs::create_dir_all(&debs).map_err(io("creating the package cache"))?;
    progress.stage(&format!(
        "debootstrap {} from {}",
        platform.suite(),
        mirror.as_deref().unwrap_or("debootstrap's default mirror")
    ));
    let mut cmd = tokio::process::Command::new("debootstrap");
    cmd.arg("--variant=minbase")
        .arg(format!(
            "--include={}",
            recipe::packages(platform).join(",")
        ))
        .arg(format!("--cache-dir={}", debs.display()))
        .arg(platform.suite())
        .arg(&rootfs);
    match (&mirror, platform.debootstrap_script()) {
        (Some(m), script) => {
            cmd.arg(m);
            cmd.args(script);
        }
        // A script needs the mirror before it: debootstrap's own default.
        (None, Some(script)) => {
            cmd.args(["http://deb.debian.org/debian", script]);
        }
        (None, None) => {}
    }
    run_step("debootstrap", &mut cmd, progress).await?;
    if !platform.late_packages().is_empty() {
        progress.stage(&format!(
            "apt-get install {}",
            platform.late_packages().join(" ")
        ));
        run_step(
            "apt-get install in the new root",
            tokio::process::Command::new("chroot")
                .arg(&rootfs)
                .args([
                    "env",
                    "DEBIAN_FRONTEND=noninteractive",
                    "apt-get",
                    "install",
                    "-y",
                    "-q",
                    "--no-install-recommends",
                ])
                .args(platform.late_packages()),
            progress,
        )
        .await?;
    }

    progress.stage("keys and configuration");
    let host_pub = keygen(
        &rootfs.join("etc/ssh/ssh_host_ed25519_key.new"),
        "shipshape-host",
    )?;
    std::fs::rename(
        rootfs.join("etc/ssh/ssh_host_ed25519_key.new"),
        rootfs.join("etc/ssh/ssh_host_ed25519_key"),
    )
    .map_err(io("placing the host key"))?;
    std::fs::rename(
        rootfs.join("etc/ssh/ssh_host_ed25519_key.new.pub"),
        rootfs.join("etc/ssh/ssh_host_ed25519_key.pub"),
    )
    .map_err(io("placing the host key"))?;
    let client_pub = keygen(&work.join("id_ed25519"), "shipshape-client")?;
    for (path, content, mode) in recipe::files() {
        write_file(&rootfs, path, content, mode)?;
    }
    paths::private_dir(&rootfs.join("root/.ssh")).map_err(io("creating /root/.ssh"))?;
    write_file(&rootfs, "/root/.ssh/authorized_keys", &client_pub, 0o600)?;
    if let Some(script) = recipe::platform_script(platform) {
        progress.stage(&format!("{platform}'s own layout"));
        run_step(
            "the platform's chroot step",
            tokio::process::Command::new("chroot")
                .arg(&rootfs)
                .args(["sh", "-c", script]),
            progress,
        )
        .await?;
    }
    run_step(
        "chroot configuration",
        tokio::process::Command::new("chroot").arg(&rootfs).args([
            "sh",
            "-c",
            recipe::CHROOT_SCRIPT,
        ]),
        progress,
    )
    .await?;
    let boot = rootfs.join("boot");
    let kernel = find_boot_file(&boot, "vmlinuz-")?;
    let initrd = find_boot_file(&boot, "initrd.img-")?;
    let kernel_version = kernel
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .trim_start_matches("vmlinuz-")
                .to_string()
        })
        .unwrap_or_default();
    std::fs::copy(&kernel, work.join("vmlinuz")).map_err(io("copying the kernel"))?;
    std::fs::copy(&initrd, work.join("initrd.img")).map_err(io("copying the initrd"))?;

    progress.stage("mkfs.ext4 -d and qemu-img convert");
    let raw = work.join("root.raw");
    std::fs::File::create(&raw)
        .and_then(|f| f.set_len(8 << 30))
        .map_err(io("creating the raw disk"))?;
    run_step(
        "mkfs.ext4",
        tokio::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "shipshape-root", "-d"])
            .arg(&rootfs)
            .arg(&raw),
        progress,
    )
    .await?;
    let qcow2 = work.join("root.qcow2");
    qemu_img(&[
        "convert",
        "-O",
        "qcow2",
        &raw.display().to_string(),
        &qcow2.display().to_string(),
    ])?;
    std::fs::remove_file(&raw).map_err(io("removing the raw disk"))?;
    std::fs::remove_dir_all(&rootfs).map_err(io("removing the rootfs"))?;

    progress.stage("first boot: importing the local busybox image");
    let host_key_text = host_pub.trim().to_string();
    let mut meta = ImageMeta {
        platform,
        recipe_hash: hash.clone(),
        mirror,
        docker_version: String::new(),
        packages: Vec::new(),
        kernel_version,
        host_key: host_key_text.clone(),
        build_seconds: 0.0,
        built_unix: 0,
    };
    let image = Image {
        platform,
        dir: work.to_path_buf(),
        qcow2,
        kernel: work.join("vmlinuz"),
        initrd: work.join("initrd.img"),
        client_key: work.join("id_ed25519"),
        host_key: ssh::parse_public_key(&host_key_text).map_err(|e| BuildError::Corrupt {
            path: work.join("host key"),
            reason: e.to_string(),
        })?,
        host_key_text,
        meta: meta.clone(),
    };
    {
        let mut vm = QemuVm::boot_image_in_place(work, &image, Duration::from_secs(600)).await?;
        let session = vm.ssh().await?;
        let out = session
            .exec_timeout(recipe::PROVISION_SCRIPT, Duration::from_secs(600))
            .await
            .map_err(DriverError::from)?;
        if !out.success() {
            return Err(BuildError::Step {
                step: "provisioning over SSH".into(),
                status: out.status.to_string(),
                output: format!("{}{}", out.stdout, out.stderr),
            });
        }
        meta.docker_version = out
            .stdout
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string();
        let pkgs = session
            .exec_timeout(
                "dpkg-query -W -f '${Package} ${Version}\\n' docker.io docker-cli docker-ce docker-ce-cli containerd containerd.io runc 2>/dev/null || true",
                Duration::from_secs(60),
            )
            .await
            .map_err(DriverError::from)?;
        meta.packages = pkgs
            .stdout
            .lines()
            .filter(|l| l.split_whitespace().count() == 2)
            .map(String::from)
            .collect();
        progress.stage(&format!("docker {}; powering off", meta.docker_version));
        vm.poweroff(Duration::from_secs(120)).await?;
    }
    for leftover in ["qmp.sock", "qemu.pid"] {
        let _ = std::fs::remove_file(work.join(leftover));
    }
    let _ = std::fs::rename(work.join("console.log"), work.join("build-console.log"));
    meta.build_seconds = started.elapsed().as_secs_f64();
    meta.built_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    std::fs::write(
        work.join(META),
        serde_json::to_vec_pretty(&meta).expect("meta serializes"),
    )
    .map_err(io("writing image.json"))?;

    let dest = Image::dir_for(home, platform);
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(io(format!("replacing {}", dest.display())))?;
    }
    let work = tmp.keep();
    std::fs::rename(&work, &dest).map_err(io(format!("moving the image to {}", dest.display())))?;
    prune_stale(home, platform, &dest);
    progress.finish(&format!(
        "built {} in {:.0}s ({})",
        platform,
        meta.build_seconds,
        dest.display()
    ));
    Ok(Image::load(&dest)?)
}

/// Removes images of `platform` built from older recipes, unless an
/// instance still boots from one.
fn prune_stale(home: &Home, platform: Platform, keep: &Path) {
    let in_use: Vec<PathBuf> = crate::driver::qemu::instance::list(home)
        .into_iter()
        .map(|r| r.image_dir)
        .collect();
    for image in crate::image::list(home) {
        if image.platform == platform && image.dir != keep && !in_use.contains(&image.dir) {
            let _ = std::fs::remove_dir_all(&image.dir);
        }
    }
}
