//! The Vagrant driver: one `vagrant up` per instance, from a Vagrantfile
//! rendered out of `vagrant/Vagrantfile.hbs` into the instance folder. The
//! machine is then reached over the same pinned SSH transport as every other
//! target: Vagrant's `ssh-config` gives the address and key, and the host key
//! is one generated for the instance and installed by the Vagrantfile's first
//! provisioner. Reboots go through SSH (boot id), like the `ssh` driver.
//! `destroy` runs at the end, on a signal (registered with `cleanup`), and for
//! instances a killed run left behind (`reap`).

pub mod boxes;
pub mod tool;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use handlebars::Handlebars;
use serde::{Deserialize, Serialize};

use crate::cleanup::Owner;
use crate::cleanup::{self, Guard};
use crate::driver::error::{io, tail};
use crate::driver::{DriverError, SshHost};
use crate::image::Image;
use crate::paths::{self, Home};
use crate::transport::ssh::{self, SshSession, SshTarget};
pub use tool::{command, instances_dir, run_logged, vagrant_home};

pub const TEMPLATE: &str = include_str!("../../../../vagrant/Vagrantfile.hbs");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Libvirt,
    Virtualbox,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Libvirt => "libvirt",
            Provider::Virtualbox => "virtualbox",
        }
    }
}

impl std::str::FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "libvirt" => Ok(Provider::Libvirt),
            "virtualbox" => Ok(Provider::Virtualbox),
            _ => Err(format!("`{s}`: expected libvirt or virtualbox")),
        }
    }
}

fn default_memory() -> u32 {
    2048
}
fn default_cpus() -> u32 {
    2
}
fn default_disk_gb() -> u32 {
    2
}

/// A Vagrant platform: a box and how to log in to it. The Debian ones are
/// made from shipshape's own images (`for_image`); others come from YAML
/// files such as `vagrant/platforms/centos-7.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VagrantPlatform {
    pub name: String,
    #[serde(rename = "box")]
    pub box_name: String,
    #[serde(default)]
    pub box_url: Option<String>,
    pub ssh_user: String,
    /// The key Vagrant logs in with; `None`: Vagrant inserts its own.
    #[serde(default)]
    pub private_key: Option<PathBuf>,
    #[serde(default = "default_memory")]
    pub memory_mb: u32,
    #[serde(default = "default_cpus")]
    pub cpus: u32,
    #[serde(default = "default_disk_gb")]
    pub data_disk_gb: u32,
    /// Where the added disk shows in the guest, per provider.
    pub data_disk: BTreeMap<Provider, String>,
    #[serde(default)]
    pub virtualbox_controller: Option<String>,
    /// Commands run as root once the box is up.
    #[serde(default)]
    pub provision: Option<String>,
    /// The box's root disk sits on pvscsi, and the kernel takes this command
    /// line (shipshape's own images, which carry no bootloader).
    #[serde(default)]
    pub root_on_pvscsi: bool,
    #[serde(default)]
    pub cmd_line: Option<String>,
    /// libvirt's domain type: `kvm`, or `qemu` where KVM cannot boot a
    /// kernel. Default: what shipshape's accelerator probe found, else `kvm`.
    #[serde(default)]
    pub libvirt_driver: Option<String>,
}

/// A platform file that cannot be used: the message names the file, and
/// the line and field where it can.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlatformFileError(pub String);

