//! Every scenario × platform as a `cargo test` case:
//! `cargo test --test scenarios -- userns`. One VM per platform, booted on
//! first use and reset to its snapshot before each scenario. Platforms come
//! from SHIPSHAPE_PLATFORMS (comma-separated; default debian-12,debian-13).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};
use shipshape_checks::Policy;
use shipshape_harness::driver::{BootOptions, QemuVm};
use shipshape_harness::image;
use shipshape_harness::paths::Home;
use shipshape_harness::platform::Platform;
use shipshape_harness::progress::Progress;
use shipshape_harness::scenario::{self, Scenario};
use shipshape_harness::suite::PlatformRun;

type VmSlot = Mutex<Option<Result<QemuVm, String>>>;

struct Fixture {
    rt: tokio::runtime::Runtime,
    home: Home,
    /// One slot per platform, locked while a scenario runs on it.
    vms: HashMap<Platform, VmSlot>,
    junit_runs: Mutex<Vec<PlatformRun>>,
}

impl Fixture {
    fn run(&self, platform: Platform, sc: &Scenario) -> Result<(), Failed> {
        let mut slot = self.vms[&platform]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let result = self.rt.block_on(async {
            let fresh = slot.is_none();
            if fresh {
                let progress = Progress::new(&platform.to_string());
                let vm = match image::ensure(&self.home, platform, &progress).await {
                    Ok(img) => {
                        let name = format!("scn-{}-{}", platform, std::process::id());
                        QemuVm::boot(&self.home, &img, BootOptions::new(name))
                            .await
                            .map_err(|e| format!("boot failed: {e}"))
                    }
                    Err(e) => Err(format!("image build failed: {e}")),
                };
                *slot = Some(vm);
            }
            let vm = match slot.as_mut().expect("set above") {
                Ok(vm) => vm,
                Err(e) => return Err(e.clone()),
            };
            if !fresh {
                vm.reset().await.map_err(|e| format!("reset failed: {e}"))?;
            }
            Ok(scenario::run_scenario(vm, sc, &Policy::default()).await)
        });
        drop(slot);
        let result = result?;
        {
            let mut runs = self.junit_runs.lock().unwrap_or_else(|e| e.into_inner());
            match runs.iter_mut().find(|r| r.platform == platform) {
                Some(r) => r.results.push(result.clone()),
                None => runs.push(PlatformRun {
                    platform,
                    results: vec![result.clone()],
                    error: None,
                    boot: Default::default(),
                    duration: Default::default(),
                }),
            }
        }
        match &result.failure {
            None => Ok(()),
            Some(f) => {
                let mut msg = format!("{f}\n");
                for st in &result.steps {
                    msg.push_str(&format!(
                        "  {} {} ({:.1}s)\n",
                        if st.ok { "ok " } else { "ERR" },
                        st.name,
                        st.duration.as_secs_f64()
                    ));
                }
                Err(msg.into())
            }
        }
    }
}

fn main() {
    let mut args = Arguments::from_args();
    let platforms: Vec<Platform> = std::env::var("SHIPSHAPE_PLATFORMS")
        .unwrap_or_else(|_| "debian-12,debian-13".into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("SHIPSHAPE_PLATFORMS"))
        .collect();
    // One worker per platform: each platform's VM runs its scenarios one
    // after another and the platforms run side by side (under TCG a dockerd
    // restart keeps about one core busy, so two VMs share two cores well).
    args.test_threads = Some(args.test_threads.unwrap_or(platforms.len()).max(1));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let scenarios = scenario::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let fx = Arc::new(Fixture {
        rt: tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime"),
        home: Home::from_env(),
        vms: platforms.iter().map(|p| (*p, Mutex::new(None))).collect(),
        junit_runs: Mutex::new(Vec::new()),
    });
    // Interleaved by platform, so that the workers take different VMs.
    let mut trials = Vec::new();
    for sc in &scenarios {
        for p in &platforms {
            if !sc.runs_on(*p) {
                continue;
            }
            let fx = fx.clone();
            let sc = sc.clone();
            let p = *p;
            trials.push(Trial::test(format!("{}::{}", p, sc.name), move || {
                fx.run(p, &sc)
            }));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    for slot in fx.vms.values() {
        if let Some(Ok(vm)) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
            fx.rt.block_on(vm.destroy());
        }
    }
    let runs = fx.junit_runs.lock().unwrap_or_else(|e| e.into_inner());
    if !runs.is_empty() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/scenarios.xml");
        std::fs::create_dir_all(path.parent().expect("parent")).ok();
        let _ = std::fs::write(&path, shipshape_harness::report::junit::scenarios(&runs));
    }
    conclusion.exit();
}
