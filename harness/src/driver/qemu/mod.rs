//! The QEMU driver: a copy-on-write overlay of an image (root disk on pvscsi,
//! `/dev/sda` in the guest) plus an empty data disk on virtio-scsi
//! (`/dev/sdb`, always: its driver loads after root is mounted), user-mode
//! networking with SSH on a free loopback port, the serial console in a file,
//! and QMP for live snapshots.

pub mod accel;
pub mod instance;
pub mod qmp;
pub mod warm;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use self::accel::Accel;
use self::warm::Template;
use crate::cleanup::Owner;
use crate::cleanup::{self, Guard};
use crate::driver::error::io;
pub use crate::driver::error::tail;
use crate::driver::qemu::instance::InstanceRecord;
use crate::driver::qemu::qmp::Qmp;
use crate::driver::DriverError;
use crate::image::Image;
use crate::paths::{self, Home};
use crate::transport::ssh::{self, SshSession, SshTarget};

/// How to boot an instance.
#[derive(Debug, Clone)]
pub struct BootOptions {
    pub name: String,
    /// Size of the added data disk, in bytes.
    pub data_disk_bytes: u64,
    pub memory_mb: u32,
    pub cpus: u32,
    /// Keep the VM running after this process exits (`vm up`).
    pub persistent: bool,
    pub boot_timeout: Duration,
    /// Take the live snapshot `clean` once the guest has settled.
    pub snapshot: bool,
    /// Resume a saved boot of this image and shape if there is one, and save
    /// one after a cold boot (see `driver::warm`). `SHIPSHAPE_COLD_BOOT=1`
    /// turns it off.
    pub warm: bool,
}

impl BootOptions {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            data_disk_bytes: 2 << 30,
            memory_mb: 2048,
            cpus: default_cpus(),
            persistent: false,
            boot_timeout: Duration::from_secs(300),
            snapshot: true,
            warm: std::env::var_os("SHIPSHAPE_COLD_BOOT").is_none_or(|v| v.is_empty() || v == "0"),
        }
    }
}

/// vCPUs per VM, however many run side by side: every VM gets all the
/// host's cores, 1 to 4 (`SHIPSHAPE_VM_CPUS` overrides). Under TCG every vCPU
/// is a host thread. On 2 cores a dockerd restart alone favoured 1-vCPU VMs
/// side by side (13–18 s each, against 19–25 s for two 2-vCPU VMs), but whole
/// runs did not: boots, reboots and dpkg were slower, and the audit tests
/// took 582 s with two 1-vCPU VMs against 521 s with two 2-vCPU ones.
pub fn default_cpus() -> u32 {
    if let Some(c) = std::env::var("SHIPSHAPE_VM_CPUS")
        .ok()
        .and_then(|c| c.parse::<u32>().ok())
        .filter(|c| *c > 0)
    {
        return c;
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4) as u32
}

pub const SNAPSHOT: &str = "clean";

/// The added data disk by its serial. It is `/dev/sdb` on every boot, as in
/// the seed; fixes still use this name, as a user's fstab should.
pub const DATA_DISK: &str = "/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_shipshape-data";

/// A running VM. Dropping it stops QEMU and removes the instance folder,
/// unless it was handed over with [`QemuVm::detach`].
pub struct QemuVm {
    pub record: InstanceRecord,
    target: SshTarget,
    child: Option<std::process::Child>,
    ssh: Option<SshSession>,
    keep: bool,
    /// Booted by resuming a saved boot rather than from the kernel.
    pub resumed: bool,
    _guards: Vec<Guard>,
}