impl VagrantPlatform {
    /// Reads a platform file; errors name the file, line and field.
    pub fn load(path: &Path) -> Result<Self, PlatformFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PlatformFileError(format!("{}: {e}", path.display())))?;
        let p: Self = serde_saphyr::from_str(&text)
            .map_err(|e| PlatformFileError(crate::yaml::error_at(path, &e)))?;
        if p.data_disk.is_empty() {
            return Err(PlatformFileError(format!(
                "{}: data_disk: say where the added disk shows, e.g. `libvirt: /dev/disk/by-id/virtio-shipshape-data`",
                path.display()
            )));
        }
        Ok(p)
    }

    /// The name of shipshape's image of `p`, until `prepare` knows its box.
    pub fn placeholder(p: crate::platform::Platform) -> Self {
        Self {
            name: p.name().into(),
            box_name: String::new(),
            box_url: None,
            ssh_user: "root".into(),
            private_key: None,
            memory_mb: default_memory(),
            cpus: default_cpus(),
            data_disk_gb: default_disk_gb(),
            data_disk: BTreeMap::new(),
            virtualbox_controller: None,
            provision: None,
            root_on_pvscsi: true,
            cmd_line: None,
            libvirt_driver: None,
        }
    }

    /// The platform for one of shipshape's images, as a box `vagrant_box`
    /// makes from it: root logs in with the image's client key.
    pub fn for_image(image: &Image) -> Self {
        Self {
            name: image.platform.name().into(),
            box_name: crate::driver::vagrant::boxes::box_name(image),
            box_url: None,
            ssh_user: "root".into(),
            private_key: Some(image.client_key.clone()),
            memory_mb: default_memory(),
            cpus: default_cpus(),
            data_disk_gb: default_disk_gb(),
            data_disk: BTreeMap::from([(
                Provider::Libvirt,
                "/dev/disk/by-id/virtio-shipshape-data".to_string(),
            )]),
            virtualbox_controller: None,
            provision: None,
            root_on_pvscsi: true,
            cmd_line: Some(crate::image::KERNEL_CMDLINE.into()),
            libvirt_driver: None,
        }
    }
}

/// A Ruby string literal: double-quoted, with `\`, `"` and `#` escaped (the
/// last so that `#{…}` in a value is never interpolated).
fn ruby_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '#' => out.push_str("\\#"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What the template needs beyond the platform.
pub struct RenderInput<'a> {
    pub name: &'a str,
    pub provider: Provider,
    pub libvirt_driver: &'a str,
    pub host_key: &'a Path,
    pub console_log: &'a Path,
    pub boot_timeout: Duration,
}

/// A Vagrantfile that could not be rendered, or `vagrant ssh-config`
/// output that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct VagrantError(pub String);

/// The Vagrantfile for one instance.
pub fn render(p: &VagrantPlatform, input: &RenderInput) -> Result<String, VagrantError> {
    render_text(p, input).map_err(VagrantError)
}

fn render_text(p: &VagrantPlatform, input: &RenderInput) -> Result<String, String> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_helper(
        "rb",
        Box::new(
            |h: &handlebars::Helper,
             _: &Handlebars,
             _: &handlebars::Context,
             _: &mut handlebars::RenderContext,
             out: &mut dyn handlebars::Output|
             -> handlebars::HelperResult {
                let v = h
                    .param(0)
                    .ok_or_else(|| handlebars::RenderErrorReason::ParamNotFoundForIndex("rb", 0))?;
                let s = match v.value() {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.write(&ruby_string(&s))?;
                Ok(())
            },
        ),
    );
    let data = serde_json::json!({
        "name": input.name,
        "box": p.box_name,
        "box_url": p.box_url.clone().unwrap_or_default(),
        "boot_timeout": input.boot_timeout.as_secs(),
        "ssh_user": p.ssh_user,
        "private_key": p.private_key.as_ref().map(|k| k.display().to_string()).unwrap_or_default(),
        "root_login": p.ssh_user == "root",
        "host_key": input.host_key.display().to_string(),
        "provision": p.provision.clone().unwrap_or_default(),
        "libvirt_driver": input.libvirt_driver,
        "tcg": input.libvirt_driver == "qemu",
        "memory_mb": p.memory_mb,
        "cpus": p.cpus,
        "console_log": input.console_log.display().to_string(),
        "data_disk_gb": p.data_disk_gb,
        "data_disk_mb": u64::from(p.data_disk_gb) * 1024,
        "root_on_pvscsi": p.root_on_pvscsi,
        "cmd_line": p.cmd_line.clone().unwrap_or_default(),
        "virtualbox_controller": p.virtualbox_controller.clone().unwrap_or_else(|| "SATA Controller".into()),
    });
    hb.render_template(TEMPLATE, &data)
        .map_err(|e| format!("rendering vagrant/Vagrantfile.hbs: {e}"))
}

/// `vagrant ssh-config`'s answer, as far as the transport needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identity: PathBuf,
}

pub fn parse_ssh_config(text: &str) -> Result<SshConfig, VagrantError> {
    read_ssh_config(text).map_err(VagrantError)
}

