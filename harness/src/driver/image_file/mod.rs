//! A user's own disk image (qcow2 or raw, as Packer or a cloud image builder
//! made it), booted as built: firmware and the image's own bootloader, no
//! `-kernel`. The file is never written: the VM runs on an overlay. The SSH
//! client key and the host key are fresh for every boot and reach the guest
//! through a cloud-init NoCloud seed (a FAT disk labelled `cidata`), so the
//! connection is pinned from its first packet. The login user gets
//! passwordless sudo from the same seed, and every command runs under sudo.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

pub mod console;
mod driver;
mod seed;

pub use driver::ImageFileDriver;

use crate::cleanup::{self, Guard, Owner};
use crate::driver::error::{io, tail};
use crate::driver::DriverError;
use crate::paths::{self, Home};
use crate::transport::ssh::{self, SshSession, SshTarget};
use seed::DEFAULT_USERS;

/// How the image file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImageFormat {
    Qcow2,
    Raw,
}

/// What boots the image: UEFI (OVMF) or a legacy BIOS (SeaBIOS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Firmware {
    Uefi,
    Bios,
}

/// Which bus the image's own disk sits on. On SCSI (the default) it is
/// `/dev/sda` and the data disk `/dev/sdb`, as the seed names them; on
/// virtio-blk, for an image whose fstab names `/dev/vda`, it is `/dev/vda`
/// and the data disk `/dev/sda`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RootBus {
    Scsi,
    Virtio,
}

impl RootBus {
    /// The kernel's name for the data disk on this layout.
    pub fn data_disk_name(self) -> &'static str {
        match self {
            RootBus::Scsi => "/dev/sdb",
            RootBus::Virtio => "/dev/sda",
        }
    }
}

/// Boots in a row on which the kernel may name the data disk otherwise
/// before the driver gives up (see `ImageFileVm::ensure_data_disk_name`).
const NAMING_BOOTS: u32 = 4;

/// OVMF's code and variable store, as Debian's `ovmf` package installs them.
const OVMF: &[(&str, &str)] = &[
    (
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ),
    (
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ),
];

#[derive(Debug, Clone)]
pub struct ImageBoot {
    pub file: PathBuf,
    pub format: ImageFormat,
    pub firmware: Firmware,
    /// The login user: `None` is the image's own cloud-init default user
    /// (`debian` on Debian's images, with passwordless sudo there); a name
    /// is a user the seed creates, with passwordless sudo.
    pub user: Option<String>,
    pub memory_mb: u32,
    pub cpus: u32,
    pub root_bus: RootBus,
    pub data_disk_bytes: u64,
    /// From QEMU's start to cloud-init done.
    pub timeout: Duration,
}

/// A running VM of a user's image.
pub struct ImageFileVm {
    dir: PathBuf,
    target: SshTarget,
    /// Host port forwarded to the guest's 2376 (dockerd's TLS listener).
    tls_port: u16,
    /// The `clean` snapshot was taken: a reset is a `loadvm`.
    snapshot: bool,
    root_bus: RootBus,
    ssh: Option<SshSession>,
    child: Option<std::process::Child>,
    /// QEMU's arguments, to start it again for a power cycle.
    qemu_args: Vec<std::ffi::OsString>,
    /// Kills the running QEMU if the run is interrupted.
    qemu_guard: Option<Guard>,
    pub up_took: Duration,
    _guards: Vec<Guard>,
}

/// The console and SeaBIOS's debug port, as plain text.
fn boot_logs(dir: &Path) -> (String, String) {
    let read = |f: &str| {
        crate::driver::error::plain_text(&String::from_utf8_lossy(
            &std::fs::read(dir.join(f)).unwrap_or_default(),
        ))
    };
    (read("console.log"), read("firmware.log"))
}

/// How long a login prompt may stand on the console with no sign of
/// cloud-init before the image counts as one without it. cloud-init's
/// first line came 15 s into the user image's boot, long before its getty.
const LOGIN_GRACE: Duration = Duration::from_secs(30);