/// How an instance comes up.
#[derive(Clone, Copy)]
enum Start<'a> {
    Cold,
    /// Boot cold, then save the settled guest as the template in this folder.
    ColdAndSave(&'a Path),
    Resume(&'a Template),
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Two distinct free ports (both held while the second is chosen).
pub(crate) fn free_port_pair() -> std::io::Result<(u16, u16)> {
    let a = std::net::TcpListener::bind("127.0.0.1:0")?;
    let b = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok((a.local_addr()?.port(), b.local_addr()?.port()))
}

pub(crate) fn qemu_img(args: &[&str]) -> Result<(), DriverError> {
    crate::driver::error::run_tool(
        std::process::Command::new("qemu-img").args(args),
        &format!("qemu-img {}", args.join(" ")),
        "apt-get install qemu-utils",
    )
}

/// A machine's two disks in `dir`: `root.qcow2`, a copy-on-write overlay of
/// `backing` (in `backing_format`), and `data.qcow2`, empty, of `data_bytes`.
pub(crate) fn make_disks(
    dir: &Path,
    backing: &Path,
    backing_format: &str,
    data_bytes: u64,
) -> Result<(PathBuf, PathBuf), DriverError> {
    let overlay = dir.join("root.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-F",
        backing_format,
        "-b",
        &backing.display().to_string(),
        &overlay.display().to_string(),
    ])?;
    let data = dir.join("data.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        &data.display().to_string(),
        &data_bytes.to_string(),
    ])?;
    Ok((overlay, data))
}

impl QemuVm {
    /// Brings up a fresh instance of `image`: it resumes the saved boot for
    /// this image and shape when there is one, else boots cold (and saves
    /// that boot for the next instance), then (optionally) snapshots.
    pub async fn boot(home: &Home, image: &Image, opts: BootOptions) -> Result<Self, DriverError> {
        let accel = accel::choose(&image.kernel, home.root());
        if !opts.warm {
            return Self::start(home, image, &opts, accel, Start::Cold).await;
        }
        let dir = Template::dir_for(image, &opts, accel);
        let lock = warm::lock(&dir).await?;
        let Some(template) = Template::find(&dir) else {
            let vm = Self::start(home, image, &opts, accel, Start::ColdAndSave(&dir)).await;
            drop(lock);
            return vm;
        };
        drop(lock);
        match Self::start(home, image, &opts, accel, Start::Resume(&template)).await {
            Err(e @ DriverError::Exists(_)) => Err(e),
            Err(e) => {
                eprintln!(
                    "{}: resuming the saved boot failed ({e}); booting cold and saving a new one",
                    opts.name
                );
                let _lock = warm::lock(&dir).await?;
                template.discard();
                Self::start(home, image, &opts, accel, Start::ColdAndSave(&dir)).await
            }
            ok => ok,
        }
    }

    async fn start(
        home: &Home,
        image: &Image,
        opts: &BootOptions,
        accel: Accel,
        how: Start<'_>,
    ) -> Result<Self, DriverError> {
        let dir = home.instances().join(&opts.name);
        paths::private_dir(&home.instances()).map_err(io("creating the instances folder"))?;
        if dir.exists() {
            return Err(DriverError::Exists(opts.name.clone()));
        }
        paths::private_dir(&dir).map_err(io(format!("creating {}", dir.display())))?;
        Owner::claim(&dir).map_err(io(format!("claiming {}", dir.display())))?;
        let dir_guard = cleanup::remove_on_signal(&dir);
        // Until QEMU runs, a failure must not leave the folder behind.
        let mut scaffold = Scaffold(Some(dir.clone()));

        let backing = match how {
            Start::Resume(t) => t.disk.clone(),
            _ => image.qcow2.clone(),
        };
        let (overlay, data) = make_disks(&dir, &backing, "qcow2", opts.data_disk_bytes)?;

        // Another process may take the free port before QEMU binds it; QEMU
        // then exits at once, and we try another port.
        let mut last_err = String::new();
        for _attempt in 0..5 {
            let (port, tls_port) = free_port_pair().map_err(io("finding free loopback ports"))?;
            let (mut child, pid_guard) = spawn_qemu(
                &dir,
                image,
                opts,
                accel,
                port,
                tls_port,
                &overlay,
                &data,
                image_disk_cache(false),
                matches!(how, Start::Resume(_)),
            )?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Ok(Some(_)) = child.try_wait() {
                let stderr = std::fs::read_to_string(dir.join("qemu.stderr")).unwrap_or_default();
                if stderr.contains("host forwarding") {
                    last_err = stderr;
                    continue;
                }
            }
            let pid = child.id() as i32;
            let record = InstanceRecord {
                name: opts.name.clone(),
                platform: image.platform,
                dir: dir.clone(),
                image_dir: image.dir.clone(),
                ssh_port: port,
                docker_tls_port: tls_port,
                qemu_pid: pid,
                owner: Some(Owner::current()),
                accel,
                created_unix: unix_now(),
                host_key: image.host_key_text.clone(),
                client_key: image.client_key.clone(),
                snapshot: None,
            };
            record.save().map_err(io("writing the instance record"))?;
            scaffold.0 = None;
            let mut vm = QemuVm {
                target: target_for(&record, image),
                record,
                child: Some(child),
                ssh: None,
                keep: false,
                resumed: false,
                _guards: vec![pid_guard, dir_guard],
            };
            match how {
                Start::Resume(t) => {
                    vm.resume_from(t, opts.boot_timeout).await?;
                    vm.resumed = true;
                }
                Start::Cold => vm.wait_settled("boot", opts.boot_timeout).await?,
                Start::ColdAndSave(dir) => {
                    vm.wait_settled("boot", opts.boot_timeout).await?;
                    // A VM that could not be saved is still a good VM.
                    if let Err(e) = vm.save_template(dir).await {
                        eprintln!("{}: could not save the boot for later VMs: {e}", opts.name);
                    }
                }
            }
            if opts.snapshot {
                vm.snapshot(SNAPSHOT).await?;
            }
            return Ok(vm);
        }
        Err(DriverError::Tool {
            tool: "qemu-system-x86_64".into(),
            detail: format!(
                "could not forward SSH to a loopback port: {}",
                last_err.trim()
            ),
        })
    }

