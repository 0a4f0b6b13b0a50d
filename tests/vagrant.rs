//! The Vagrant driver for real: vagrant, vagrant-libvirt and libvirt from
//! Debian's packages, a box made from shipshape's debian-12 image, the disk +
//! reboot scenario and a container scenario through `shipshape test --driver
//! vagrant`, and a Ctrl-C during `vagrant up`. libvirtd is started by
//! `.ci/libvirtd start` (idempotent; CI machines have no systemd as PID 1).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use shipshape_harness::driver::vagrant::{self, Provider, RenderInput, VagrantPlatform};
use shipshape_harness::paths::Home;

#[path = "support/ci_daemon.rs"]
mod ci_daemon;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn libvirtd() -> Result<(), Failed> {
    ci_daemon::start("libvirtd")
}

fn virsh(args: &[&str]) -> String {
    let out = Command::new("virsh")
        .args(["-c", "qemu:///system"])
        .args(args)
        .output()
        .expect("virsh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Everything of shipshape's that libvirt and the runner still hold, but the
/// box images (kept on purpose, like the image cache).
fn leftovers(home: &Home) -> Vec<String> {
    let mut left: Vec<String> = virsh(&["list", "--all", "--name"])
        .lines()
        .filter(|l| l.starts_with("shipshape-"))
        .map(|l| format!("domain {l}"))
        .collect();
    left.extend(
        virsh(&["vol-list", "default"])
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|v| v.starts_with("shipshape-") && !v.contains("_vagrant_box_image_"))
            .map(|v| format!("volume {v}")),
    );
    if let Ok(rd) = std::fs::read_dir(vagrant::instances_dir(home)) {
        left.extend(
            rd.flatten()
                .map(|e| format!("folder {}", e.path().display())),
        );
    }
    left
}

fn render_centos() -> Result<(), Failed> {
    let p = VagrantPlatform::load(&repo().join("vagrant/platforms/centos-7.yaml"))?;
    let dir = tempfile::tempdir()?;
    for provider in [Provider::Libvirt, Provider::Virtualbox] {
        let text = vagrant::render(
            &p,
            &RenderInput {
                name: "centos-7-x",
                provider,
                libvirt_driver: "kvm",
                host_key: Path::new("/k/host key"),
                console_log: Path::new("/k/console.log"),
                boot_timeout: Duration::from_secs(600),
            },
        )?;
        for want in [
            r#"m.vm.box = "centos/7""#,
            r#"m.ssh.username = "vagrant""#,
            r#"lv.storage :file, size: "2G", bus: "virtio", serial: "shipshape-data", cache: "unsafe""#,
            r#""createmedium", "disk", "--filename", disk, "--size", 2048"#,
            r#""--storagectl", "IDE""#,
            "docker-ce-19.03.8",
            r#"lv.driver = "kvm""#,
        ] {
            if !text.contains(want) {
                return Err(format!("the rendered Vagrantfile lacks {want:?}:\n{text}").into());
            }
        }
        // Root logs in with no sudo only on shipshape's own boxes.
        if text.contains("sudo_command") {
            return Err("a vagrant-user box must keep sudo".into());
        }
        let f = dir.path().join("Vagrantfile");
        std::fs::write(&f, &text)?;
        let out = Command::new("ruby").arg("-c").arg(&f).output()?;
        if !String::from_utf8_lossy(&out.stdout).contains("Syntax OK") {
            return Err(format!(
                "ruby -c refuses the rendered Vagrantfile: {}\n{text}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
    }
    Ok(())
}

fn bad_platform_file(home: &Home) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let f = dir.path().join("typo.yaml");
    std::fs::write(
        &f,
        "name: x\nbox: centos/7\nssh_user: vagrant\nmemroy_mb: 4096\ndata_disk:\n  libvirt: /dev/vdb\n",
    )?;
    let before = leftovers(home);
    let out = Command::new(env!("CARGO_BIN_EXE_shipshape"))
        .args(["test", "--driver", "vagrant", "--vagrant-platform"])
        .arg(&f)
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(2) {
        return Err(format!("exit {:?}, expected 2: {err}", out.status.code()).into());
    }
    for want in [format!("{}:4:1", f.display()), "memroy_mb".into()] {
        if !err.contains(&want) {
            return Err(format!("the error does not point at {want:?}: {err}").into());
        }
    }
    if leftovers(home) != before {
        return Err("a bad platform file left something behind".into());
    }
    Ok(())
}

fn scenarios_through_vagrant(home: &Home) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let junit = dir.path().join("vagrant.xml");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_shipshape"))
        .args([
            "test",
            "--driver",
            "vagrant",
            "--platform",
            "debian-12",
            "--scenario",
            "docker-root-mount",
            "--scenario",
            "default-ulimits",
            "--junit",
        ])
        .arg(&junit)
        .current_dir(repo())
        .stdin(Stdio::null())
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("{err}");
    eprintln!("through Vagrant in {:.0}s", started.elapsed().as_secs_f64());
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    if !out.status.success() {
        return Err(format!(
            "shipshape test exited {:?}:\n{err}\n{xml}",
            out.status.code()
        )
        .into());
    }
    for want in [
        r#"<testsuite name="debian-12-vagrant" tests="2" skipped="0" errors="0" failures="0""#,
        r#"<testcase name="docker-root-mount""#,
        r#"<testcase name="default-ulimits""#,
        // The added disk, found by its serial, carries Docker's root after a
        // real reboot (a new boot id).
        "is the data disk /dev/disk/by-id/virtio-shipshape-data",
        "shipshape-data",
        "reboot [ok]",
        // The limits are read from a new container's /proc/PID/limits.
        "Max open files",
    ] {
        if !xml.contains(want) {
            return Err(format!("the JUnit report lacks {want:?}:\n{xml}").into());
        }
    }
    let left = leftovers(home);
    if !left.is_empty() {
        return Err(format!("left behind after the run: {left:?}").into());
    }
    Ok(())
}

fn sigint_during_up(home: &Home) -> Result<(), Failed> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shipshape"))
        .args([
            "test",
            "--driver",
            "vagrant",
            "--scenario",
            "default-ulimits",
            "--junit",
            "/dev/null",
        ])
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let domain = format!("shipshape-debian-12-{}-0", child.id());
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if virsh(&["list", "--name"]).lines().any(|l| l == domain) {
            break;
        }
        if let Some(st) = child.try_wait()? {
            return Err(format!("shipshape exited ({st}) before {domain} ran").into());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!("{domain} never showed as running").into());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // SAFETY: a signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let signalled = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if signalled.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            return Err("shipshape did not exit within 120 s of SIGINT".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "SIGINT during vagrant up: exit {:?} after {:.1}s",
        status.code(),
        signalled.elapsed().as_secs_f64()
    );
    if status.code() != Some(130) {
        return Err(format!("exit {:?}, expected 130", status.code()).into());
    }
    let left = leftovers(home);
    if !left.is_empty() {
        return Err(format!("left behind after SIGINT: {left:?}").into());
    }
    // A killed process may take a moment to be reaped by init.
    let mut alive = pgrep_vagrant();
    for _ in 0..50 {
        if alive.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        alive = pgrep_vagrant();
    }
    if !alive.is_empty() {
        return Err(format!("vagrant processes outlived the run:\n{alive}").into());
    }
    Ok(())
}

fn pgrep_vagrant() -> String {
    Command::new("pgrep")
        .args(["-a", "-f", "vagrant (up|destroy|ssh-config)"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn main() {
    let mut args = Arguments::from_args();
    // In order, one at a time: they share libvirt and check what it holds.
    args.test_threads = Some(1);
    let home = Home::from_env();
    let h = home.clone();
    let h2 = home.clone();
    let h3 = home.clone();
    let trials = vec![
        Trial::test(
            "centos_7_platform_renders_a_vagrantfile_ruby_accepts",
            render_centos,
        ),
        Trial::test(
            "a_bad_platform_file_is_refused_before_anything_starts",
            move || {
                libvirtd()?;
                bad_platform_file(&h)
            },
        ),
        Trial::test(
            "disk_reboot_and_container_scenarios_pass_through_vagrant_and_nothing_is_left",
            move || {
                libvirtd()?;
                scenarios_through_vagrant(&h2)
            },
        ),
        Trial::test("sigint_during_vagrant_up_destroys_the_machine", move || {
            libvirtd()?;
            sigint_during_up(&h3)
        }),
    ];
    libtest_mimic::run(&args, trials).exit();
}