fn read_ssh_config(text: &str) -> Result<SshConfig, String> {
    let mut get = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some((k, v)) = line.split_once(char::is_whitespace) {
            get.entry(k.to_ascii_lowercase())
                .or_insert_with(|| v.trim().trim_matches('"').to_string());
        }
    }
    let field = |k: &str| {
        get.get(k)
            .cloned()
            .ok_or_else(|| format!("`vagrant ssh-config` gave no {k}: {text:?}"))
    };
    Ok(SshConfig {
        host: field("hostname")?,
        port: field("port")?
            .parse()
            .map_err(|e| format!("`vagrant ssh-config`: bad Port: {e}"))?,
        user: field("user")?,
        identity: PathBuf::from(field("identityfile")?),
    })
}

/// A machine brought up by `vagrant up`.
pub struct VagrantVm {
    pub name: String,
    pub dir: PathBuf,
    home: Home,
    /// Set once the machine answers; `up` returns only after that.
    host: Option<SshHost>,
    console: PathBuf,
    pub up_took: Duration,
    destroyed: bool,
    _teardown: Guard,
    _dir_guard: Guard,
}

/// The command that removes an instance whatever state it is in: Vagrant's
/// destroy, then libvirt's, for a domain a killed `vagrant up` had defined
/// but not yet recorded.
fn teardown_command(home: &Home, dir: &Path, name: &str) -> std::process::Command {
    let mut c = command(home, Some(dir));
    c.args(["destroy", "-f"]);
    let domain = format!("shipshape-{name}");
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg(
            "\"$0\" \"$@\" >/dev/null 2>&1; \
             virsh -c qemu:///system destroy \"$DOMAIN\" >/dev/null 2>&1; \
             virsh -c qemu:///system undefine \"$DOMAIN\" --remove-all-storage >/dev/null 2>&1; true",
        )
        .arg(c.get_program())
        .args(c.get_args())
        .env("DOMAIN", domain)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in c.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    if let Some(d) = c.get_current_dir() {
        sh.current_dir(d);
    }
    sh
}

impl VagrantVm {
    /// Renders the Vagrantfile, runs `vagrant up`, and connects with the
    /// pinned host key. Whatever fails, nothing is left running.
    pub async fn up(
        home: &Home,
        platform: &VagrantPlatform,
        provider: Provider,
        libvirt_driver: &str,
        name: &str,
        boot_timeout: Duration,
    ) -> Result<Self, DriverError> {
        let started = Instant::now();
        let dir = instances_dir(home).join(name);
        if dir.exists() {
            return Err(DriverError::Exists(name.into()));
        }
        paths::private_dir(&dir).map_err(io(format!("creating {}", dir.display())))?;
        Owner::claim(&dir).map_err(io("claiming the instance folder"))?;
        let _dir_guard = cleanup::remove_on_signal(&dir);
        let _teardown = cleanup::run_on_signal(teardown_command(home, &dir, name));
        let data_disk =
            platform
                .data_disk
                .get(&provider)
                .cloned()
                .ok_or_else(|| DriverError::Tool {
                    tool: "vagrant".into(),
                    detail: format!(
                        "platform {} says no data_disk for provider {}",
                        platform.name,
                        provider.name()
                    ),
                })?;
        let mut vm = Self {
            name: name.into(),
            dir: dir.clone(),
            home: home.clone(),
            host: None,
            console: dir.join("console.log"),
            up_took: Duration::ZERO,
            destroyed: false,
            _teardown,
            _dir_guard,
        };
        let host_key = dir.join("host_ed25519_key");
        let pinned = crate::transport::keygen::ed25519(&host_key, "shipshape-vagrant")
            .map_err(io("making the instance's host key with ssh-keygen"))?;
        let pinned = ssh::parse_public_key(&pinned).map_err(|e| DriverError::Tool {
            tool: "ssh-keygen".into(),
            detail: e.to_string(),
        })?;
        let text = render(
            platform,
            &RenderInput {
                name,
                provider,
                libvirt_driver,
                host_key: &host_key,
                console_log: &vm.console,
                boot_timeout,
            },
        )
        .map_err(|detail| DriverError::Tool {
            tool: "vagrant".into(),
            detail: detail.to_string(),
        })?;
        std::fs::write(dir.join("Vagrantfile"), text).map_err(io("writing the Vagrantfile"))?;
        let log = dir.join("vagrant.log");
        let mut up = command(home, Some(&dir));
        up.args(["up", "--provider", provider.name()]);
        run_logged(
            up,
            &log,
            "vagrant up",
            boot_timeout + Duration::from_secs(120),
        )
        .await?;
        let mut cfg = command(home, Some(&dir));
        cfg.arg("ssh-config");
        let out = tokio::process::Command::from(cfg)
            .output()
            .await
            .map_err(io("running vagrant ssh-config"))?;
        let cfg = parse_ssh_config(&String::from_utf8_lossy(&out.stdout)).map_err(|detail| {
            DriverError::Tool {
                tool: "vagrant ssh-config".into(),
                detail: detail.to_string(),
            }
        })?;
        let target = SshTarget {
            host: cfg.host,
            port: cfg.port,
            user: "root".into(),
            key_path: cfg.identity,
            host_key: Some(pinned),
        };
        let session =
            SshSession::connect_with_backoff(&target, Instant::now() + Duration::from_secs(60))
                .await
                .map_err(Box::new)?;
        // `degraded` still means the boot finished.
        session
            .exec_timeout(crate::shell::WAIT_FOR_BOOT, boot_timeout)
            .await
            .map_err(Box::new)?;
        vm.host = Some(SshHost::with_session(target, session, data_disk)?);
        vm.up_took = started.elapsed();
        Ok(vm)
    }

