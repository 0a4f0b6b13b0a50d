//! Picks QEMU's accelerator by trying it. On some hosts `/dev/kvm` exists but
//! cannot run a stock kernel (a PVM variant): QEMU starts, and the guest never
//! prints a line. So KVM counts as working only if a real kernel, booted under
//! it, reaches its first console line in time.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn qemu_arg(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg,thread=multi",
        }
    }
}

/// How long a kernel under a working KVM takes to print "Linux version" is
/// well under a second; a PVM host never prints it.
const PROBE_LIMIT: Duration = Duration::from_secs(6);

/// The accelerator to use, probed once per host boot and cached in `cache_dir`.
/// `SHIPSHAPE_ACCEL=kvm|tcg` overrides the probe.
pub fn choose(kernel: &Path, cache_dir: &Path) -> Accel {
    match std::env::var("SHIPSHAPE_ACCEL").as_deref() {
        Ok("kvm") => return Accel::Kvm,
        Ok("tcg") => return Accel::Tcg,
        _ => {}
    }
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let cache = cache_dir.join("accel");
    if let Ok(text) = std::fs::read_to_string(&cache) {
        if let Some((id, accel)) = text.split_once(' ') {
            if id == boot_id.trim() {
                match accel.trim() {
                    "kvm" => return Accel::Kvm,
                    "tcg" => return Accel::Tcg,
                    _ => {}
                }
            }
        }
    }
    let accel = if probe_kvm(kernel) {
        Accel::Kvm
    } else {
        Accel::Tcg
    };
    let word = if accel == Accel::Kvm { "kvm" } else { "tcg" };
    let _ = std::fs::write(&cache, format!("{} {word}\n", boot_id.trim()));
    accel
}

fn probe_kvm(kernel: &Path) -> bool {
    if std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        return false;
    }
    let Ok(dir) = tempfile::tempdir() else {
        return false;
    };
    let log = dir.path().join("console.log");
    let child = std::process::Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "kvm",
            "-m",
            "256",
            "-display",
            "none",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(kernel)
        .args(["-append", "console=ttyS0 panic=-1"])
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let guard = crate::cleanup::kill_on_signal(child.id() as i32);
    let started = Instant::now();
    let mut ok = false;
    while started.elapsed() < PROBE_LIMIT {
        if std::fs::read_to_string(&log)
            .map(|s| s.contains("Linux version"))
            .unwrap_or(false)
        {
            ok = true;
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(guard);
    ok
}
