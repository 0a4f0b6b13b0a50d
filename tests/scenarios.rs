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

struct Fixture {
    rt: tokio::runtime::Runtime,
    home: Home,
    vms: Mutex<HashMap<Platform, Result<QemuVm, String>>>,
    junit_runs: Mutex<Vec<shipshape_harness::suite::PlatformRun>>,
}

impl Fixture {
    fn run(&self, platform: Platform, sc: &Scenario) -> Result<(), Failed> {
        let mut vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
        let result = self.rt.block_on(async {
            let fresh = !vms.contains_key(&platform);
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
                vms.insert(platform, vm);
            }
            let vm = match vms.get_mut(&platform).unwrap() {
                Ok(vm) => vm,
                Err(e) => return Err(e.clone()),
            };
            if !fresh {
                vm.reset().await.map_err(|e| format!("reset failed: {e}"))?;
            }
            Ok(scenario::run_scenario(vm, sc, &Policy::default()).await)
        });
        let result = result?;
        let mut runs = self.junit_runs.lock().unwrap();
        match runs.iter_mut().find(|r| r.platform == platform) {
            Some(r) => r.results.push(result.clone()),
            None => runs.push(shipshape_harness::suite::PlatformRun {
                platform,
                results: vec![result.clone()],
                error: None,
                boot: Default::default(),
                duration: Default::default(),
            }),
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
    args.test_threads = Some(1);
    let platforms: Vec<Platform> = std::env::var("SHIPSHAPE_PLATFORMS")
        .unwrap_or_else(|_| "debian-12,debian-13".into())
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().parse().expect("SHIPSHAPE_PLATFORMS"))
        .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let scenarios = scenario::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let fx = Arc::new(Fixture {
        rt: tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
        home: Home::from_env(),
        vms: Mutex::new(HashMap::new()),
        junit_runs: Mutex::new(Vec::new()),
    });
    let mut trials = Vec::new();
    for p in &platforms {
        for sc in scenarios.iter().filter(|s| s.runs_on(*p)) {
            let fx = fx.clone();
            let sc = sc.clone();
            let p = *p;
            trials.push(Trial::test(format!("{}::{}", p, sc.name), move || {
                fx.run(p, &sc)
            }));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    let vms: Vec<_> = fx.vms.lock().unwrap().drain().collect();
    for (_, vm) in vms {
        if let Ok(vm) = vm {
            fx.rt.block_on(vm.destroy());
        }
    }
    let runs = fx.junit_runs.lock().unwrap();
    if !runs.is_empty() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/scenarios.xml");
        std::fs::create_dir_all(path.parent().unwrap()).ok();
        let _ = std::fs::write(&path, shipshape_harness::report::junit::scenarios(&runs));
    }
    conclusion.exit();
}