impl ImageFileVm {
    pub async fn boot(home: &Home, name: &str, b: &ImageBoot) -> Result<Self, DriverError> {
        let started = Instant::now();
        let file = std::fs::canonicalize(&b.file)
            .map_err(io(format!("reading the image {}", b.file.display())))?;
        let dir = home.instances().join(name);
        paths::private_dir(&home.instances()).map_err(io("creating the instances folder"))?;
        if dir.exists() {
            return Err(DriverError::Exists(name.into()));
        }
        paths::private_dir(&dir).map_err(io(format!("creating {}", dir.display())))?;
        Owner::claim(&dir).map_err(io("claiming the instance folder"))?;
        let dir_guard = cleanup::remove_on_signal(&dir);
        let mut vm = ImageFileVm {
            dir: dir.clone(),
            target: SshTarget {
                host: "127.0.0.1".into(),
                port: 0,
                user: b.user.clone().unwrap_or_default(),
                key_path: dir.join("id_ed25519"),
                host_key: None,
            },
            tls_port: 0,
            snapshot: false,
            root_bus: b.root_bus,
            ssh: None,
            child: None,
            qemu_args: Vec::new(),
            qemu_guard: None,
            up_took: Duration::ZERO,
            _guards: vec![dir_guard],
        };
        let (seed, host_key) = seed::make(&dir, name, b.user.as_deref())?;
        vm.target.host_key = Some(host_key);
        let fmt = match b.format {
            ImageFormat::Qcow2 => "qcow2",
            ImageFormat::Raw => "raw",
        };
        let (overlay, data) = crate::driver::qemu::make_disks(&dir, &file, fmt, b.data_disk_bytes)?;
        let (port, tls_port) =
            crate::driver::qemu::free_port_pair().map_err(io("finding free loopback ports"))?;
        vm.target.port = port;
        vm.tls_port = tls_port;
        let mut cmd = std::process::Command::new("qemu-system-x86_64");
        cmd.args([
            "-name",
            name,
            "-machine",
            "q35",
            "-accel",
            "tcg,thread=multi",
        ])
        .args(["-m", &b.memory_mb.to_string(), "-smp", &b.cpus.to_string()]);
        if b.firmware == Firmware::Bios {
            // SeaBIOS writes to the screen, not the serial line; its debug
            // port carries the same text ("No bootable device.").
            cmd.arg("-chardev")
                .arg(format!(
                    "file,id=fw,path={}",
                    dir.join("firmware.log").display()
                ))
                .args(["-device", "isa-debugcon,iobase=0x402,chardev=fw"]);
        }
        if b.firmware == Firmware::Uefi {
            let (code, vars) = OVMF
                .iter()
                .find(|(c, v)| Path::new(c).exists() && Path::new(v).exists())
                .ok_or_else(|| DriverError::Tool {
                    tool: "OVMF".into(),
                    detail: "no UEFI firmware: install the ovmf package, or pass --firmware bios"
                        .into(),
                })?;
            // As qcow2, so that `savevm` can take the firmware's store with
            // the disks (a raw writable drive refuses snapshots).
            crate::driver::qemu::qemu_img(&[
                "convert",
                "-q",
                "-f",
                "raw",
                "-O",
                "qcow2",
                vars,
                &dir.join("vars.qcow2").display().to_string(),
            ])?;
            cmd.arg("-drive")
                .arg(format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={code}"
                ))
                .arg("-drive")
                .arg(format!(
                    "if=pflash,format=qcow2,unit=1,file={}",
                    dir.join("vars.qcow2").display()
                ));
        }
        // The root disk's controller comes first on the command line, so
        // first on the PCI bus and first probed. On SCSI each disk has a
        // controller of its own: with both on one controller the kernel
        // named the data disk sda in 3 of 10 boots of the user image (its
        // sd probes run asynchronously), with one each in 3 of 30. So
        // `ensure_data_disk_name` checks every boot, and reboots those.
        cmd.arg("-drive").arg(format!(
            "if=none,id=boot,format=qcow2,file={}",
            overlay.display()
        ));
        match b.root_bus {
            RootBus::Scsi => cmd
                .args(["-device", "virtio-scsi-pci,id=scsi0"])
                .args(["-device", "scsi-hd,bus=scsi0.0,drive=boot,bootindex=0"]),
            RootBus::Virtio => cmd.args(["-device", "virtio-blk-pci,drive=boot,bootindex=0"]),
        };
        cmd.arg("-drive")
            .arg(format!(
                "if=none,id=seed,format=raw,readonly=on,file={}",
                seed.display()
            ))
            .args(["-device", "virtio-blk-pci,drive=seed"])
            .args(["-device", "virtio-scsi-pci,id=scsi1"])
            .arg("-drive")
            .arg(format!(
                "if=none,id=data,format=qcow2,file={}",
                data.display()
            ))
            .args([
                "-device",
                "scsi-hd,bus=scsi1.0,drive=data,serial=shipshape-data",
            ])
            .arg("-netdev")
            .arg(format!(
                "user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22,hostfwd=tcp:127.0.0.1:{tls_port}-:2376"
            ))
            .args(["-device", "virtio-net-pci,netdev=net0,romfile="])
            // Appended to, so that a power cycle keeps what came before.
            .arg("-chardev")
            .arg(format!(
                "file,id=console,append=on,path={}",
                dir.join("console.log").display()
            ))
            .args(["-serial", "chardev:console"])
            .args(["-display", "none", "-monitor", "none"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", dir.join("qmp.sock").display()));
        vm.qemu_args = cmd.get_args().map(|a| a.to_os_string()).collect();
        vm.start_qemu()?;
        let deadline = started + b.timeout;
        // SSH answers only once cloud-init has put the keys in place.
        let mut login_seen: Option<Instant> = None;
        let mut tries = 0usize;
        let session = loop {
            if let Some(status) = vm.exited() {
                return Err(DriverError::QemuExited {
                    during: "boot of the image".into(),
                    status,
                    console: vm.console_tail(),
                });
            }
            let (text, firmware) = boot_logs(&vm.dir);
            let mut stuck = console::diagnose(&text, &firmware);
            if stuck.is_none() && console::login_without_cloud_init(&text) {
                let since = *login_seen.get_or_insert_with(Instant::now);
                if since.elapsed() >= LOGIN_GRACE {
                    stuck = Some(console::Stuck::NoCloudInit);
                }
            }
            if let Some(stuck) = stuck {
                let hint = match (&stuck, b.firmware) {
                    (console::Stuck::NothingToBoot(_), Firmware::Uefi) => {
                        "an image for a legacy BIOS boots with --firmware bios"
                    }
                    (console::Stuck::NothingToBoot(_), Firmware::Bios) => {
                        "an image for UEFI boots with --firmware uefi"
                    }
                    _ => "see README, Gating an image",
                };
                return Err(DriverError::BootStuck {
                    file: b.file.display().to_string(),
                    reason: stuck.reason(),
                    hint: hint.into(),
                    console: vm.boot_log_tail(),
                });
            }
            if Instant::now() >= deadline {
                let who = match &b.user {
                    Some(u) => format!("as {u}"),
                    None => format!(
                        "as the image's default user (the console did not name it; tried {}: --image-user NAME if it is another)",
                        DEFAULT_USERS.join(", ")
                    ),
                };
                return Err(DriverError::Timeout {
                    what: format!(
                        "boot of {} (no SSH with the seeded key {who}: does the image run cloud-init with the NoCloud datasource?)",
                        b.file.display()
                    ),
                    after: b.timeout,
                    console: vm.console_tail(),
                });
            }
            if b.user.is_none() {
                tries += 1;
                vm.target.user = console::default_user(&text).unwrap_or_else(|| {
                    DEFAULT_USERS[(tries - 1) % DEFAULT_USERS.len()].to_string()
                });
            }
            match SshSession::connect(&vm.target, Duration::from_secs(10)).await {
                Ok(s) => break s,
                Err(e) if e.is_transient() || matches!(e, ssh::SshError::AuthRejected { .. }) => {
                    tokio::time::sleep(Duration::from_secs(2)).await
                }
                Err(e) => return Err(vm.ssh_during("boot of the image")(e)),
            }
        };
        let mut session = session;
        // Every command runs under `sudo -n`: a user without passwordless
        // sudo can log in but judge nothing.
        let probe = session
            .exec_timeout("sudo -n true", Duration::from_secs(60))
            .await?;
        if !probe.success() {
            return Err(DriverError::Tool {
                tool: "sudo".into(),
                detail: format!(
                    "the login user `{}` has no passwordless sudo on this image ({}); \
                     --image-user NAME has the seed create a user who has",
                    vm.target.user,
                    probe.stderr.trim()
                ),
            });
        }
        session.sudo = true;
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(10));
        let out = session
            .exec_with(
                "cloud-init status --wait >/dev/null 2>&1; cloud-init status",
                None,
                left,
            )
            .await
            .map_err(vm.ssh_during("waiting for cloud-init"))?;
        if !out.stdout.contains("done") {
            return Err(DriverError::Tool {
                tool: "cloud-init".into(),
                detail: format!(
                    "{}{}; console tail:\n{}",
                    out.stdout.trim(),
                    out.stderr.trim(),
                    vm.console_tail()
                ),
            });
        }
        vm.ssh = Some(session);
        let left = deadline.saturating_duration_since(Instant::now());
        vm.ensure_data_disk_name(left.max(Duration::from_secs(300)))
            .await?;
        vm.up_took = started.elapsed();
        Ok(vm)
    }

