//! The container driver: a systemd container with dockerd inside, made from
//! the same image the QEMU driver boots, started through testcontainers and
//! reached over the same pinned SSH transport. It starts in seconds and
//! restarts dockerd without emulation, so it serves the scenarios that need
//! no reboot and no disk; the suite skips the others, with the reason.
//!
//! A container cannot raise a limit its runtime does not have: where
//! dockerd's capability bounding set lacks a capability (this runner's has
//! no CAP_SYS_RESOURCE), `--privileged` cannot start at all. The driver then
//! grants every capability the set has, one by one, with the confinement a
//! privileged container drops (seccomp, AppArmor, masked paths, device
//! cgroup) dropped by hand, and reports what it cannot offer (`Limits`).

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bollard::models::PortBinding;
use bollard::Docker;
use testcontainers::core::{CgroupnsMode, IntoContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::io::AsyncReadExt;

use crate::cleanup::Owner;
use crate::cleanup::{self, Guard};
use crate::driver::error::io;
use crate::driver::Need;
use crate::driver::{DriverError, SshHost};
use crate::image::Image;
use crate::paths::Home;
use crate::platform::Platform;
use crate::transport::ssh::{SshSession, SshTarget};

/// Label on every container this driver starts: the pid and start time of
/// the run that owns it, so a later run can remove what a killed one left.
pub const OWNER_LABEL: &str = "dev.shipshape.owner";

/// What runs as the container's command. The image is the VM's root disk, so
/// a few things meant for a VM go first: the fstab's root label (no such
/// device here: systemd would wait 90 s for it), the VM's DHCP network (the
/// container's interface is Docker's) and auditd (the kernel's audit is the
/// runner's own; a container must not load rules into it).
const INIT: &str = ": > /etc/fstab; rm -f /etc/systemd/network/10-qemu.network; \
systemctl mask auditd.service systemd-networkd.service systemd-networkd.socket >/dev/null 2>&1; \
exec /sbin/init";

/// Capabilities by bit number, as Docker 20.10 names them (it knows none past
/// AUDIT_READ).
const CAPS: [&str; 38] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
];
const CAP_SYS_RESOURCE: usize = 24;

/// How containers get their privileges on this runner.
#[derive(Debug, Clone)]
pub enum Privileges {
    /// `--privileged`: the runtime has every capability.
    Full,
    /// These capabilities; the runtime's bounding set lacks the `missing` ones.
    Listed {
        caps: Vec<&'static str>,
        missing: Vec<&'static str>,
    },
}

impl Privileges {
    /// Decided from dockerd's bounding set when it runs here (found by its
    /// comm in /proc), else from this process's, which on a runner is
    /// normally the one dockerd was started with.
    pub fn detect() -> Self {
        let remote =
            std::env::var("DOCKER_HOST").is_ok_and(|h| !h.is_empty() && !h.starts_with("unix://"));
        let dockerd = (!remote)
            .then(|| {
                std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
                    let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
                    (comm.trim() == "dockerd").then(|| e.path().join("status"))
                })
            })
            .flatten();
        let status = dockerd
            .and_then(|p| std::fs::read_to_string(p).ok())
            .or_else(|| std::fs::read_to_string("/proc/self/status").ok())
            .unwrap_or_default();
        Self::from_bounding_set(bounding_set(&status))
    }

    pub fn from_bounding_set(bnd: u64) -> Self {
        let (caps, missing): (Vec<_>, Vec<_>) = CAPS
            .iter()
            .enumerate()
            .partition(|(bit, _)| bnd & (1u64 << bit) != 0);
        if missing.is_empty() {
            return Privileges::Full;
        }
        Privileges::Listed {
            caps: caps.into_iter().map(|(_, c)| *c).collect(),
            missing: missing.into_iter().map(|(_, c)| *c).collect(),
        }
    }

    fn lacks_sys_resource(&self) -> bool {
        match self {
            Privileges::Full => false,
            Privileges::Listed { missing, .. } => missing.contains(&CAPS[CAP_SYS_RESOURCE]),
        }
    }
}

