//! The container driver for real: every shipped scenario through `shipshape
//! test --driver container` against the runner's own dockerd (started by
//! `.ci/dockerd start`; CI machines have no systemd as PID 1), each in a fresh
//! systemd container of the debian-12 image with dockerd inside. Scenarios
//! that need what a container cannot give are skipped with the reason; the
//! rest must pass. Then Ctrl-C and SIGKILL in the middle of a scenario, and a
//! Docker daemon that is not there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use quick_junit::{NonSuccessKind, TestCaseStatus};
use shipshape_harness::driver::container;
use shipshape_harness::paths::Home;

#[path = "support/ci_daemon.rs"]
mod ci_daemon;
#[path = "support/instances.rs"]
mod instances;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dockerd() -> Result<(), Failed> {
    ci_daemon::start("dockerd")
}

fn docker(args: &[&str]) -> BTreeSet<String> {
    let out = Command::new("docker").args(args).output().expect("docker");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// shipshape's containers (any state) and every volume.
fn state() -> (BTreeSet<String>, BTreeSet<String>) {
    (
        docker(&[
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label={}", container::OWNER_LABEL),
        ]),
        docker(&["volume", "ls", "-q"]),
    )
}

fn shipshape(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shipshape"));
    c.arg("test")
        .args(["--driver", "container"])
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::null());
    c
}

fn every_scenario(home: &Home) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let junit = dir.path().join("container.xml");
    let html = dir.path().join("container.html");
    let (_, volumes_before) = state();
    let started = Instant::now();
    let out = shipshape(&["--junit"])
        .arg(&junit)
        .arg("--html")
        .arg(&html)
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("{err}");
    eprintln!(
        "every scenario through containers in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    let xml = std::fs::read_to_string(&junit).unwrap_or_default();
    if !out.status.success() {
        return Err(format!(
            "shipshape test exited {:?}:\n{err}\n{xml}",
            out.status.code()
        )
        .into());
    }
    let report = quick_junit::Report::deserialize_from_str(&xml)?;
    let suite = report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "debian-12-container")
        .ok_or_else(|| format!("no debian-12-container testsuite:\n{xml}"))?;
    // Those that run on the image's platform (rootless names its own).
    let shipped: Vec<_> = shipshape_harness::scenario::model::load_dir(&repo().join("scenarios"))?
        .into_iter()
        .filter(|s| s.runs_on(shipshape_harness::platform::Platform::Debian12))
        .collect();
    if suite.test_cases.len() != shipped.len() {
        return Err(format!(
            "{} test cases for {} scenarios",
            suite.test_cases.len(),
            shipped.len()
        )
        .into());
    }
    // What must be skipped, and what the reason must name. The limits need
    // is judged from this runner's bounding set, read here independently.
    let status = std::fs::read_to_string("/proc/self/status")?;
    let no_sys_resource = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|b| b & (1 << 24) == 0);
    let must_skip = |name: &str| -> Option<&'static str> {
        match name {
            "audit-rules" => Some("reboot"),
            "docker-root-mount" => Some("disk"),
            // The whole-host ones migrate Docker's root to the data disk.
            "converge-fresh" | "converge-dirty" | "converge-dirty-default" => Some("disk"),
            "rootless" => Some("user namespaces"),
            // Debian in a container: apt, no dnf or yum.
            "docker-version-dnf" => Some("dnf"),
            "docker-version-yum" => Some("yum"),
            "default-ulimits" | "userns-remap" if no_sys_resource => Some("CAP_SYS_RESOURCE"),
            _ => None,
        }
    };
    let mut ran = 0;
    for case in &suite.test_cases {
        let name = case.name.as_str();
        match (&case.status, must_skip(name)) {
            (TestCaseStatus::Skipped { message, .. }, Some(word)) => {
                let m = message.as_ref().map(|m| m.to_string()).unwrap_or_default();
                if !m.contains(word) {
                    return Err(format!(
                        "{name} is skipped for {m:?}, which does not name {word:?}"
                    )
                    .into());
                }
            }
            (TestCaseStatus::Success { .. }, None) => {
                let out = case
                    .system_out
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                let sc = shipped
                    .iter()
                    .find(|s| s.name == name)
                    .ok_or("an unknown scenario")?;
                let mut steps = vec!["before: audit expects", "after: audit expects"];
                if sc.fix && sc.idempotent {
                    steps.extend(["== fix: ", "idempotence: "]);
                }
                for step in steps {
                    if !out.contains(step) {
                        return Err(format!("{name} passed without a `{step}` step:\n{out}").into());
                    }
                }
                ran += 1;
            }
            (s, want) => {
                let kind = match s {
                    TestCaseStatus::NonSuccess {
                        kind: NonSuccessKind::Failure,
                        ..
                    } => "failed",
                    TestCaseStatus::NonSuccess { .. } => "errored",
                    TestCaseStatus::Skipped { .. } => "was skipped",
                    TestCaseStatus::Success { .. } => "passed",
                };
                return Err(format!(
                    "{name} {kind}, but it must {}:\n{xml}",
                    if want.is_some() { "be skipped" } else { "pass" }
                )
                .into());
            }
        }
    }
    eprintln!("{ran} scenarios ran in containers");
    // The effects were seen inside a container's own dockerd.
    for want in ["NoNewPrivs:1", "Seccomp:"] {
        if !xml.contains(want) {
            return Err(format!("the report lacks {want:?}").into());
        }
    }
    let page = std::fs::read_to_string(&html)?;
    if !page.contains("skipped</a>") || !page.contains("class=\"skipped\"") {
        return Err("the HTML report does not show the skipped scenarios".into());
    }
    let (containers, volumes) = state();
    if !containers.is_empty()
        || volumes != volumes_before
        || !instances::named(home, "container-import-").is_empty()
    {
        return Err(format!(
            "left behind: containers {containers:?}, new volumes {:?}, import folders {:?}",
            volumes.difference(&volumes_before).collect::<Vec<_>>(),
            instances::named(home, "container-import-")
        )
        .into());
    }
    Ok(())
}