    /// The kernel names SCSI disks in the order their probes finish, which
    /// no device layout fixes for an image we did not build (its initramfs
    /// holds every controller's driver). So the name is checked on every
    /// boot, and a boot that named the data disk otherwise is rebooted.
    async fn ensure_data_disk_name(&mut self, limit: Duration) -> Result<(), DriverError> {
        let want = self.root_bus.data_disk_name();
        let link = crate::driver::qemu::DATA_DISK;
        for boot in 1..=NAMING_BOOTS {
            let s = self.ssh.as_ref().expect("connected");
            let got = s
                .exec(&format!("readlink -f {link}"))
                .await?
                .stdout
                .trim()
                .to_string();
            if got == want {
                return Ok(());
            }
            if boot == NAMING_BOOTS {
                return Err(DriverError::Tool {
                    tool: "the data disk".into(),
                    detail: format!(
                        "the kernel named it {got:?}, not {want}, on {NAMING_BOOTS} boots in a row"
                    ),
                });
            }
            eprintln!("the kernel named the data disk {got} on this boot, not {want}: rebooting");
            self.reboot_once(limit).await?;
        }
        Ok(())
    }

    async fn reboot_once(&mut self, limit: Duration) -> Result<Duration, DriverError> {
        let target = self.target.clone();
        let session = self.ssh.take();
        let (mut s, took) = crate::driver::reboot::reboot_and_settle(
            &target,
            session,
            "systemctl reboot",
            limit,
            Some(crate::driver::qemu::DATA_DISK),
            &mut Watch::new(self),
        )
        .await?;
        s.sudo = true;
        self.ssh = Some(s);
        Ok(took)
    }