    /// Boots the image file itself (no overlay, no data disk): the image
    /// builder's provisioning boot.
    pub async fn boot_image_in_place(
        dir: &Path,
        image: &Image,
        timeout: Duration,
    ) -> Result<Self, DriverError> {
        let accel = accel::choose(&image.kernel, dir.parent().unwrap_or(dir));
        let port = free_port().map_err(io("finding a free loopback port"))?;
        let mut opts = BootOptions::new("image-build");
        opts.snapshot = false;
        let (child, guard) = spawn_qemu(
            dir,
            image,
            &opts,
            accel,
            port,
            0,
            &image.qcow2,
            Path::new(""),
            image_disk_cache(true),
            false,
        )?;
        let record = InstanceRecord {
            name: "image-build".into(),
            platform: image.platform,
            dir: dir.to_path_buf(),
            image_dir: image.dir.clone(),
            ssh_port: port,
            docker_tls_port: 0,
            qemu_pid: child.id() as i32,
            owner: Some(Owner::current()),
            accel,
            created_unix: unix_now(),
            host_key: image.host_key_text.clone(),
            client_key: image.client_key.clone(),
            snapshot: None,
        };
        let mut vm = QemuVm {
            target: target_for(&record, image),
            record,
            child: Some(child),
            ssh: None,
            // The build folder belongs to the builder.
            keep: true,
            resumed: false,
            _guards: vec![guard],
        };
        vm.wait_settled("first boot", timeout).await?;
        Ok(vm)
    }

    /// Attaches to an instance booted by another process (`vm ssh`).
    pub fn attach(record: InstanceRecord) -> Result<Self, DriverError> {
        let host_key = ssh::parse_public_key(&record.host_key).map_err(|e| DriverError::Tool {
            tool: "instance record".into(),
            detail: format!("bad host key: {e}"),
        })?;
        Ok(QemuVm {
            target: SshTarget {
                host: "127.0.0.1".into(),
                port: record.ssh_port,
                user: "root".into(),
                key_path: record.client_key.clone(),
                host_key: Some(host_key),
            },
            record,
            child: None,
            ssh: None,
            keep: true,
            resumed: false,
            _guards: Vec::new(),
        })
    }

    pub fn ssh_target(&self) -> &SshTarget {
        &self.target
    }

    pub fn console_path(&self) -> PathBuf {
        self.record.dir.join("console.log")
    }

    pub fn console_tail(&self, lines: usize) -> String {
        tail(&self.console_path(), lines)
    }

    /// QEMU's own stderr (e.g. a port it could not forward), then the console tail.
    fn exit_report(&self) -> String {
        let stderr =
            std::fs::read_to_string(self.record.dir.join("qemu.stderr")).unwrap_or_default();
        format!("{}\n{}", stderr.trim(), self.console_tail(30))
    }