/// Starts tls-auth (the slowest scenario here) and waits until its
/// container exists.
fn start_tls_auth() -> Result<std::process::Child, Failed> {
    let child = shipshape(&["--scenario", "tls-auth", "--junit", "/dev/null"])
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while state().0.is_empty() {
        if Instant::now() > deadline {
            return Err("no container appeared within 120 s".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Into the scenario proper: SSH is up and steps are running.
    std::thread::sleep(Duration::from_secs(3));
    Ok(child)
}

fn sigint_mid_scenario() -> Result<(), Failed> {
    let (_, volumes_before) = state();
    let child = start_tls_auth()?;
    let t = Instant::now();
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output()?;
    eprintln!(
        "exit {:?} {:.1}s after SIGINT",
        out.status.code(),
        t.elapsed().as_secs_f64()
    );
    if out.status.code() != Some(130) {
        return Err(format!(
            "exit {:?}, expected 130: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let (containers, volumes) = state();
    if !containers.is_empty() || volumes != volumes_before {
        return Err(
            format!("left after Ctrl-C: containers {containers:?}, volumes {volumes:?}").into(),
        );
    }
    Ok(())
}

fn sigkill_then_reaped() -> Result<(), Failed> {
    let (_, volumes_before) = state();
    let mut child = start_tls_auth()?;
    child.kill()?;
    child.wait()?;
    let left = state().0;
    if left.len() != 1 {
        return Err(
            format!("after SIGKILL, expected the run's one container, found {left:?}").into(),
        );
    }
    let out = shipshape(&["--scenario", "no-aufs", "--junit", "/dev/null"]).output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !err.contains("removed 1 container(s) left by a killed run") {
        return Err(format!(
            "the next run did not remove the killed run's container (exit {:?}):\n{err}",
            out.status.code()
        )
        .into());
    }
    let (containers, volumes) = state();
    if !containers.is_empty() || volumes != volumes_before {
        return Err(format!("left: containers {containers:?}, volumes {volumes:?}").into());
    }
    Ok(())
}

fn no_docker_daemon() -> Result<(), Failed> {
    let before = state();
    let out = shipshape(&["--scenario", "no-aufs", "--junit", "/dev/null"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(2) || !err.contains("cannot reach the Docker daemon") {
        return Err(format!(
            "exit {:?}, expected 2 and a clear error: {err}",
            out.status.code()
        )
        .into());
    }
    if state() != before {
        return Err("a run without a daemon changed Docker's state".into());
    }
    Ok(())
}

fn main() {
    let mut args = Arguments::from_args();
    // One at a time: they share the runner's dockerd and count what it holds.
    args.test_threads = Some(1);
    let home = Home::from_env();
    let trials = vec![
        Trial::test(
            "every_scenario_passes_in_a_container_or_is_skipped_with_its_reason",
            move || {
                dockerd()?;
                every_scenario(&home)
            },
        ),
        Trial::test("sigint_mid_scenario_removes_the_container", || {
            dockerd()?;
            sigint_mid_scenario()
        }),
        Trial::test("a_killed_runs_container_is_removed_by_the_next_run", || {
            dockerd()?;
            sigkill_then_reaped()
        }),
        Trial::test("without_a_docker_daemon_the_error_says_so", || {
            dockerd()?;
            no_docker_daemon()
        }),
    ];
    libtest_mimic::run(&args, trials).exit();
}
