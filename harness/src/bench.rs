//! `shipshape bench`: the figures that decide how fast the suite runs,
//! measured on a real VM; each is a median of several runs where that is
//! cheap.

use std::time::{Duration, Instant};

use serde::Serialize;
use shipshape_checks::Policy;

use crate::audit;
use crate::driver::{BootOptions, QemuVm};

use crate::paths::Home;
use crate::platform::Platform;
use crate::progress::Progress;
use crate::scenario::Scenario;
use crate::suite;
use crate::transport::Conn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    Image,
    Boot,
    Reset,
    Reboot,
    Audit,
    /// A whole-host `shipshape fix` on a dirty VM, against one control at a
    /// time on the same dirty state.
    Fix,
    Suite,
}

/// The dirty host of the converge-dirty scenarios: daemon settings wrong in
/// four places, no auditd, a user in the docker group, loose modes.
const DIRTY_HOST: &str = include_str!("../../scenarios/lib/dirty-host.sh");

/// One whole-host fix, or one control at a time, on a dirty VM.
#[derive(Debug, Clone, Serialize)]
pub struct FixRun {
    /// The audit and the fix, as `shipshape fix` does them.
    pub wall_s: f64,
    /// dockerd (re)starts, counted from systemd's journal.
    pub restarts: u32,
    pub fixed: usize,
    pub skipped: usize,
    pub failed: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct Figures {
    pub platform: String,
    pub accel: String,
    pub image_warm_s: Option<f64>,
    /// A cold boot: kernel to a settled guest, then the snapshot.
    pub boot_to_ssh_s: Option<f64>,
    /// Resuming the saved boot (`driver::warm`) to SSH, then the snapshot.
    pub warm_start_median_s: Option<f64>,
    pub warm_start_runs: Vec<f64>,
    pub reset_median_s: Option<f64>,
    pub reset_runs: Vec<f64>,
    pub reboot_s: Option<f64>,
    pub audit_median_s: Option<f64>,
    pub audit_runs: Vec<f64>,
    pub audit_round_trips: Option<u32>,
    pub fix_whole_host: Vec<FixRun>,
    pub fix_whole_host_median_s: Option<f64>,
    /// The daemon settings of the same dirty host, `shipshape fix --control
    /// X` one after another (what a whole-host fix cost before one plan).
    pub fix_one_at_a_time: Option<FixRun>,
    pub suite_s: Option<f64>,
    pub scenarios: Vec<(String, f64, bool)>,
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    Some(s[s.len() / 2])
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

pub async fn run(
    home: &Home,
    platform: Platform,
    parts: &[Part],
    runs: usize,
    scenarios: &[&Scenario],
) -> anyhow::Result<Figures> {
    let want = |p: Part| parts.is_empty() || parts.contains(&p);
    let mut f = Figures {
        platform: platform.to_string(),
        ..Default::default()
    };
    let progress = Progress::new(&format!("bench {platform}"));
    let image = crate::bake::ensure(home, platform, &progress).await?;
    if want(Part::Image) {
        let t = Instant::now();
        crate::bake::ensure(home, platform, &Progress::hidden()).await?;
        f.image_warm_s = Some(secs(t.elapsed()));
    }
    let needs_vm = [
        Part::Boot,
        Part::Reset,
        Part::Reboot,
        Part::Audit,
        Part::Fix,
    ]
    .into_iter()
    .any(want);
    if needs_vm {
        progress.stage("booting");
        let t = Instant::now();
        let mut opts = BootOptions::new(format!("bench-{}-{}", platform, std::process::id()));
        // A cold boot is what this figure measures; the fix figures reset
        // to the snapshot between runs anyway.
        opts.warm = !want(Part::Boot);
        let mut vm = QemuVm::boot(home, &image, opts).await?;
        if want(Part::Boot) {
            f.boot_to_ssh_s = Some(secs(t.elapsed()));
        }
        f.accel = format!("{:?}", vm.record.accel).to_lowercase();
        if want(Part::Audit) {
            progress.stage("audit");
            // One unmeasured run first: "warm" means page cache and dockerd
            // settled, which the first probe after a boot is not.
            let s = vm.ssh().await?;
            audit::run(&Conn::Ssh(s), &Policy::default()).await?;
            for _ in 0..runs {
                let s = vm.ssh().await?;
                let r = audit::run(&Conn::Ssh(s), &Policy::default()).await?;
                f.audit_runs.push(secs(r.duration));
                f.audit_round_trips = Some(r.round_trips);
            }
            f.audit_median_s = median(&f.audit_runs);
        }
        if want(Part::Fix) {
            progress.stage("fix");
            for _ in 0..runs {
                vm.reset().await?;
                f.fix_whole_host.push(fix_run(&mut vm, true).await?);
            }
            f.fix_whole_host_median_s = median(
                &f.fix_whole_host
                    .iter()
                    .map(|r| r.wall_s)
                    .collect::<Vec<_>>(),
            );
            vm.reset().await?;
            f.fix_one_at_a_time = Some(fix_run(&mut vm, false).await?);
            vm.reset().await?;
        }
        if want(Part::Reset) {
            progress.stage("reset");
            for _ in 0..runs {
                f.reset_runs.push(secs(vm.reset().await?));
            }
            f.reset_median_s = median(&f.reset_runs);
        }
        if want(Part::Reboot) {
            progress.stage("reboot");
            f.reboot_s = Some(secs(vm.reboot(Duration::from_secs(300)).await?));
        }
        vm.destroy().await;
    }
    if want(Part::Boot) {
        progress.stage("warm start");
        // The first one may have to boot cold and save the boot: not counted.
        for i in 0..=runs {
            let opts = BootOptions::new(format!("bench-warm-{}-{i}", std::process::id()));
            let t = Instant::now();
            let vm = QemuVm::boot(home, &image, opts).await?;
            if vm.resumed {
                f.warm_start_runs.push(secs(t.elapsed()));
            }
            vm.destroy().await;
            if f.warm_start_runs.len() == runs {
                break;
            }
        }
        f.warm_start_median_s = median(&f.warm_start_runs);
    }
    progress.finish("measured");
    if want(Part::Suite) && !scenarios.is_empty() {
        let t = Instant::now();
        let run = run_qemu(home, platform, scenarios, &Policy::default()).await;
        f.suite_s = Some(secs(t.elapsed()));
        f.scenarios = run
            .results
            .iter()
            .map(|r| (r.scenario.clone(), secs(r.duration), r.passed()))
            .collect();
    }
    Ok(f)
}

/// Makes the VM dirty, then fixes it whole (one `shipshape fix`) or one
/// daemon setting at a time (an audit and a fix per control, as ten
/// `shipshape fix --control X` would).
async fn fix_run(vm: &mut QemuVm, whole: bool) -> anyhow::Result<FixRun> {
    let ctx = crate::fix::FixContext::from(crate::driver::Machine::host(vm));
    let s = vm.ssh().await?;
    let out = s.exec_timeout(DIRTY_HOST, Duration::from_secs(300)).await?;
    anyhow::ensure!(out.status == 0, "preparing the dirty host: {}", out.stderr);
    let conn = Conn::Ssh(s);
    let policy = Policy::default();
    let mut run = FixRun {
        wall_s: 0.0,
        restarts: 0,
        fixed: 0,
        skipped: 0,
        failed: 0,
    };
    let t = Instant::now();
    let first = audit::run(&conn, &policy).await?;
    let batches: Vec<Vec<String>> = if whole {
        vec![Vec::new()]
    } else {
        first
            .findings
            .iter()
            .filter(|x| matches!(x.verdict, shipshape_checks::Verdict::Fail))
            .filter(|x| DAEMON_SETTINGS.contains(&x.id))
            .map(|x| vec![x.id.to_string()])
            .collect()
    };
    let mut before = first;
    for (i, ids) in batches.iter().enumerate() {
        if i > 0 {
            before = audit::run(&conn, &policy).await?;
        }
        let req = crate::fix::Request {
            controls: ids,
            dry_run: false,
        };
        let r = crate::fix::converge(
            &conn,
            &before.findings,
            &before.facts,
            &policy,
            &ctx,
            &req,
            |_, _| {},
        )
        .await?;
        run.restarts += r.restarts.unwrap_or(0);
        for c in &r.controls {
            match c.outcome {
                crate::fix::ControlOutcome::Fixed => run.fixed += 1,
                crate::fix::ControlOutcome::Skipped { .. } => run.skipped += 1,
                crate::fix::ControlOutcome::Failed { .. } => run.failed += 1,
                crate::fix::ControlOutcome::AlreadyCompliant => {}
            }
        }
    }
    run.wall_s = secs(t.elapsed());
    Ok(run)
}

/// The daemon settings a whole-host fix merges into one change.
const DAEMON_SETTINGS: &[&str] = &[
    "icc",
    "tls-auth",
    "default-ulimits",
    "userns-remap",
    "log-config",
    "no-new-privileges",
    "live-restore",
    "userland-proxy",
    "insecure-registries",
    "no-experimental",
    "log-level",
    "iptables",
    "cgroup-parent",
    "seccomp-profile",
];

pub fn render(f: &Figures) -> String {
    let mut s = format!("platform {} (accel {})\n", f.platform, f.accel);
    let mut line = |name: &str, v: Option<f64>, extra: String| {
        if let Some(v) = v {
            s.push_str(&format!("  {name:<24} {v:>8.2} s{extra}\n"));
        }
    };
    line("image build (warm)", f.image_warm_s, String::new());
    line("cold boot + snapshot", f.boot_to_ssh_s, String::new());
    line(
        "warm start + snapshot",
        f.warm_start_median_s,
        format!("  runs {:?}", f.warm_start_runs),
    );
    line(
        "reset (median)",
        f.reset_median_s,
        format!("  runs {:?}", f.reset_runs),
    );
    line("reboot", f.reboot_s, String::new());
    line(
        "audit (median)",
        f.audit_median_s,
        format!(
            "  runs {:?}, {} round trip(s)",
            f.audit_runs,
            f.audit_round_trips.unwrap_or(0)
        ),
    );
    let runs = |v: &[FixRun]| {
        v.iter()
            .map(|r| format!("{:.2} s/{} restart(s)", r.wall_s, r.restarts))
            .collect::<Vec<_>>()
            .join(", ")
    };
    line(
        "fix, whole host (median)",
        f.fix_whole_host_median_s,
        format!("  runs [{}]", runs(&f.fix_whole_host)),
    );
    if let Some(r) = &f.fix_one_at_a_time {
        line(
            "fix, one at a time",
            Some(r.wall_s),
            format!("  {} restart(s), {} controls fixed", r.restarts, r.fixed),
        );
    }
    line("full suite", f.suite_s, String::new());
    for (name, t, ok) in &f.scenarios {
        s.push_str(&format!(
            "    {name:<24} {t:>8.2} s {}\n",
            if *ok { "" } else { "FAILED" }
        ));
    }
    s
}
/// Runs `scenarios` on `platform` with one QEMU VM, one after another, and
/// no reporter (the benchmark times it).
async fn run_qemu(
    home: &crate::paths::Home,
    platform: Platform,
    scenarios: &[&Scenario],
    policy: &Policy,
) -> suite::PlatformRun {
    let chosen: Vec<Scenario> = scenarios
        .iter()
        .filter(|s| s.runs_on(platform))
        .map(|s| (*s).clone())
        .collect();
    suite::run(
        vec![crate::driver::QemuDriver::new(
            home,
            platform,
            crate::bake::images(),
        )],
        vec![chosen],
        1,
        suite::RunScenarios {
            policy: policy.clone(),
        },
        std::sync::Arc::new(crate::report::Reporters::default()),
    )
    .await
    .pop()
    .expect("one run")
}