    /// If QEMU is gone: how it ended, its stderr and the console tail.
    pub fn death_report(&mut self) -> Option<String> {
        let status = self.qemu_exit_status()?;
        Some(format!(
            "QEMU exited ({status}); stderr and console tail:\n{}",
            self.exit_report()
        ))
    }

    fn qemu_exit_status(&mut self) -> Option<String> {
        match &mut self.child {
            Some(c) => match c.try_wait() {
                Ok(Some(st)) => Some(st.to_string()),
                _ => None,
            },
            None => (!self.record.qemu_alive()).then(|| "not running".to_string()),
        }
    }

    /// The live SSH session, connecting if needed.
    pub async fn ssh(&mut self) -> Result<&SshSession, DriverError> {
        Ok(SshSession::reuse_or_connect(&mut self.ssh, &self.target).await?)
    }

    /// Runs a command on the guest.
    pub async fn exec(&mut self, command: &str) -> Result<ssh::ExecOutput, DriverError> {
        let s = self.ssh().await?;
        Ok(s.exec(command).await?)
    }

    /// Forgets the SSH session (the guest may have rebooted under another
    /// client); the next command connects again.
    pub async fn drop_session(&mut self) {
        self.drop_ssh().await;
    }

    async fn drop_ssh(&mut self) {
        if let Some(s) = self.ssh.take() {
            s.close().await;
        }
    }