/// Why a container on this runner cannot serve `need`, if it cannot.
pub fn cannot(need: Need, privileges: &Privileges) -> Option<String> {
    match need {
        Need::Reboot => Some("needs a reboot, and a container shares the runner's kernel".into()),
        Need::DataDisk => {
            Some("needs an added empty disk, and a container has no block device of its own".into())
        }
        Need::RaiseLimits if privileges.lacks_sys_resource() => {
            let hard = hard_nofile()
                .map(|n| format!(" ({n} open files)"))
                .unwrap_or_default();
            Some(format!(
                "needs to raise resource limits (hard rlimits, user.max_user_namespaces), and dockerd's capability bounding set lacks CAP_SYS_RESOURCE: no container can go above the runner's hard limits{hard}"
            ))
        }
        Need::RaiseLimits => None,
        Need::UserNamespaces => Some(
            "needs an unprivileged user's own user namespaces and /dev/net/tun for a rootless dockerd, which a container inside the runner's dockerd does not give"
                .into(),
        ),
        // Asked of the machine itself when the scenario starts.
        Need::Apt | Need::Dnf | Need::Yum => None,
    }
}

/// The `CapBnd:` mask of a /proc/PID/status text (all bits if absent).
pub fn bounding_set(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(u64::MAX)
}

fn hard_nofile() -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0).then_some(r.rlim_max)
}

fn docker() -> Result<Docker, DriverError> {
    Docker::connect_with_defaults().map_err(|e| DriverError::Tool {
        tool: "docker".into(),
        detail: format!(
            "cannot reach the Docker daemon (DOCKER_HOST or /var/run/docker.sock): {e}"
        ),
    })
}

fn docker_err(what: &str) -> impl Fn(bollard::errors::Error) -> DriverError + '_ {
    move |e| DriverError::Tool {
        tool: "docker".into(),
        detail: format!("{what}: {e}"),
    }
}

/// The container image made from `image`:
/// `shipshape/<platform>:<recipe hash>-<build time>`. The build time is in
/// the tag because every build of a recipe has its own SSH host key, and the
/// container must offer the key that `image` pins.
pub fn tag(image: &Image) -> (String, String) {
    tag_of(
        image.platform,
        &image.meta.recipe_hash,
        image.meta.built_unix,
    )
}

fn tag_of(platform: Platform, recipe_hash: &str, built_unix: u64) -> (String, String) {
    (
        format!("shipshape/{}", platform.name()),
        format!("{recipe_hash}-{built_unix}"),
    )
}

/// Imports `image`'s root disk into Docker unless that tag is there already.
/// The qcow2 is converted to a raw file, loop-mounted read-only and streamed
/// as a tar into `POST /images/create?fromSrc=-`. Docker's own state on the
/// disk is left out: dockerd in the container keeps it on a volume.
pub async fn ensure_image(home: &Home, image: &Image) -> Result<String, DriverError> {
    let docker = docker()?;
    docker
        .ping()
        .await
        .map_err(docker_err("cannot reach the Docker daemon"))?;
    let (repo, tag) = tag(image);
    let full = format!("{repo}:{tag}");
    if docker.inspect_image(&full).await.is_ok() {
        return Ok(full);
    }
    let work = home
        .instances()
        .join(format!("container-import-{}", std::process::id()));
    crate::paths::private_dir(&work).map_err(io("creating the import folder"))?;
    let _guard = cleanup::remove_on_signal(&work);
    let r = import(&docker, image, &work, &repo, &tag).await;
    let w = work.clone();
    let _ = tokio::task::spawn_blocking(move || cleanup::remove_dir_unmounting(&w)).await;
    r?;
    remove_older(&docker, &repo, &full).await;
    Ok(full)
}

/// Removes the platform's images of other builds (~700 MB each). One still
/// in use by a container stays: Docker refuses, and that is fine.
async fn remove_older(docker: &Docker, repo: &str, keep: &str) {
    let opts = bollard::query_parameters::ListImagesOptionsBuilder::new()
        .filters(&HashMap::from([("reference", vec![repo])]))
        .build();
    let Ok(list) = docker.list_images(Some(opts)).await else {
        return;
    };
    for img in list {
        for t in img.repo_tags.iter().filter(|t| t.as_str() != keep) {
            let _ = docker
                .remove_image(
                    t,
                    None::<bollard::query_parameters::RemoveImageOptions>,
                    None,
                )
                .await;
        }
    }
}

