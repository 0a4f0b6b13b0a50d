//! Lifecycle tests against a really booted VM: the SSH transport, reboot,
//! reset, the data disk, and cleanup on signals. One VM is booted for the
//! whole file and reset to its snapshot before each test.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use shipshape_harness::driver::{BootOptions, DriverError, QemuVm};
use shipshape_harness::image::Image;
use shipshape_harness::paths::Home;
use shipshape_harness::platform::Platform;
use shipshape_harness::progress::Progress;
use shipshape_harness::transport::{SshError, SshSession, SshTarget};

type Fut<'a> = Pin<Box<dyn Future<Output = Result<(), Failed>> + 'a>>;

struct Fixture {
    rt: tokio::runtime::Runtime,
    home: Home,
    platform: Platform,
    image: Mutex<Option<Image>>,
    vm: Mutex<Option<QemuVm>>,
    /// Tests running now: the final check waits until it is the only one.
    running: std::sync::atomic::AtomicUsize,
}

/// Counts a running test, until dropped (a panic included).
struct Running<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Fixture {
    fn image(&self) -> Result<Image, Failed> {
        let mut slot = self.image.lock().unwrap();
        if slot.is_none() {
            let progress = Progress::new(&format!("image {}", self.platform));
            let img = self
                .rt
                .block_on(shipshape_harness::bake::ensure(
                    &self.home,
                    self.platform,
                    &progress,
                ))
                .map_err(|e| format!("image build failed: {e}"))?;
            *slot = Some(img);
        }
        Ok(slot.clone().unwrap())
    }

    /// Runs `f` on the shared VM, booting it on first use and resetting it
    /// to the clean snapshot otherwise.
    fn with_vm(&self, f: impl for<'a> FnOnce(&'a mut QemuVm) -> Fut<'a>) -> Result<(), Failed> {
        let image = self.image()?;
        let mut slot = self.vm.lock().unwrap_or_else(|e| e.into_inner());
        self.rt.block_on(async {
            match slot.as_mut() {
                Some(vm) => {
                    vm.reset().await.map_err(|e| format!("reset failed: {e}"))?;
                }
                None => {
                    let name = format!("test-vm-{}", std::process::id());
                    let vm = QemuVm::boot(&self.home, &image, BootOptions::new(name))
                        .await
                        .map_err(|e| format!("boot failed: {e}"))?;
                    *slot = Some(vm);
                }
            }
            f(slot.as_mut().unwrap()).await
        })
    }
}

impl Fixture {
    /// The shared VM's instance folder (booting it if needed).
    fn with_vm_dir(&self) -> Result<PathBuf, Failed> {
        let dir = Mutex::new(PathBuf::new());
        self.with_vm(|vm| {
            *dir.lock().unwrap() = vm.record.dir.clone();
            Box::pin(async { Ok(()) })
        })?;
        Ok(dir.into_inner().unwrap())
    }
}

