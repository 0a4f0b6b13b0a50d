//! `shipshape bench`: the figures that decide how fast the suite runs,
//! measured on a real VM; each is a median of several runs where that is
//! cheap.

use std::time::{Duration, Instant};

use serde::Serialize;
use shipshape_checks::Policy;

use crate::audit;
use crate::driver::{BootOptions, QemuVm};
use crate::image;
use crate::paths::Home;
use crate::platform::Platform;
use crate::progress::Progress;
use crate::scenario::Scenario;
use crate::suite;
use crate::target::Conn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    Image,
    Boot,
    Reset,
    Reboot,
    Audit,
    Suite,
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
    let image = image::ensure(home, platform, &progress).await?;
    if want(Part::Image) {
        let t = Instant::now();
        image::ensure(home, platform, &Progress::hidden()).await?;
        f.image_warm_s = Some(secs(t.elapsed()));
    }
    let needs_vm = [Part::Boot, Part::Reset, Part::Reboot, Part::Audit]
        .into_iter()
        .any(want);
    if needs_vm {
        progress.stage("booting");
        let t = Instant::now();
        let mut opts = BootOptions::new(format!("bench-{}-{}", platform, std::process::id()));
        opts.warm = false;
        let mut vm = QemuVm::boot(home, &image, opts).await?;
        f.boot_to_ssh_s = Some(secs(t.elapsed()));
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
        let run = suite::run_platform(home, platform, scenarios, &Policy::default()).await;
        f.suite_s = Some(secs(t.elapsed()));
        f.scenarios = run
            .results
            .iter()
            .map(|r| (r.scenario.clone(), secs(r.duration), r.passed()))
            .collect();
    }
    Ok(f)
}

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
    line("full suite", f.suite_s, String::new());
    for (name, t, ok) in &f.scenarios {
        s.push_str(&format!(
            "    {name:<24} {t:>8.2} s {}\n",
            if *ok { "" } else { "FAILED" }
        ));
    }
    s
}