async fn import(
    docker: &Docker,
    image: &Image,
    work: &Path,
    repo: &str,
    tag: &str,
) -> Result<(), DriverError> {
    let raw = work.join("root.raw");
    let mnt = work.join("root");
    std::fs::create_dir(&mnt).map_err(io("creating the mount point"))?;
    run(tokio::process::Command::new("qemu-img")
        .args(["convert", "-O", "raw"])
        .arg(&image.qcow2)
        .arg(&raw))
    .await?;
    run(tokio::process::Command::new("mount")
        .args(["-o", "loop,ro"])
        .arg(&raw)
        .arg(&mnt))
    .await?;
    let mut tar = tokio::process::Command::new("tar")
        .arg("-C")
        .arg(&mnt)
        .args([
            "--numeric-owner",
            "--xattrs",
            "-c",
            "--exclude=./var/lib/docker/*",
            "--exclude=./boot/*",
            "--exclude=./lost+found",
            ".",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(io("running tar"))?;
    let stdout = tar.stdout.take().expect("piped");
    let body = bollard::body_try_stream(tokio_util::io::ReaderStream::new(stdout));
    let opts = bollard::query_parameters::CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .changes(vec![
            "ENV container=docker".to_string(),
            format!(
                "CMD [\"/bin/sh\", \"-c\", {}]",
                serde_json::to_string(INIT).expect("str")
            ),
        ])
        .build();
    use futures_util::StreamExt;
    let mut stream = docker.create_image(Some(opts), Some(body), None);
    while let Some(item) = stream.next().await {
        item.map_err(docker_err("importing the image"))?;
    }
    let mut err = String::new();
    if let Some(mut e) = tar.stderr.take() {
        let _ = e.read_to_string(&mut err).await;
    }
    let status = tar.wait().await.map_err(io("waiting for tar"))?;
    if !status.success() {
        return Err(DriverError::Tool {
            tool: "tar".into(),
            detail: err.trim().to_string(),
        });
    }
    Ok(())
}

async fn run(cmd: &mut tokio::process::Command) -> Result<(), DriverError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(io("running a tool"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(DriverError::Tool {
        tool: format!("{:?}", cmd.as_std().get_program()),
        detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// One running container, reached over SSH.
pub struct ContainerVm {
    container: Option<ContainerAsync<GenericImage>>,
    id: String,
    host: SshHost,
    tls_port: u16,
    pub up_took: Duration,
    _guard: Guard,
}

impl ContainerVm {
    /// Starts a container of `image` (imported by `ensure_image`), waits for
    /// SSH and for systemd to settle, and brings in the local busybox image.
    pub async fn start(
        image: &Image,
        privileges: &Privileges,
        name: &str,
        timeout: Duration,
    ) -> Result<Self, DriverError> {
        let started = Instant::now();
        let unified = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        if unified && matches!(privileges, Privileges::Listed { .. }) {
            // Without --privileged the cgroup2 mount is read-only, and
            // binding the runner's own tree in would hand the container's
            // systemd the runner's root cgroup.
            return Err(DriverError::Tool {
                tool: "container".into(),
                detail: "this runner has cgroup v2 and dockerd cannot grant every capability, so                          --privileged is out; a systemd container with its own dockerd needs one or the other"
                    .into(),
            });
        }
        let (repo, tag) = tag(image);
        let owner = Owner::current();
        let mut req = GenericImage::new(repo, tag)
            .with_exposed_port(22.tcp())
            .with_exposed_port(2376.tcp())
            .with_wait_for(WaitFor::Nothing)
            .with_container_name(format!("shipshape-{name}"))
            .with_label(OWNER_LABEL, format!("{}:{}", owner.pid, owner.start_time))
            // cgroup v2: a private namespace, as kind runs its nodes; v1 has
            // no cgroup namespaces worth the name for systemd.
            .with_cgroupns_mode(if unified {
                CgroupnsMode::Private
            } else {
                CgroupnsMode::Host
            })
            .with_mount(Mount::tmpfs_mount("/run"))
            .with_mount(Mount::tmpfs_mount("/run/lock"))
            .with_mount(Mount::tmpfs_mount("/tmp"))
            // Anonymous, removed with the container: overlay2 cannot sit on
            // the container's own overlay root.
            .with_mount(Mount::volume_mount("", "/var/lib/docker"))
            .with_startup_timeout(timeout);
        req = match privileges {
            // --privileged mounts the cgroup hierarchies read-write itself.
            Privileges::Full => req.with_privileged(true),
            Privileges::Listed { caps, .. } => {
                // Without --privileged, cgroup v1's hierarchies come
                // read-only: systemd and the nested dockerd need them
                // writable (this runner's case, tested by tests/container.rs).
                let mut r = req.with_mount(Mount::bind_mount("/sys/fs/cgroup", "/sys/fs/cgroup"));
                for c in caps {
                    r = r.with_cap_add(*c);
                }
                r.with_security_opt("seccomp=unconfined")
                    .with_security_opt("apparmor=unconfined")
            }
        };
        let listed = matches!(privileges, Privileges::Listed { .. });
        let req = req.with_host_config_modifier(move |hc| {
            if listed {
                // What the CLI's `systempaths=unconfined` sends: nested
                // dockerd writes /proc/sys (forwarding, bridge settings).
                hc.masked_paths = Some(Vec::new());
                hc.readonly_paths = Some(Vec::new());
            }
            hc.publish_all_ports = Some(false);
            let lo = |p: &str| {
                (
                    p.to_string(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(String::new()),
                    }]),
                )
            };
            hc.port_bindings = Some(HashMap::from([lo("22/tcp"), lo("2376/tcp")]));
            hc.device_cgroup_rules = Some(vec!["a *:* rwm".into()]);
        });
        let container = req.start().await.map_err(|e| DriverError::Tool {
            tool: "docker".into(),
            detail: format!("starting the container: {e}"),
        })?;
        let id = container.id().to_string();
        let mut rm = std::process::Command::new("docker");
        rm.args(["rm", "-f", "-v", &id])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let guard = cleanup::run_on_signal(rm);
        let port = |p: u16| {
            let c = &container;
            async move {
                c.get_host_port_ipv4(p.tcp())
                    .await
                    .map_err(|e| DriverError::Tool {
                        tool: "docker".into(),
                        detail: format!("reading the container's port {p}: {e}"),
                    })
            }
        };
        let ssh_port = port(22).await?;
        let tls_port = port(2376).await?;
        let target = SshTarget {
            host: "127.0.0.1".into(),
            port: ssh_port,
            user: "root".into(),
            key_path: image.client_key.clone(),
            host_key: Some(image.host_key.clone()),
        };
        let session = SshSession::connect_with_backoff(&target, started + timeout)
            .await
            .map_err(Box::new)?;
        let left = (started + timeout).saturating_duration_since(Instant::now());
        // `degraded` still means the boot finished.
        session
            .exec_timeout(crate::shell::WAIT_FOR_BOOT, left)
            .await
            .map_err(Box::new)?;
        let out = session
            .exec_timeout(PROVISION, Duration::from_secs(60))
            .await
            .map_err(Box::new)?;
        if !out.success() {
            return Err(DriverError::Tool {
                tool: "provision".into(),
                detail: format!("{}{}", out.stdout, out.stderr).trim().to_string(),
            });
        }
        let host = SshHost::with_session(target, session, String::new())?;
        Ok(Self {
            container: Some(container),
            id,
            host,
            tls_port,
            up_took: started.elapsed(),
            _guard: guard,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Removes the container and its volume, and waits for it.
    pub async fn destroy(mut self) {
        if let Some(c) = self.container.take() {
            let _ = c.rm().await;
        }
    }
}

/// Dockerd's state starts empty on the container's volume: the busybox image
/// comes back from the tarball the image keeps for this.
const PROVISION: &str = "set -e; systemctl is-active --quiet docker || systemctl start docker; \
docker image inspect busybox:latest >/dev/null 2>&1 || \
docker import --change 'CMD [\"/bin/sh\"]' --change 'ENV PATH=/bin' /opt/shipshape/busybox.tar busybox:latest >/dev/null";

impl crate::driver::Machine for ContainerVm {
    async fn conn(&mut self) -> Result<crate::transport::Conn<'_>, DriverError> {
        crate::driver::Machine::conn(&mut self.host).await
    }

    fn host(&self) -> crate::driver::HostInfo {
        let mut info = crate::driver::Machine::host(&self.host);
        info.docker_tls = ("127.0.0.1".into(), self.tls_port);
        info
    }

    fn how_up(&self) -> String {
        "started".into()
    }

    async fn reset(&mut self) -> Result<crate::driver::Reset, DriverError> {
        // A container is cheaper to start again than to roll back.
        Ok(crate::driver::Reset::Recreate)
    }

    async fn reboot(&mut self, _limit: Duration) -> Result<Duration, DriverError> {
        Err(DriverError::Tool {
            tool: "container".into(),
            detail: "a container cannot reboot (the suite skips scenarios that need one)".into(),
        })
    }

    fn death_report(&mut self) -> Option<String> {
        let out = std::process::Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{.State.Status}} exit {{.State.ExitCode}} {{.State.Error}}",
                &self.id,
            ])
            .output()
            .ok()?;
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (!state.starts_with("running")).then(|| format!("container {}: {state}", self.id))
    }

    async fn destroy(self) {
        ContainerVm::destroy(self).await
    }
}

/// Machines that are systemd containers of shipshape's image of one
/// platform, on the local Docker daemon: a fresh one for every scenario.
pub struct ContainerDriver {
    home: Home,
    platform: Platform,
    privileges: Privileges,
    images: crate::image::Images,
    image: Option<Image>,
}

impl ContainerDriver {
    pub fn new(home: &Home, platform: Platform, images: crate::image::Images) -> Self {
        Self {
            home: home.clone(),
            platform,
            privileges: Privileges::detect(),
            images,
            image: None,
        }
    }
}

impl crate::driver::Driver for ContainerDriver {
    type M = ContainerVm;
    fn id(&self) -> crate::driver::RunId {
        crate::driver::RunId::Container(self.platform)
    }
    fn cannot(&self, need: Need) -> Option<String> {
        cannot(need, &self.privileges)
    }
    fn max_machines(&self) -> usize {
        // One at a time: the containers share this runner's dockerd, and a
        // second one only competes with the first for the same two cores.
        1
    }
    async fn prepare(&mut self) -> Result<(), DriverError> {
        let reaped = reap().await;
        if reaped > 0 {
            eprintln!("removed {reaped} container(s) left by a killed run");
        }
        if let Privileges::Listed { missing, .. } = &self.privileges {
            eprintln!(
                "shipshape test: dockerd's capability bounding set lacks {}: containers get every other capability instead of --privileged",
                missing.join(", ")
            );
        }
        let p = self.platform;
        let progress = crate::progress::Progress::new(&format!("image {p}"));
        let image = self.images.ensure(&self.home, p, &progress).await?;
        progress.stage("container image");
        let tag = ensure_image(&self.home, &image).await?;
        progress.finish(&tag);
        self.image = Some(image);
        Ok(())
    }
    async fn create(&self, seq: usize) -> Result<ContainerVm, DriverError> {
        let image = self.image.as_ref().ok_or(DriverError::NotPrepared)?;
        let name = format!("{}-{}-{seq}", self.platform.name(), std::process::id());
        ContainerVm::start(image, &self.privileges, &name, Duration::from_secs(120)).await
    }
}

/// Removes containers whose owning run is gone (killed with SIGKILL, say).
/// Returns how many.
pub async fn reap() -> usize {
    let Ok(docker) = docker() else { return 0 };
    let opts = bollard::query_parameters::ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&HashMap::from([("label", vec![OWNER_LABEL])]))
        .build();
    let Ok(list) = docker.list_containers(Some(opts)).await else {
        return 0;
    };
    let mut n = 0;
    for c in list {
        let owner = c
            .labels
            .as_ref()
            .and_then(|l| l.get(OWNER_LABEL))
            .and_then(|v| v.split_once(':'))
            .and_then(|(p, s)| {
                Some(Owner {
                    pid: p.parse().ok()?,
                    start_time: s.parse().ok()?,
                })
            });
        if owner.is_some_and(|o| o.alive()) {
            continue;
        }
        if let Some(id) = c.id {
            let opts = bollard::query_parameters::RemoveContainerOptionsBuilder::new()
                .force(true)
                .v(true)
                .build();
            if docker.remove_container(&id, Some(opts)).await.is_ok() {
                n += 1;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rebuilt_image_of_the_same_recipe_gets_its_own_tag() {
        // Each build has its own host key: a container of the old build
        // would offer a key the new image does not pin.
        let a = tag_of(Platform::Debian12, "28caa23ec769", 1_795_911_458);
        let b = tag_of(Platform::Debian12, "28caa23ec769", 1_795_911_999);
        assert_eq!(a.0, "shipshape/debian-12");
        assert_ne!(a.1, b.1);
    }

    #[test]
    fn privileges_follow_the_bounding_set() {
        assert!(matches!(
            Privileges::from_bounding_set(u64::MAX),
            Privileges::Full
        ));
        // This runner's set: everything but CAP_SYS_RESOURCE.
        let p = Privileges::from_bounding_set(0x1fffeffffff);
        match &p {
            Privileges::Listed { caps, missing } => {
                assert_eq!(missing, &["SYS_RESOURCE"]);
                assert_eq!(caps.len(), 37);
                assert!(caps.contains(&"SYS_ADMIN"));
            }
            Privileges::Full => panic!("SYS_RESOURCE is missing"),
        }
        assert!(cannot(Need::RaiseLimits, &p).is_some());
        assert!(cannot(Need::RaiseLimits, &Privileges::Full).is_none());
        assert!(cannot(Need::Reboot, &Privileges::Full).is_some());
    }
}
