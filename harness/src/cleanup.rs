//! Process hygiene: whatever a run starts (QEMU processes, overlays, build
//! folders, temp keys) is registered here, so that SIGINT and SIGTERM can tear
//! it down before the process exits. Normal exits and errors go through `Drop`
//! on the owning values; this registry is the path for signals.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug)]
enum Item {
    Process(i32),
    /// A process group: a build step and everything it started (debootstrap
    /// runs dpkg, chroot runs apt).
    Group(i32),
    Dir(PathBuf),
    /// A command that tears something down (`vagrant destroy`), run to
    /// completion after the processes are killed.
    Run(std::process::Command),
}

static ITEMS: Mutex<Vec<(u64, Item)>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(1);

/// A registration; dropping it forgets the item without touching it.
#[derive(Debug)]
pub struct Guard(u64);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(mut items) = ITEMS.lock() {
            items.retain(|(id, _)| *id != self.0);
        }
    }
}

fn register(item: Item) -> Guard {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    ITEMS.lock().expect("cleanup registry").push((id, item));
    Guard(id)
}

/// Kill this process (with SIGKILL) if the run is interrupted.
pub fn kill_on_signal(pid: i32) -> Guard {
    register(Item::Process(pid))
}

/// Kill this process group (with SIGKILL) if the run is interrupted.
pub fn kill_group_on_signal(pgid: i32) -> Guard {
    register(Item::Group(pgid))
}

/// Remove this folder if the run is interrupted.
pub fn remove_on_signal(dir: &Path) -> Guard {
    register(Item::Dir(dir.to_path_buf()))
}

/// Run this command (to completion) if the run is interrupted.
pub fn run_on_signal(cmd: std::process::Command) -> Guard {
    register(Item::Run(cmd))
}

/// Mount points at or under `dir`, deepest first (from /proc/self/mountinfo;
/// octal escapes such as `\040` for a space decoded).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(shipshape_checks::mounts::unescape_octal(m)))
        .filter(|m| m.starts_with(dir))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    found.dedup();
    found
}