    /// `vagrant destroy -f`, then the folder.
    pub async fn destroy(mut self) {
        self.destroyed = true;
        let cmd = teardown_command(&self.home, &self.dir, &self.name);
        let dir = self.dir.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut cmd = cmd;
            let _ = cmd.status();
            cleanup::remove_dir_unmounting(&dir);
        })
        .await;
    }

    pub fn console_tail(&self) -> String {
        tail(&self.console, 25)
    }
}

impl Drop for VagrantVm {
    fn drop(&mut self) {
        if !self.destroyed {
            let _ = teardown_command(&self.home, &self.dir, &self.name).status();
            cleanup::remove_dir_unmounting(&self.dir);
        }
    }
}

impl VagrantVm {
    fn host(&self) -> &SshHost {
        self.host
            .as_ref()
            .expect("`up` returns only once connected")
    }
    fn host_mut(&mut self) -> &mut SshHost {
        self.host
            .as_mut()
            .expect("`up` returns only once connected")
    }
}

/// Vagrant's view of its machine during a reboot: the libvirt console.
struct VagrantWatch(PathBuf);

impl crate::driver::reboot::Watch for VagrantWatch {
    fn gone(&mut self, _during: &str) -> Option<DriverError> {
        None
    }
    fn console(&self) -> String {
        tail(&self.0, 25)
    }
}

impl crate::driver::Machine for VagrantVm {
    async fn conn(&mut self) -> Result<crate::transport::Conn<'_>, DriverError> {
        crate::driver::Machine::conn(self.host_mut()).await
    }
    fn host(&self) -> crate::driver::HostInfo {
        crate::driver::Machine::host(VagrantVm::host(self))
    }
    async fn reset(&mut self) -> Result<crate::driver::Reset, DriverError> {
        // Vagrant has no snapshot to lean on: every scenario gets a fresh
        // `vagrant up` of the box as it was built.
        Ok(crate::driver::Reset::Recreate)
    }
    async fn reboot(&mut self, limit: Duration) -> Result<Duration, DriverError> {
        let mut watch = VagrantWatch(self.console.clone());
        self.host_mut().reboot_watched(limit, &mut watch).await
    }
    fn death_report(&mut self) -> Option<String> {
        let out = std::process::Command::new("virsh")
            .args(["-c", "qemu:///system", "domstate"])
            .arg(format!("shipshape-{}", self.name))
            .output()
            .ok()?;
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (state != "running").then(|| {
            format!(
                "libvirt domain shipshape-{} is {}; console tail:\n{}",
                self.name,
                if state.is_empty() { "gone" } else { &state },
                self.console_tail()
            )
        })
    }
    async fn destroy(self) {
        VagrantVm::destroy(self).await
    }
}