/// Starts `shipshape vm up <platform> --name NAME` and returns once QEMU has
/// written its pid (the boot is still under way).
fn vm_up_until_qemu_runs(fx: &Fixture, name: &str) -> Result<(std::process::Child, i32), Failed> {
    let inst = fx.home.instances().join(name);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_shipshape"))
        .args(["vm", "up", fx.platform.name(), "--name", name])
        .env("SHIPSHAPE_HOME", fx.home.root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pid = std::fs::read_to_string(inst.join("qemu.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        if let Some(pid) = pid {
            return Ok((child, pid));
        }
        check(Instant::now() < deadline, "QEMU never started")?;
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn check(cond: bool, msg: impl Into<String>) -> Result<(), Failed> {
    if cond {
        Ok(())
    } else {
        Err(msg.into().into())
    }
}

fn qemu_processes_under(home: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.starts_with("qemu-system") && cmdline.contains(&*home.to_string_lossy()) {
            found.push(format!(
                "{}: {}",
                entry.file_name().to_string_lossy(),
                &cmdline[..cmdline.len().min(120)]
            ));
        }
    }
    found
}

/// Scenarios that break their own machine, run by `shipshape test` in one
/// invocation with one worker: QEMU killed mid-step, SSH dropped
/// mid-command, a reboot that halts. Each must come out as a JUnit error
/// naming its cause, and the scenario after it must still run and pass.
fn faults(fx: &Fixture) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let scen = dir.path().join("scenarios");
    std::fs::create_dir_all(&scen)?;
    let files = [
        (
            "a-killed.yaml",
            "control: audit-dockerd\ndescription: the VM is killed while a step runs\nprepare:\n  - name: wait to be killed\n    run: |\n      echo shipshape-fault-kill-me > /dev/ttyS0; sleep 600\n    timeout: 900\n",
        ),
        (
            "b-ssh-drop.yaml",
            // `[s]shd` keeps pkill from matching the shell that runs it.
            "control: audit-dockerd\ndescription: the SSH connection drops mid-command\nprepare:\n  - name: the session sshd dies\n    run: |\n      sleep 1; pkill -KILL -f '[s]shd.*: root@notty'; sleep 30\n",
        ),
        (
            "c-reboot-halts.yaml",
            "control: audit-dockerd\ndescription: the reboot after the fix halts the machine\nprepare:\n  - name: reboot.target halts instead\n    run: ln -sf /lib/systemd/system/halt.target /etc/systemd/system/reboot.target && systemctl daemon-reload\nafter_fix: reboot\nreboot_timeout: 60\n",
        ),
        (
            "z-fine.yaml",
            "control: no-aufs\ndescription: runs after the faults\nexpect_before: pass\nfix: false\nverify:\n  - name: the storage driver is overlay2\n    run: docker info -f '{{.Driver}}'\n    stdout: ^overlay2\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(scen.join(name), text)?;
    }
    let junit = dir.path().join("faults.xml");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shipshape"))
        .args(["test", "--jobs", "1", "--scenarios-dir"])
        .arg(&scen)
        .arg("--junit")
        .arg(&junit)
        .env("SHIPSHAPE_HOME", fx.home.root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let prefix = format!("test-{}-{}-", fx.platform, child.id());
    // Kill the VM once the guest says the step is running (on its console).
    let deadline = Instant::now() + Duration::from_secs(600);
    let killed = loop {
        check(Instant::now() < deadline, "the kill step never started")?;
        if let Ok(Some(st)) = child.try_wait() {
            return Err(format!("shipshape test ended before the kill: {st}").into());
        }
        let hit = std::fs::read_dir(fx.home.instances())?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .find(|e| {
                std::fs::read_to_string(e.path().join("console.log"))
                    .is_ok_and(|c| c.contains("shipshape-fault-kill-me"))
            });
        if let Some(e) = hit {
            let pid: i32 = std::fs::read_to_string(e.path().join("qemu.pid"))?
                .trim()
                .parse()?;
            unsafe { libc::kill(pid, libc::SIGKILL) };
            break pid;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    check(
        out.status.code() == Some(1),
        format!("exit {:?}: {stderr}", out.status.code()),
    )?;
    let xml = std::fs::read_to_string(&junit)?;
    let case = |name: &str| -> String {
        xml.split("<testcase ")
            .find(|c| c.contains(&format!("name=\"{name}\"")))
            .map(|c| {
                c.split("</testcase>")
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .unwrap_or_default()
    };
    for (name, needles) in [
        (
            "a-killed",
            &[
                "<error",
                "QEMU exited",
                "signal: 9",
                "shipshape-fault-kill-me",
            ][..],
        ),
        (
            "b-ssh-drop",
            &["<error", "the session sshd dies", "connection"][..],
        ),
        (
            "c-reboot-halts",
            &["<error", "reboot did not finish within 60s", "console tail"][..],
        ),
    ] {
        let c = case(name);
        let missing: Vec<&&str> = needles.iter().filter(|n| !c.contains(*n)).collect();
        check(
            missing.is_empty(),
            format!("{name}: {missing:?} missing in\n{c}"),
        )?;
    }
    let fine = case("z-fine");
    check(
        !fine.is_empty() && !fine.contains("<error") && !fine.contains("<failure"),
        format!("the scenario after the faults did not pass:\n{fine}"),
    )?;
    check(
        !shipshape_harness::cleanup::pid_alive(killed),
        "the killed QEMU is still there",
    )?;
    let left: Vec<String> = std::fs::read_dir(fx.home.instances())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    check(left.is_empty(), format!("instances left behind: {left:?}"))?;
    let procs = qemu_processes_under(fx.home.root());
    let stray: Vec<&String> = procs.iter().filter(|p| p.contains(&prefix)).collect();
    check(stray.is_empty(), format!("QEMU left running: {stray:?}"))
}

/// Processes of an image build under `images`, by command line, working
/// folder or chroot.
fn build_processes(images: &std::path::Path) -> Vec<String> {
    let prefix = format!("{}/.build-", images.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let p = entry.path();
        let cmdline = std::fs::read(p.join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        let link = |n: &str| {
            std::fs::read_link(p.join(n))
                .map(|l| l.display().to_string())
                .unwrap_or_default()
        };
        let root = link("root");
        let how = if root.starts_with(&prefix) {
            "chrooted"
        } else if cmdline.contains(&prefix) || link("cwd").starts_with(&prefix) {
            "runs in it"
        } else {
            continue;
        };
        found.push(format!(
            "{} ({how}): {}",
            entry.file_name().to_string_lossy(),
            &cmdline[..cmdline.len().min(100)]
        ));
    }
    found
}

fn main() {
    let mut args = Arguments::from_args();
    // One VM, shared by every test but the fault test, which runs beside them.
    args.test_threads = Some(args.test_threads.unwrap_or(2));
    let platform: Platform = std::env::var("SHIPSHAPE_TEST_PLATFORM")
        .unwrap_or_else(|_| "debian-12".into())
        .parse()
        .expect("SHIPSHAPE_TEST_PLATFORM");
    let fx = Arc::new(Fixture {
        rt: tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
        home: Home::from_env(),
        platform,
        image: Mutex::new(None),
        vm: Mutex::new(None),
        running: std::sync::atomic::AtomicUsize::new(0),
    });
    macro_rules! trial {
        ($name:expr, $body:expr) => {{
            let fx = fx.clone();
            let body = $body;
            Trial::test($name, move || {
                fx.running.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _running = Running(&fx.running);
                body(&fx)
            })
        }};
    }

    let trials = vec![
        // First, so that it runs beside the shared-VM tests (two threads):
        // it boots its own VMs through the CLI.
        trial!(
            "faults_become_errors_with_their_cause_and_the_run_goes_on",
            |fx: &Fixture| {
                fx.image()?;
                faults(fx)
            }
        ),
        trial!(
            "ssh_exec_returns_stdout_stderr_and_exit_status",
            |fx: &Fixture| {
                fx.with_vm(|vm| {
                    Box::pin(async move {
                        let s = vm.ssh().await?;
                        let out = s.exec("echo out; echo err >&2; exit 7").await?;
                        check(out.stdout == "out\n", format!("stdout {:?}", out.stdout))?;
                        check(out.stderr == "err\n", format!("stderr {:?}", out.stderr))?;
                        check(out.status == 7, format!("status {}", out.status))?;
                        let out = s.exec("test -b /dev/sda && echo root-disk").await?;
                        check(
                            out.success() && out.stdout.trim() == "root-disk",
                            "no /dev/sda",
                        )?;
                        let out = s.exec("false").await?;
                        check(out.status == 1, format!("`false` gave {}", out.status))
                    })
                })
            }
        ),
        trial!(
            "ssh_timed_out_command_is_gone_on_the_guest",
            |fx: &Fixture| {
                fx.with_vm(|vm| Box::pin(async move {
                let s = vm.ssh().await?;
                let started = Instant::now();
                let r = s
                    .exec_timeout("echo $$ > /tmp/sleeper.pid; sleep 300", Duration::from_secs(2))
                    .await;
                check(
                    matches!(r, Err(SshError::CommandTimeout { .. })),
                    format!("expected a timeout error, got {r:?}"),
                )?;
                check(started.elapsed() < Duration::from_secs(15), "timeout took too long")?;
                let out = s
                    .exec("pid=$(cat /tmp/sleeper.pid); if kill -0 $pid 2>/dev/null; then echo alive; else echo gone; fi; ps -eo pid,args | grep '[s]leep 300' || true")
                    .await?;
                check(out.stdout.trim() == "gone", format!("the command still runs on the guest: {:?}", out.stdout))
            }))
            }
        ),
        trial!("ssh_upload_round_trip", |fx: &Fixture| {
            fx.with_vm(|vm| {
                Box::pin(async move {
                    let s = vm.ssh().await?;
                    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
                    s.upload(&data, "/root/blob.bin", 0o640).await?;
                    let back = s.download("/root/blob.bin").await?;
                    check(
                        back == data,
                        format!(
                            "downloaded {} bytes differ from the {} uploaded",
                            back.len(),
                            data.len()
                        ),
                    )?;
                    let out = s
                        .exec("stat -c %a /root/blob.bin; sha256sum /root/blob.bin | cut -c1-64")
                        .await?;
                    use sha2::Digest;
                    let want = hex::encode(sha2::Sha256::digest(&data));
                    check(
                        out.stdout == format!("640\n{want}\n"),
                        format!("mode/hash on guest: {:?}", out.stdout),
                    )
                })
            })
        }),
        trial!("ssh_wrong_host_key_is_refused", |fx: &Fixture| {
            fx.with_vm(|vm| {
                Box::pin(async move {
                    let dir = tempfile::tempdir()?;
                    let key = dir.path().join("other");
                    let st = std::process::Command::new("ssh-keygen")
                        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                        .arg(&key)
                        .status()?;
                    check(st.success(), "ssh-keygen failed")?;
                    let other = shipshape_harness::transport::ssh::parse_public_key(
                        &std::fs::read_to_string(key.with_extension("pub"))?,
                    )?;
                    let mut target: SshTarget = vm.ssh_target().clone();
                    target.host_key = Some(other);
                    let r = SshSession::connect(&target, Duration::from_secs(15)).await;
                    match r {
                        Err(e @ SshError::HostKeyMismatch { .. }) => {
                            let msg = e.to_string();
                            check(
                                msg.contains("host key mismatch") && msg.contains("SHA256:"),
                                msg,
                            )
                        }
                        Err(e) => Err(format!("expected a host key mismatch, got: {e}").into()),
                        Ok(_) => Err("connected despite a wrong pinned host key".into()),
                    }
                })
            })
        }),
        trial!(
            "reboot_gives_a_new_boot_id_and_keeps_sdb",
            |fx: &Fixture| {
                fx.with_vm(|vm| {
                    Box::pin(async move {
                        let before = vm.boot_id().await?;
                        let took = vm.reboot(Duration::from_secs(240)).await?;
                        let after = vm.boot_id().await?;
                        check(before != after, "boot_id did not change")?;
                        // Still root on sda and the added disk on sdb.
                        let out = vm
                            .exec("lsblk -bdno SIZE,SERIAL /dev/sdb; findmnt -no SOURCE /")
                            .await?;
                        check(
                            out.success()
                                && out.stdout.split_whitespace().collect::<Vec<_>>()
                                    == [
                                        (2u64 << 30).to_string().as_str(),
                                        "shipshape-data",
                                        "/dev/sda",
                                    ],
                            format!("disks after reboot: {:?} {:?}", out.stdout, out.stderr),
                        )?;
                        eprintln!("    reboot took {:.1}s", took.as_secs_f64());
                        Ok(())
                    })
                })
            }
        ),
        trial!(
            "reboot_that_never_returns_fails_with_the_console_tail",
            |fx: &Fixture| {
                fx.with_vm(|vm| {
                    Box::pin(async move {
                        let started = Instant::now();
                        let r = vm
                            .reboot_with("systemctl halt", Duration::from_secs(45))
                            .await;
                        match r {
                            Err(DriverError::Timeout { what, console, .. }) => {
                                check(what == "reboot", format!("timeout of {what}"))?;
                                check(
                                    started.elapsed() < Duration::from_secs(60),
                                    "took far longer than its timeout",
                                )?;
                                check(
                                    console.contains("halt") || console.contains("Halt"),
                                    format!("console tail does not show the halt:\n{console}"),
                                )
                            }
                            other => {
                                Err(format!("expected a reboot timeout, got {other:?}").into())
                            }
                        }
                    })
                })
            }
        ),
        trial!(
            "reset_removes_a_marker_file_and_ssh_works",
            |fx: &Fixture| {
                fx.with_vm(|vm| {
                    Box::pin(async move {
                        vm.exec("echo mark > /root/marker && sync").await?;
                        let took = vm.reset().await?;
                        let out = vm
                            .exec("test -e /root/marker && echo present || echo absent")
                            .await?;
                        check(out.stdout.trim() == "absent", "marker survived the reset")?;
                        // A benchmark figure (`shipshape bench reset`), not an
                        // assertion: on a loaded machine it would be flaky.
                        eprintln!("    reset took {:.2}s", took.as_secs_f64());
                        Ok(())
                    })
                })
            }
        ),
        trial!(
            "data_disk_is_an_empty_scsi_disk_of_the_configured_size",
            |fx: &Fixture| {
                fx.with_vm(|vm| Box::pin(async move {
                let d = shipshape_harness::driver::qemu::DATA_DISK;
                let out = vm.exec(&format!("lsblk -bdno SIZE,TRAN,TYPE {d}; blkid -p {d}; echo blkid=$?; lsblk -dno SERIAL $(findmnt -no SOURCE /); readlink -f {d}; findmnt -no SOURCE /")).await?;
                let norm: Vec<String> = out.stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
                let lines: Vec<&str> = norm.iter().map(String::as_str).collect();
                check(lines.len() == 5, format!("unexpected output {:?}", out.stdout))?;
                check(lines[0].starts_with(&format!("{} ", 2u64 << 30)) && lines[0].ends_with("disk"), format!("data disk line {:?}", lines[0]))?;
                // blkid -p exits 2 when it finds no signature: an empty disk.
                check(lines[1] == "blkid=2", format!("data disk is not empty: {:?}", lines[1]))?;
                check(lines[2] == "root", format!("root disk serial {:?}", lines[2]))?;
                // As in the seed: root on /dev/sda, the added disk /dev/sdb.
                check(lines[3] == "/dev/sdb", format!("data disk is {:?}", lines[3]))?;
                check(lines[4] == "/dev/sda", format!("root is on {:?}", lines[4]))
            }))
            }
        ),
        trial!(
            "a_resumed_boot_is_its_own_vm_with_the_hosts_clock",
            |fx: &Fixture| {
                // The shared VM exists first: its boot saved the template
                // (or found it), and it carries a marker the copy must not see.
                fx.with_vm(|vm| {
                    Box::pin(async move {
                        vm.exec("touch /root/only-in-the-first").await?;
                        Ok(())
                    })
                })?;
                let image = fx.image()?;
                fx.rt.block_on(async {
                    let name = format!("test-vm-warm-{}", std::process::id());
                    let t = Instant::now();
                    let mut vm = QemuVm::boot(&fx.home, &image, BootOptions::new(name))
                        .await
                        .map_err(|e| format!("boot failed: {e}"))?;
                    let took = t.elapsed();
                    check(vm.resumed, "the second VM booted cold: no saved boot was resumed")?;
                    let host_now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)?
                        .as_secs() as i64;
                    let out = vm
                        .exec("date +%s; test -e /root/only-in-the-first && echo shared; readlink -f /dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_shipshape-data; systemctl is-system-running; docker run --rm busybox echo container-ok")
                        .await?;
                    let lines: Vec<&str> = out.stdout.lines().collect();
                    let guest_now: i64 = lines.first().and_then(|l| l.parse().ok()).unwrap_or(0);
                    check((guest_now - host_now).abs() <= 10, format!("guest clock {guest_now}, host {host_now}"))?;
                    check(
                        lines[1..] == ["/dev/sdb", "running", "container-ok"],
                        format!("resumed VM: {:?} {:?}", out.stdout, out.stderr),
                    )?;
                    vm.reset().await.map_err(|e| format!("reset of the resumed VM: {e}"))?;
                    let dir = vm.record.dir.clone();
                    vm.destroy().await;
                    check(!dir.exists(), format!("{} was left behind", dir.display()))?;
                    eprintln!("    resumed in {:.1}s", took.as_secs_f64());
                    Ok(())
                })
            }
        ),
        trial!(
            "sigint_during_a_step_stops_the_vm_and_removes_its_folder",
            |fx: &Fixture| {
                fx.image()?;
                let dir = tempfile::tempdir()?;
                std::fs::write(
                    dir.path().join("long.yaml"),
                    "control: audit-dockerd\ndescription: a step that outlasts the run\nprepare:\n  - name: wait\n    run: |\n      echo shipshape-step-running > /dev/ttyS0; sleep 600\n    timeout: 900\n",
                )?;
                let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shipshape"))
                    .args(["test", "--jobs", "1", "--scenarios-dir"])
                    .arg(dir.path())
                    .arg("--junit")
                    .arg(dir.path().join("j.xml"))
                    .env("SHIPSHAPE_HOME", fx.home.root())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()?;
                let prefix = format!("test-{}-{}-", fx.platform, child.id());
                let mine = |fx: &Fixture| -> Vec<String> {
                    qemu_processes_under(fx.home.root())
                        .into_iter()
                        .filter(|p| p.contains(&prefix))
                        .collect()
                };
                let deadline = Instant::now() + Duration::from_secs(300);
                loop {
                    check(Instant::now() < deadline, "the step never started")?;
                    if let Some(st) = child.try_wait()? {
                        return Err(format!("shipshape test ended first: {st}").into());
                    }
                    let running = std::fs::read_dir(fx.home.instances())?.flatten().any(|e| {
                        e.file_name().to_string_lossy().starts_with(&prefix)
                            && std::fs::read_to_string(e.path().join("console.log"))
                                .is_ok_and(|c| c.contains("shipshape-step-running"))
                    });
                    if running {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                let before = mine(fx).len();
                unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
                let status = child.wait()?;
                check(status.code() == Some(130), format!("exit {status:?}"))?;
                let after = mine(fx);
                check(
                    before == 1 && after.is_empty(),
                    format!("QEMU of this run: {before} before the interrupt, after: {after:?}"),
                )?;
                let left: Vec<String> = std::fs::read_dir(fx.home.instances())?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&prefix))
                    .collect();
                check(left.is_empty(), format!("instance folders left: {left:?}"))
            }
        ),
        trial!("private_keys_are_0600_in_0700_folders", |fx: &Fixture| {
            let image = fx.image()?;
            let dir = fx.with_vm_dir()?;
            let mode = |p: &std::path::Path| -> Result<u32, Failed> {
                Ok(std::fs::metadata(p)
                    .map_err(|e| format!("{}: {e}", p.display()))?
                    .permissions()
                    .mode()
                    & 0o777)
            };
            for (path, want) in [
                (image.client_key.clone(), 0o600),
                (image.dir.clone(), 0o700),
                (fx.home.images(), 0o700),
                (fx.home.instances(), 0o700),
                (dir, 0o700),
            ] {
                let got = mode(&path)?;
                check(
                    got == want,
                    format!("{} is {got:o}, not {want:o}", path.display()),
                )?;
            }
            Ok(())
        }),
        trial!(
            "sigint_during_an_image_build_stops_its_processes_and_keeps_the_old_image",
            |fx: &Fixture| {
                let image = fx.image()?;
                let meta = std::fs::read(image.dir.join("image.json"))?;
                let images = fx.home.images();
                let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shipshape"))
                    .args(["image", "build", fx.platform.name(), "--force"])
                    .env("SHIPSHAPE_HOME", fx.home.root())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()?;
                // Interrupt once debootstrap's second stage runs commands
                // chrooted into the new tree (its proc mount is up then).
                let deadline = Instant::now() + Duration::from_secs(400);
                let before = loop {
                    let procs = build_processes(&images);
                    if procs.iter().any(|p| p.contains("chrooted")) {
                        break procs;
                    }
                    if let Some(st) = child.try_wait()? {
                        return Err(format!("the build ended before the interrupt: {st}").into());
                    }
                    check(
                        Instant::now() < deadline,
                        "the build never reached its chroot",
                    )?;
                    std::thread::sleep(Duration::from_millis(250));
                };
                let mounted = shipshape_harness::cleanup::mounts_under(&images).len();
                unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
                let deadline = Instant::now() + Duration::from_secs(60);
                let status = loop {
                    if let Some(st) = child.try_wait()? {
                        break st;
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        return Err("the interrupted build did not exit within 60 s".into());
                    }
                    std::thread::sleep(Duration::from_millis(100));
                };
                check(status.code() == Some(130), format!("exit {status:?}"))?;
                let after = build_processes(&images);
                check(
                    after.is_empty(),
                    format!(
                        "{} build processes before the interrupt; left: {after:?}",
                        before.len()
                    ),
                )?;
                let mounts: Vec<PathBuf> = shipshape_harness::cleanup::mounts_under(&images);
                check(mounts.is_empty(), format!("mounts left: {mounts:?}"))?;
                let left: Vec<String> = std::fs::read_dir(&images)?
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(".build-"))
                    .collect();
                check(left.is_empty(), format!("build folders left: {left:?}"))?;
                check(
                    std::fs::read(image.dir.join("image.json"))? == meta
                        && Image::load(&image.dir).is_ok(),
                    "the existing image changed",
                )?;
                eprintln!(
                    "    {} build processes stopped, {mounted} mounts detached",
                    before.len()
                );
                Ok(())
            }
        ),
        trial!(
            "a_second_sigint_exits_at_once_and_qemu_still_goes",
            |fx: &Fixture| {
                fx.image()?;
                let name = format!("dbl-{}", std::process::id());
                let inst = fx.home.instances().join(&name);
                let (mut child, pid) = vm_up_until_qemu_runs(fx, &name)?;
                let sent = Instant::now();
                unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
                std::thread::sleep(Duration::from_millis(20));
                unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
                let status = child.wait()?;
                check(status.code() == Some(130), format!("exit {status:?}"))?;
                // Forced means no teardown: QEMU goes with the process
                // (PR_SET_PDEATHSIG), and the next run reaps the folder.
                let deadline = Instant::now() + Duration::from_secs(10);
                while shipshape_harness::cleanup::pid_alive(pid) {
                    check(
                        Instant::now() < deadline,
                        format!("QEMU {pid} outlived the forced exit"),
                    )?;
                    std::thread::sleep(Duration::from_millis(100));
                }
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipshape"))
                    .args(["vm", "list"])
                    .env("SHIPSHAPE_HOME", fx.home.root())
                    .output()?;
                check(
                    !inst.exists(),
                    format!(
                        "{} was not reaped: {}",
                        inst.display(),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                )?;
                eprintln!(
                    "    forced exit {:.2}s after the first SIGINT",
                    sent.elapsed().as_secs_f64()
                );
                Ok(())
            }
        ),
        trial!(
            "sigterm_during_boot_stops_qemu_and_removes_the_overlay",
            |fx: &Fixture| {
                fx.image()?;
                let name = format!("sigterm-{}", std::process::id());
                let inst = fx.home.instances().join(&name);
                let (mut child, pid) = vm_up_until_qemu_runs(fx, &name)?;
                check(
                    std::path::Path::new(&format!("/proc/{pid}")).exists(),
                    "QEMU not running",
                )?;
                unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
                let status = child.wait()?;
                check(
                    status.code() == Some(143),
                    format!("exit status {status:?}"),
                )?;
                check(
                    !shipshape_harness::cleanup::pid_alive(pid),
                    format!("QEMU {pid} still runs"),
                )?;
                check(
                    !inst.exists(),
                    format!("{} was left behind", inst.display()),
                )
            }
        ),
        trial!("a_killed_run_is_reaped_by_the_next_one", |fx: &Fixture| {
            fx.image()?;
            let name = format!("killed-{}", std::process::id());
            let inst = fx.home.instances().join(&name);
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shipshape"))
                .args(["vm", "up", "debian-12", "--name", &name])
                .env("SHIPSHAPE_HOME", fx.home.root())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()?;
            let deadline = Instant::now() + Duration::from_secs(30);
            let pid = loop {
                let rec = std::fs::read_to_string(inst.join("instance.json")).ok();
                let pid = rec
                    .and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
                    .and_then(|v| v["qemu_pid"].as_i64());
                if let Some(pid) = pid {
                    break pid as i32;
                }
                check(Instant::now() < deadline, "QEMU never started")?;
                std::thread::sleep(Duration::from_millis(100));
            };
            child.kill()?; // SIGKILL: no handler runs
            child.wait()?;
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipshape"))
                .args(["vm", "list"])
                .env("SHIPSHAPE_HOME", fx.home.root())
                .output()?;
            let stderr = String::from_utf8_lossy(&out.stderr);
            check(
                stderr.contains("reaped") && stderr.contains(&name),
                format!("no reap reported: {stderr}"),
            )?;
            check(
                !shipshape_harness::cleanup::pid_alive(pid),
                format!("QEMU {pid} still runs"),
            )?;
            check(
                !inst.exists(),
                format!("{} was left behind", inst.display()),
            )
        }),
        trial!(
            "zz_no_qemu_process_is_left_after_the_tests",
            |fx: &Fixture| {
                // Last in the list, so every other test has started; two run
                // at a time, so wait for the other one to end.
                while fx.running.load(std::sync::atomic::Ordering::SeqCst) > 1 {
                    std::thread::sleep(Duration::from_millis(200));
                }
                let vm = fx.vm.lock().unwrap_or_else(|e| e.into_inner()).take();
                let dir: Option<PathBuf> = vm.as_ref().map(|v| v.record.dir.clone());
                if let Some(vm) = vm {
                    fx.rt.block_on(vm.destroy());
                }
                // Only this run's instances: another run may share the home.
                let pid = std::process::id();
                let left: Vec<String> = qemu_processes_under(fx.home.root())
                    .into_iter()
                    .filter(|p| {
                        ["test-vm", "test-vm-warm", "sigterm", "killed", "dbl"]
                            .iter()
                            .any(|n| p.contains(&format!("shipshape-{n}-{pid} ")))
                    })
                    .collect();
                check(left.is_empty(), format!("QEMU processes left: {left:?}"))?;
                if let Some(dir) = dir {
                    check(!dir.exists(), format!("{} was left behind", dir.display()))?;
                }
                Ok(())
            }
        ),
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    // Whatever was filtered, the shared VM goes down with the test binary.
    if let Some(vm) = fx.vm.lock().unwrap_or_else(|e| e.into_inner()).take() {
        fx.rt.block_on(vm.destroy());
    }
    conclusion.exit();
}