    /// Takes the `clean` snapshot that resets go back to, with no SSH
    /// session inside it. An image whose devices refuse snapshots is still
    /// usable: its resets become fresh boots.
    pub async fn take_snapshot(&mut self) {
        if let Some(s) = self.ssh.take() {
            s.close().await;
        }
        let r = async {
            let mut qmp =
                crate::driver::qemu::qmp::Qmp::connect(&self.dir.join("qmp.sock")).await?;
            qmp.hmp("savevm clean", Duration::from_secs(300)).await?;
            Ok::<(), DriverError>(())
        }
        .await;
        match r {
            Ok(()) => self.snapshot = true,
            Err(e) => eprintln!("no snapshot of the image ({e}): every scenario boots it afresh"),
        }
    }

    /// Starts QEMU on the instance's disks, its stderr appended to
    /// qemu.stderr.
    fn start_qemu(&mut self) -> Result<(), DriverError> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("qemu.stderr"))
            .map_err(io("opening qemu.stderr"))?;
        let mut cmd = std::process::Command::new("qemu-system-x86_64");
        cmd.args(&self.qemu_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr));
        let child =
            cleanup::spawn_tied_to_process(cmd).map_err(io("starting qemu-system-x86_64"))?;
        self.qemu_guard = Some(cleanup::kill_on_signal(child.id() as i32));
        self.child = Some(child);
        Ok(())
    }

    /// Pulls the plug and starts QEMU again on the same disks, firmware
    /// store and ports: what a reset cannot clear, a new process does.
    fn power_cycle(&mut self) -> Result<(), DriverError> {
        self.kill_qemu();
        let _ = std::fs::remove_file(self.dir.join("qmp.sock"));
        self.start_qemu()
    }

    fn exited(&mut self) -> Option<String> {
        let c = self.child.as_mut()?;
        match c.try_wait() {
            Ok(Some(s)) => Some(s.to_string()),
            _ => None,
        }
    }

    pub fn console_tail(&self) -> String {
        tail(&self.dir.join("console.log"), 30)
    }

    /// An SSH failure during `what`, with the console's tail.
    pub fn ssh_during(&self, what: &str) -> impl FnOnce(ssh::SshError) -> DriverError + '_ {
        let what = what.to_string();
        move |source| DriverError::SshDuring {
            what,
            source: Box::new(source),
            console: self.console_tail(),
        }
    }

    /// The serial console's tail, or, when it holds nothing printable,
    /// its size and the firmware's debug port (SeaBIOS never writes to the
    /// serial line). A nightly reboot that never came back left an empty
    /// console tail and nothing else to go on.
    fn boot_log_tail(&self) -> String {
        let console = self.console_tail();
        if !console.is_empty() {
            return console;
        }
        let log = self.dir.join("console.log");
        let size = match std::fs::metadata(&log) {
            Ok(m) => format!("{} bytes", m.len()),
            Err(e) => e.to_string(),
        };
        format!(
            "(console.log: {size}, nothing printable)\n{}",
            tail(&self.dir.join("firmware.log"), 12)
        )
    }

    /// Who the session logged in as.
    pub fn login_user(&self) -> &str {
        &self.target.user
    }

    /// The session, as the login user under sudo.
    pub fn session(&self) -> Option<&SshSession> {
        self.ssh.as_ref()
    }

    /// Stops QEMU and removes the overlay, the seed and the keys.
    pub async fn destroy(mut self) {
        if let Some(s) = self.ssh.take() {
            s.close().await;
        }
        self.stop();
    }

    fn stop(&mut self) {
        self.kill_qemu();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn kill_qemu(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.qemu_guard = None;
    }
}