/// Machines from `vagrant up` of one platform: a box made from shipshape's
/// image (`--platform`), or a platform file (`--vagrant-platform`). One at a
/// time, a fresh one for every scenario.
pub struct VagrantDriver {
    home: Home,
    platform: VagrantPlatform,
    /// Set for a box made from shipshape's image of this platform.
    image: Option<crate::platform::Platform>,
    images: crate::image::Images,
    provider: Provider,
    /// libvirt's domain type: "kvm" only where KVM really boots a kernel.
    libvirt_driver: String,
}

impl VagrantDriver {
    /// A platform file's machines.
    pub fn from_file(
        home: &Home,
        platform: VagrantPlatform,
        provider: Provider,
        images: crate::image::Images,
    ) -> Self {
        let libvirt_driver = platform
            .libvirt_driver
            .clone()
            .unwrap_or_else(|| "kvm".into());
        Self {
            home: home.clone(),
            platform,
            image: None,
            images,
            provider,
            libvirt_driver,
        }
    }

    /// Machines of a box made from shipshape's image of `p`.
    pub fn from_image(
        home: &Home,
        p: crate::platform::Platform,
        provider: Provider,
        images: crate::image::Images,
    ) -> Self {
        Self {
            home: home.clone(),
            platform: VagrantPlatform::placeholder(p),
            image: Some(p),
            images,
            provider,
            libvirt_driver: "kvm".into(),
        }
    }
}

impl crate::driver::Driver for VagrantDriver {
    type M = VagrantVm;
    fn id(&self) -> crate::driver::RunId {
        crate::driver::RunId::Vagrant(self.platform.name.clone())
    }
    fn max_machines(&self) -> usize {
        1
    }
    async fn prepare(&mut self) -> Result<(), DriverError> {
        let reaped = reap(&self.home);
        if reaped > 0 {
            eprintln!("destroyed {reaped} Vagrant instance(s) left by a killed run");
        }
        if let Some(p) = self.image {
            let progress = crate::progress::Progress::new(&format!("image {p}"));
            let image = self.images.ensure(&self.home, p, &progress).await?;
            progress.stage("vagrant box");
            let name = boxes::ensure(&self.home, &image).await?;
            progress.finish(&format!("box {name}"));
            let mut vp = VagrantPlatform::for_image(&image);
            vp.box_name = name;
            let accel = crate::driver::qemu::accel::choose(&image.kernel, self.home.root());
            if self.platform.libvirt_driver.is_none()
                && accel == crate::driver::qemu::accel::Accel::Tcg
            {
                self.libvirt_driver = "qemu".into();
            }
            self.platform = vp;
        }
        eprintln!(
            "shipshape test: {} through Vagrant ({}, domain type {}), a fresh machine each",
            self.platform.name,
            self.provider.name(),
            self.libvirt_driver
        );
        Ok(())
    }
    async fn create(&self, seq: usize) -> Result<VagrantVm, DriverError> {
        let name = format!("{}-{}-{seq}", self.platform.name, std::process::id());
        VagrantVm::up(
            &self.home,
            &self.platform,
            self.provider,
            &self.libvirt_driver,
            &name,
            Duration::from_secs(600),
        )
        .await
    }
}

/// Destroys the instances whose owning run is gone (killed before its own
/// teardown).
pub fn reap(home: &Home) -> usize {
    let Ok(entries) = std::fs::read_dir(instances_dir(home)) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let dir = e.path();
        if Owner::of_folder(&dir).is_some_and(|o| o.alive()) {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let _ = teardown_command(home, &dir, &name).status();
        cleanup::remove_dir_unmounting(&dir);
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_strings_cannot_interpolate_or_break_out() {
        assert_eq!(ruby_string(r#"a"b\c#{x}"#), r#""a\"b\\c\#{x}""#);
    }

    #[test]
    fn ssh_config_is_read_like_vagrant_writes_it() {
        let text = "Host default\n  HostName 192.168.121.57\n  User root\n  Port 22\n  UserKnownHostsFile /dev/null\n  IdentityFile \"/a b/private_key\"\n  IdentitiesOnly yes\n";
        assert_eq!(
            parse_ssh_config(text).unwrap(),
            SshConfig {
                host: "192.168.121.57".into(),
                port: 22,
                user: "root".into(),
                identity: PathBuf::from("/a b/private_key"),
            }
        );
        assert!(parse_ssh_config("Host default\n").is_err());
    }
}