/// Removes `dir` after detaching whatever is mounted inside it: an
/// interrupted debootstrap leaves `proc` and `sys` mounted in its target, and
/// removing through a mount would reach the host's own files.
pub fn remove_dir_unmounting(dir: &Path) {
    for m in mounts_under(dir) {
        if let Ok(c) = std::ffi::CString::new(m.as_os_str().as_encoded_bytes()) {
            // SAFETY: umount2 on a path we own; MNT_DETACH never blocks.
            unsafe {
                libc::umount2(c.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
    if mounts_under(dir).is_empty() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Tears down every registered item: processes first, then folders.
pub fn run_all() {
    let mut items: Vec<(u64, Item)> = match ITEMS.lock() {
        Ok(mut items) => std::mem::take(&mut *items),
        Err(_) => return,
    };
    for (_, item) in &items {
        match item {
            Item::Process(pid) => kill_and_reap(*pid),
            Item::Group(pgid) if *pgid > 0 => {
                // SAFETY: a signal to a process group this run created.
                unsafe {
                    libc::kill(-*pgid, libc::SIGKILL);
                }
                kill_and_reap(*pgid);
            }
            _ => {}
        }
    }
    for (_, item) in &mut items {
        if let Item::Run(cmd) = item {
            let _ = cmd.status();
        }
    }
    for (_, item) in &items {
        if let Item::Dir(dir) = item {
            remove_dir_unmounting(dir);
        }
    }
}

/// SIGKILL `pid` and wait until it is gone (reaping it if it is our child).
pub fn kill_and_reap(pid: i32) {
    if pid <= 0 {
        return;
    }
    // SAFETY: plain syscalls on a pid we started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    for _ in 0..200 {
        // SAFETY: WNOHANG waitpid on our own child; ECHILD if it is not ours.
        let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        if r == pid || !pid_alive(pid) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// True if `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// The start time of `pid` in clock ticks since boot (field 22 of
/// `/proc/PID/stat`), to tell a live owner from a recycled pid.
pub fn pid_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

type SpawnRequest = (
    std::process::Command,
    std::sync::mpsc::Sender<std::io::Result<std::process::Child>>,
);

/// Starts `cmd` with PR_SET_PDEATHSIG(SIGKILL), so that the kernel stops it if
/// this process dies, even by SIGKILL. The death signal fires when the *thread*
/// that forked the child exits, not the process; a test harness's worker thread
/// ends while other threads still use the VM. So every such child is forked
/// from one thread that lives as long as the process.
pub fn spawn_tied_to_process(
    mut cmd: std::process::Command,
) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    use std::sync::mpsc;
    static SPAWNER: std::sync::OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> =
        std::sync::OnceLock::new();
    // SAFETY: prctl in the forked child before exec; async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("shipshape-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("starting the spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .lock()
        .map_err(|_| std::io::Error::other("spawner lock poisoned"))?
        .send((cmd, reply_tx))
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?
}

/// The exit code of the signal being handled (0: none yet).
static INTERRUPTED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// If a signal arrived: waits for its teardown (the handler then exits the
/// process with 130 or 143) instead of letting the caller exit first with the
/// error the teardown caused (a killed build step, a QEMU gone). Returns at
/// once otherwise.
pub fn wait_if_interrupted() {
    if INTERRUPTED.load(Ordering::SeqCst) != 0 {
        loop {
            std::thread::park();
        }
    }
}

/// Installs the SIGINT/SIGTERM handler. The first signal tears down what is
/// registered and exits (130 / 143); a second one exits at once.
pub fn install_signal_handlers() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    tokio::spawn(async move {
        let code = tokio::select! {
            _ = int.recv() => 130,
            _ = term.recv() => 143,
        };
        INTERRUPTED.store(code, Ordering::SeqCst);
        eprintln!("\nshipshape: interrupted; stopping VMs and removing overlays (again to force)");
        let teardown = tokio::task::spawn_blocking(run_all);
        tokio::select! {
            _ = teardown => {}
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        std::process::exit(code);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped_like_the_kernel_writes_them() {
        assert_eq!(
            shipshape_checks::mounts::unescape_octal(r"/a\040b/c\011d"),
            "/a b/c\td"
        );
        assert_eq!(
            shipshape_checks::mounts::unescape_octal(r"/plain"),
            "/plain"
        );
        // A backslash not followed by three octal digits stays as it is.
        assert_eq!(shipshape_checks::mounts::unescape_octal(r"/x\04"), r"/x\04");
    }

    #[test]
    fn mounts_under_finds_nothing_in_a_fresh_folder_and_proc_under_root() {
        let dir = tempfile::tempdir().unwrap();
        assert!(mounts_under(dir.path()).is_empty());
        assert!(mounts_under(Path::new("/")).contains(&PathBuf::from("/proc")));
    }
}

/// The process that owns a machine or a folder, told apart from a later
/// process that got the same pid by its start time.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Owner {
    pub pid: i32,
    pub start_time: u64,
}

impl Owner {
    pub fn current() -> Self {
        let pid = std::process::id() as i32;
        Self {
            pid,
            start_time: pid_start_time(pid).unwrap_or(0),
        }
    }

    pub fn alive(&self) -> bool {
        pid_alive(self.pid) && pid_start_time(self.pid) == Some(self.start_time)
    }

    /// Marks a new instance folder as this process's before anything else
    /// goes in: a run killed before it writes the record leaves a folder the
    /// next run can tell is orphaned.
    pub fn claim(dir: &Path) -> std::io::Result<()> {
        std::fs::write(dir.join(OWNER), serde_json::to_vec(&Self::current())?)
    }

    pub fn of_folder(dir: &Path) -> Option<Self> {
        serde_json::from_slice(&std::fs::read(dir.join(OWNER)).ok()?).ok()
    }
}

/// The creator of an instance folder, until its record exists.
const OWNER: &str = "owner.json";