impl Drop for ImageFileVm {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How a VM of an image is seen during a reboot: dying (its QEMU exits), or
/// stalled. A healthy TCG reboot prints all the way through: systemd's
/// shutdown lines, then OVMF's first line 3–6 s after the reset, then GRUB
/// and the kernel. The stalls seen in nightly runs each went silent at a
/// different place: after "reboot: machine restart" (OVMF printed nothing
/// for 5 min), after "Reached target reboot.target" (495 s), after
/// systemd-shutdown's "Stopping MD devices." (the guest never restarted),
/// and once with not one printable line. No list of last lines covers them
/// all, so silence alone is the sign. The first answer is the machine's
/// reset button, over QMP, which got the OVMF stall going. It did not help
/// one that hung in GRUB's kernel load after the guest's own reboot: the
/// reset and a second one hung at the same place. So the next answers are
/// power cycles, a new QEMU on the same disks and firmware store. The guest
/// is past its shutdown (systemd-shutdown has synced and unmounted) or in
/// its firmware by then, so nothing of it is lost.
struct Watch<'a> {
    vm: &'a mut ImageFileVm,
    resets: u32,
    /// When the reboot (or the last reset) began: silence before it is the
    /// booted guest's, not a stall.
    since: Instant,
}

/// How long the console may stay silent once the reboot has begun before
/// the machine counts as stalled: the longest quiet stretch of a healthy
/// reboot seen here was OVMF's 3–6 s before its first line.
const REBOOT_SILENCE: Duration = Duration::from_secs(60);