    /// Waits until SSH answers and systemd reports the boot finished.
    async fn wait_settled(&mut self, what: &str, limit: Duration) -> Result<(), DriverError> {
        let deadline = Instant::now() + limit;
        let session = loop {
            if let Some(status) = self.qemu_exit_status() {
                return Err(DriverError::QemuExited {
                    during: what.into(),
                    status,
                    console: self.exit_report(),
                });
            }
            if Instant::now() >= deadline {
                return Err(DriverError::Timeout {
                    what: format!("{what} (waiting for SSH)"),
                    after: limit,
                    console: self.console_tail(30),
                });
            }
            match SshSession::connect(&self.target, Duration::from_secs(10)).await {
                Ok(s) => break s,
                Err(e) if e.is_transient() => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => {
                    return Err(DriverError::SshDuring {
                        what: what.into(),
                        source: Box::new(e),
                        console: self.console_tail(30),
                    })
                }
            }
        };
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(5));
        // `degraded` still means the boot finished; the failed units are
        // reported by the audit, not here.
        let out = session
            .exec_timeout(crate::shell::WAIT_FOR_BOOT, left)
            .await
            .map_err(|source| DriverError::SshDuring {
                what: format!("{what} (waiting for systemd)"),
                source: Box::new(source),
                console: self.console_tail(30),
            })?;
        let state = out.stdout.trim();
        if !matches!(state, "running" | "degraded") {
            return Err(DriverError::Timeout {
                what: format!("{what}: systemd state is `{state}`"),
                after: limit,
                console: self.console_tail(30),
            });
        }
        self.ssh = Some(session);
        Ok(())
    }

    async fn qmp(&self) -> Result<Qmp, DriverError> {
        Ok(Qmp::connect(&self.record.dir.join("qmp.sock")).await?)
    }

    /// Takes a live snapshot (RAM, devices and both disks) named `tag`.
    pub async fn snapshot(&mut self, tag: &str) -> Result<(), DriverError> {
        // No SSH session inside the snapshot: after a reset the guest would
        // hold a half-open connection to a client that is long gone.
        self.drop_ssh().await;
        let mut qmp = self.qmp().await?;
        qmp.hmp(&format!("savevm {tag}"), Duration::from_secs(120))
            .await?;
        self.record.snapshot = Some(tag.to_string());
        self.record
            .save()
            .map_err(io("writing the instance record"))?;
        Ok(())
    }

    /// Returns the VM to its snapshot and reconnects. The guest clock is set
    /// to the host's, since loadvm brings back the snapshot's time.
    pub async fn reset(&mut self) -> Result<Duration, DriverError> {
        let tag = self
            .record
            .snapshot
            .clone()
            .ok_or(DriverError::NoSnapshot)?;
        self.reset_to(&tag).await
    }

    /// Returns the VM to the live snapshot `tag` and reconnects.
    pub async fn reset_to(&mut self, tag: &str) -> Result<Duration, DriverError> {
        let started = Instant::now();
        self.drop_ssh().await;
        let mut qmp = self.qmp().await?;
        qmp.hmp(&format!("loadvm {tag}"), Duration::from_secs(60))
            .await?;
        self.reconnect_and_set_clock("reconnecting after reset")
            .await?;
        Ok(started.elapsed())
    }

    /// Connects to a guest that was just restored from saved state and sets
    /// its clock to the host's: the state carries the time it was saved at.
    async fn reconnect_and_set_clock(&mut self, what: &str) -> Result<(), DriverError> {
        let session = SshSession::connect_with_backoff(
            &self.target,
            Instant::now() + Duration::from_secs(30),
        )
        .await
        .map_err(|source| DriverError::SshDuring {
            what: what.into(),
            source: Box::new(source),
            console: self.console_tail(20),
        })?;
        session
            .exec(&format!("date -u -s @{} >/dev/null", unix_now()))
            .await?;
        self.ssh = Some(session);
        Ok(())
    }

    /// QMP on a QEMU that was just started: its socket appears shortly.
    async fn qmp_when_up(&mut self, limit: Duration) -> Result<Qmp, DriverError> {
        let deadline = Instant::now() + limit;
        loop {
            match self.qmp().await {
                Ok(q) => return Ok(q),
                Err(e) => {
                    if let Some(status) = self.qemu_exit_status() {
                        return Err(DriverError::QemuExited {
                            during: "start".into(),
                            status,
                            console: self.exit_report(),
                        });
                    }
                    if Instant::now() >= deadline {
                        return Err(e);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Resumes the template's saved boot in this (incoming) QEMU.
    async fn resume_from(
        &mut self,
        template: &Template,
        limit: Duration,
    ) -> Result<(), DriverError> {
        let mut qmp = self.qmp_when_up(Duration::from_secs(20)).await?;
        match tokio::time::timeout(limit, warm::resume(&mut qmp, template)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(DriverError::Timeout {
                    what: "resuming the saved boot".into(),
                    after: limit,
                    console: self.exit_report(),
                })
            }
        }
        self.reconnect_and_set_clock("connecting after resuming the saved boot")
            .await
    }

    /// Saves this settled, just-booted VM as the template in `dir`.
    async fn save_template(&mut self, dir: &Path) -> Result<(), DriverError> {
        self.drop_ssh().await;
        let mut qmp = self.qmp().await?;
        warm::save(&mut qmp, &self.record.dir.join("root.qcow2"), dir).await?;
        Ok(())
    }

    /// The guest's boot id.
    pub async fn boot_id(&mut self) -> Result<String, DriverError> {
        let out = self.exec("cat /proc/sys/kernel/random/boot_id").await?;
        Ok(out.stdout.trim().to_string())
    }

    /// Reboots the guest and waits for the new boot (a changed boot_id) to
    /// settle. No fixed sleeps: it polls until the boot id changes or `limit`
    /// runs out, which fails with the console tail.
    pub async fn reboot(&mut self, limit: Duration) -> Result<Duration, DriverError> {
        self.reboot_with("systemctl reboot", limit).await
    }

    /// Like [`reboot`](Self::reboot) with the guest command that triggers it
    /// (a test passes `systemctl halt` to see a reboot that never returns).
    pub async fn reboot_with(
        &mut self,
        command: &str,
        limit: Duration,
    ) -> Result<Duration, DriverError> {
        let target = self.target.clone();
        let session = self.ssh.take();
        let (session, took) = crate::driver::reboot::reboot_and_settle(
            &target,
            session,
            command,
            limit,
            Some(DATA_DISK),
            &mut QemuWatch(self),
        )
        .await?;
        self.ssh = Some(session);
        Ok(took)
    }

    /// Asks the guest to power off and waits for QEMU to exit.
    pub async fn poweroff(&mut self, limit: Duration) -> Result<(), DriverError> {
        let _ = self
            .exec("nohup sh -c 'sleep 0.3; systemctl poweroff' >/dev/null 2>&1 &")
            .await;
        self.drop_ssh().await;
        let deadline = Instant::now() + limit;
        while self.qemu_exit_status().is_none() {
            if Instant::now() >= deadline {
                return Err(DriverError::Timeout {
                    what: "poweroff".into(),
                    after: limit,
                    console: self.console_tail(20),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// Hands the VM over: it keeps running after this process exits, and
    /// `vm down` (or the reaper, once QEMU is gone) removes it.
    pub fn detach(mut self) -> Result<InstanceRecord, DriverError> {
        self.keep = true;
        self.record.owner = None;
        self.record
            .save()
            .map_err(io("writing the instance record"))?;
        self._guards.clear();
        Ok(self.record.clone())
    }

    /// Stops QEMU and removes the instance folder.
    pub async fn destroy(mut self) {
        self.drop_ssh().await;
        self.keep = false;
    }
}

impl Drop for QemuVm {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if let Some(child) = &self.child {
            cleanup::kill_and_reap(child.id() as i32);
        } else if self.record.qemu_alive() {
            cleanup::kill_and_reap(self.record.qemu_pid);
        }
        let _ = std::fs::remove_dir_all(&self.record.dir);
    }
}

/// Removes a half-made instance folder if boot fails before QEMU runs.
struct Scaffold(Option<PathBuf>);

impl Drop for Scaffold {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn target_for(record: &InstanceRecord, image: &Image) -> SshTarget {
    SshTarget {
        host: "127.0.0.1".into(),
        port: record.ssh_port,
        user: "root".into(),
        key_path: image.client_key.clone(),
        host_key: Some(image.host_key.clone()),
    }
}

/// Overlays are throwaway, so their writes need not reach the host disk;
/// an image being provisioned must.
fn image_disk_cache(durable: bool) -> &'static str {
    if durable {
        "writeback"
    } else {
        "unsafe"
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_qemu(
    dir: &Path,
    image: &Image,
    opts: &BootOptions,
    accel: Accel,
    port: u16,
    tls_port: u16,
    root: &Path,
    data: &Path,
    cache: &str,
    incoming: bool,
) -> Result<(std::process::Child, Guard), DriverError> {
    let console = dir.join("console.log");
    let mut cmd = std::process::Command::new("qemu-system-x86_64");
    cmd.arg("-name")
        .arg(format!("shipshape-{}", opts.name))
        .args(["-machine", "q35", "-accel", accel.qemu_arg()])
        .args([
            "-smp",
            &opts.cpus.to_string(),
            "-m",
            &opts.memory_mb.to_string(),
        ])
        .args(["-display", "none", "-vga", "none", "-nodefaults"])
        .arg("-kernel")
        .arg(&image.kernel)
        .arg("-initrd")
        .arg(&image.initrd)
        .args(["-append", crate::image::KERNEL_CMDLINE])
        .args(["-device", "pvscsi,id=pv0"])
        .arg("-drive")
        .arg(format!(
            "file={},if=none,id=root,format=qcow2,cache={cache},discard=unmap",
            root.display()
        ))
        .args([
            "-device",
            "scsi-hd,drive=root,bus=pv0.0,channel=0,scsi-id=0,lun=0",
        ]);
    if !data.as_os_str().is_empty() {
        cmd.arg("-drive")
            .arg(format!(
                "file={},if=none,id=data,format=qcow2,cache={cache}",
                data.display()
            ))
            .args(["-device", "virtio-scsi-pci,id=scsi0"])
            .args([
                "-device",
                "scsi-hd,drive=data,bus=scsi0.0,channel=0,scsi-id=0,lun=0,serial=shipshape-data",
            ]);
    }
    cmd.arg("-netdev")
        .arg(if tls_port == 0 {
            format!("user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22")
        } else {
            format!("user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22,hostfwd=tcp:127.0.0.1:{tls_port}-:2376")
        })
        .args(["-device", "virtio-net-pci,netdev=net0,romfile="])
        .args(["-device", "virtio-rng-pci"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-qmp")
        .arg(format!(
            "unix:{},server=on,wait=off",
            dir.join("qmp.sock").display()
        ))
        .arg("-pidfile")
        .arg(dir.join("qemu.pid"))
        .args(if incoming {
            &["-incoming", "defer"][..]
        } else {
            &[]
        })
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("qemu.stderr")).map_err(io("creating qemu.stderr"))?,
        ))
        // A terminal's Ctrl-C goes to our handler, which stops QEMU itself.
        .process_group(0);
    let spawned = if opts.persistent {
        cmd.spawn()
    } else {
        // If the run is SIGKILLed, the kernel stops QEMU for us.
        cleanup::spawn_tied_to_process(cmd)
    };
    let child = spawned.map_err(io(
        "starting qemu-system-x86_64 (apt-get install qemu-system-x86 qemu-utils)",
    ))?;
    let guard = cleanup::kill_on_signal(child.id() as i32);
    Ok((child, guard))
}

/// How a QEMU VM is seen dying during a reboot: its process exits.
struct QemuWatch<'a>(&'a mut QemuVm);

impl crate::driver::reboot::Watch for QemuWatch<'_> {
    fn gone(&mut self, during: &str) -> Option<DriverError> {
        self.0
            .qemu_exit_status()
            .map(|status| DriverError::QemuExited {
                during: during.into(),
                status,
                console: self.0.console_tail(30),
            })
    }
    fn console(&self) -> String {
        self.0.console_tail(30)
    }
}

impl crate::driver::Machine for QemuVm {
    async fn conn(&mut self) -> Result<crate::transport::Conn<'_>, DriverError> {
        Ok(crate::transport::Conn::Ssh(QemuVm::ssh(self).await?))
    }
    fn host(&self) -> crate::driver::HostInfo {
        crate::driver::HostInfo {
            data_disk: DATA_DISK.into(),
            client_tls_dir: self.record.dir.join("docker-tls"),
            names: vec!["localhost".into(), "shipshape".into()],
            ips: vec![
                std::net::IpAddr::from([127, 0, 0, 1]),
                std::net::IpAddr::from([10, 0, 2, 15]),
            ],
            docker_tls: ("127.0.0.1".into(), self.record.docker_tls_port),
        }
    }
    fn how_up(&self) -> String {
        if self.resumed {
            "resumed the saved boot".into()
        } else {
            "booted".into()
        }
    }
    async fn reset(&mut self) -> Result<crate::driver::Reset, DriverError> {
        Ok(crate::driver::Reset::Done(QemuVm::reset(self).await?))
    }
    async fn reboot(&mut self, limit: Duration) -> Result<Duration, DriverError> {
        QemuVm::reboot(self, limit).await
    }
    fn death_report(&mut self) -> Option<String> {
        QemuVm::death_report(self)
    }
    async fn destroy(self) {
        QemuVm::destroy(self).await
    }
}

/// Machines booted from shipshape's image of one platform, each reset to
/// the image's clean snapshot between scenarios.
pub struct QemuDriver {
    home: Home,
    platform: crate::platform::Platform,
    images: crate::image::Images,
    image: Option<Image>,
}

impl QemuDriver {
    pub fn new(
        home: &Home,
        platform: crate::platform::Platform,
        images: crate::image::Images,
    ) -> Self {
        Self {
            home: home.clone(),
            platform,
            images,
            image: None,
        }
    }
}

impl crate::driver::Driver for QemuDriver {
    type M = QemuVm;
    fn id(&self) -> crate::driver::RunId {
        crate::driver::RunId::Qemu(self.platform)
    }
    async fn prepare(&mut self) -> Result<(), DriverError> {
        let progress = crate::progress::Progress::new(&self.platform.to_string());
        let image = self
            .images
            .ensure(&self.home, self.platform, &progress)
            .await?;
        progress.finish("image ready");
        self.image = Some(image);
        Ok(())
    }
    async fn create(&self, seq: usize) -> Result<QemuVm, DriverError> {
        let image = self.image.as_ref().ok_or(DriverError::NotPrepared)?;
        let name = format!("test-{}-{}-m{seq}", self.platform, std::process::id());
        QemuVm::boot(&self.home, image, BootOptions::new(name)).await
    }
}