impl Watch<'_> {
    fn new(vm: &mut ImageFileVm) -> Watch<'_> {
        Watch {
            vm,
            resets: 0,
            since: Instant::now(),
        }
    }

    fn stalled(&self) -> bool {
        let quiet = std::fs::metadata(self.vm.dir.join("console.log"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        silent_since_reboot(quiet, self.since.elapsed())
    }
}

/// A stall: the console (last written `quiet` ago, `None` if never) has
/// been silent for REBOOT_SILENCE, all of it inside the reboot, which began
/// `rebooting` ago. The booted guest's console is quiet long before a
/// reboot begins, so the silence counts only from the reboot on.
fn silent_since_reboot(quiet: Option<Duration>, rebooting: Duration) -> bool {
    rebooting >= REBOOT_SILENCE && quiet.is_none_or(|q| q >= REBOOT_SILENCE)
}

impl crate::driver::reboot::Watch for Watch<'_> {
    fn gone(&mut self, during: &str) -> Option<DriverError> {
        if let Some(status) = self.vm.exited() {
            return Some(DriverError::QemuExited {
                during: during.into(),
                status,
                console: self.vm.console_tail(),
            });
        }
        if self.resets < 3 && self.stalled() {
            self.resets += 1;
            let silent = REBOOT_SILENCE.as_secs();
            if self.resets == 1 {
                eprintln!("the console printed nothing for {silent}s during the reboot: resetting the machine");
                if let Err(e) =
                    crate::driver::qemu::qmp::system_reset(&self.vm.dir.join("qmp.sock"))
                {
                    eprintln!("the reset over QMP failed: {e}");
                }
            } else {
                eprintln!("the console printed nothing for {silent}s after a reset: power-cycling the machine (a new QEMU on the same disks)");
                if let Err(e) = self.vm.power_cycle() {
                    return Some(e);
                }
            }
            self.since = Instant::now();
        }
        None
    }
    fn console(&self) -> String {
        self.vm.boot_log_tail()
    }
}

impl crate::driver::Machine for ImageFileVm {
    async fn conn(&mut self) -> Result<crate::transport::Conn<'_>, DriverError> {
        if self.ssh.is_none() {
            let mut s = SshSession::connect(&self.target, Duration::from_secs(20)).await?;
            s.sudo = true;
            self.ssh = Some(s);
        }
        Ok(crate::transport::Conn::Ssh(
            self.ssh.as_ref().expect("connected"),
        ))
    }
    fn host(&self) -> crate::driver::HostInfo {
        crate::driver::HostInfo {
            data_disk: crate::driver::qemu::DATA_DISK.into(),
            client_tls_dir: self.dir.join("docker-tls"),
            names: vec!["localhost".into(), "shipshape-image".into()],
            ips: vec![
                std::net::IpAddr::from([127, 0, 0, 1]),
                std::net::IpAddr::from([10, 0, 2, 15]),
            ],
            docker_tls: ("127.0.0.1".into(), self.tls_port),
        }
    }
    fn how_up(&self) -> String {
        "booted through its firmware, cloud-init done".into()
    }
    async fn reset(&mut self) -> Result<crate::driver::Reset, DriverError> {
        if !self.snapshot {
            return Ok(crate::driver::Reset::Recreate);
        }
        let started = Instant::now();
        if let Some(s) = self.ssh.take() {
            s.close().await;
        }
        let mut qmp = crate::driver::qemu::qmp::Qmp::connect(&self.dir.join("qmp.sock")).await?;
        qmp.hmp("loadvm clean", Duration::from_secs(120)).await?;
        let mut s = SshSession::connect_with_backoff(
            &self.target,
            Instant::now() + Duration::from_secs(60),
        )
        .await
        .map_err(self.ssh_during("reconnecting after the reset"))?;
        s.sudo = true;
        // The guest's clock stood still in the snapshot.
        let now = crate::driver::qemu::unix_now();
        s.exec(&format!("date -u -s @{now} >/dev/null")).await?;
        self.ssh = Some(s);
        Ok(crate::driver::Reset::Done(started.elapsed()))
    }
    async fn reboot(&mut self, limit: Duration) -> Result<Duration, DriverError> {
        let started = Instant::now();
        self.reboot_once(limit).await?;
        self.ensure_data_disk_name(limit).await?;
        Ok(started.elapsed())
    }
    fn death_report(&mut self) -> Option<String> {
        let status = self.exited()?;
        Some(format!(
            "QEMU exited ({status}); console tail:\n{}",
            self.console_tail()
        ))
    }
    async fn destroy(self) {
        ImageFileVm::destroy(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_counts_as_a_stall_only_inside_the_reboot() {
        let s = |secs| Duration::from_secs(secs);
        // Quiet 61 s, rebooting 61 s: wherever the console stopped.
        assert!(silent_since_reboot(Some(s(61)), s(61)));
        // The booted guest was quiet for minutes, the reboot began 10 s ago.
        assert!(!silent_since_reboot(Some(s(600)), s(10)));
        // Still printing (OVMF's first line 5 s ago).
        assert!(!silent_since_reboot(Some(s(5)), s(120)));
        // No console written at all, 60 s into the reboot.
        assert!(silent_since_reboot(None, s(60)));
    }
}
