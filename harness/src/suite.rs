//! The matrix: scenarios × platforms, one VM per platform, a snapshot reset
//! before every scenario.

use std::time::{Duration, Instant};

use shipshape_checks::Policy;

use crate::driver::{BootOptions, QemuVm};
use crate::image;
use crate::paths::Home;
use crate::platform::Platform;
use crate::progress::Progress;
use crate::scenario::{run_scenario, Scenario, ScenarioResult};

#[derive(Debug, Clone)]
pub struct PlatformRun {
    pub platform: Platform,
    pub results: Vec<ScenarioResult>,
    /// Set when the platform could not run at all (image or boot failed).
    pub error: Option<String>,
    pub boot: Duration,
    pub duration: Duration,
}

/// `*` and `?` globbing for scenario filters.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

pub fn select<'a>(scenarios: &'a [Scenario], globs: &[String]) -> Vec<&'a Scenario> {
    scenarios
        .iter()
        .filter(|s| globs.is_empty() || globs.iter().any(|g| glob_match(g, &s.name)))
        .collect()
}

/// Runs `scenarios` on `platform`, reporting each result as it finishes.
pub async fn run_platform(
    home: &Home,
    platform: Platform,
    scenarios: &[&Scenario],
    policy: &Policy,
    mut on_result: impl FnMut(&ScenarioResult),
) -> PlatformRun {
    let started = Instant::now();
    let mut run = PlatformRun {
        platform,
        results: Vec::new(),
        error: None,
        boot: Duration::ZERO,
        duration: Duration::ZERO,
    };
    let todo: Vec<&&Scenario> = scenarios.iter().filter(|s| s.runs_on(platform)).collect();
    if todo.is_empty() {
        return run;
    }
    let progress = Progress::new(&platform.to_string());
    let image = match image::ensure(home, platform, &progress).await {
        Ok(i) => i,
        Err(e) => {
            run.error = Some(format!("image build failed: {e}"));
            return run;
        }
    };
    progress.stage("booting");
    let boot_started = Instant::now();
    let name = format!("test-{}-{}", platform, std::process::id());
    let mut vm = match QemuVm::boot(home, &image, BootOptions::new(name)).await {
        Ok(vm) => vm,
        Err(e) => {
            run.error = Some(format!("boot failed: {e}"));
            return run;
        }
    };
    run.boot = boot_started.elapsed();
    progress.finish(&format!("booted in {:.1}s", run.boot.as_secs_f64()));
    let mut fresh = true;
    for sc in todo {
        if !fresh {
            if let Err(e) = vm.reset().await {
                let r = ScenarioResult {
                    scenario: sc.name.clone(),
                    control: sc.control.clone(),
                    steps: Vec::new(),
                    duration: Duration::ZERO,
                    failure: Some(format!("reset failed: {e}")),
                };
                on_result(&r);
                run.results.push(r);
                continue;
            }
        }
        fresh = false;
        let r = run_scenario(&mut vm, sc, policy).await;
        on_result(&r);
        run.results.push(r);
    }
    vm.destroy().await;
    run.duration = started.elapsed();
    run
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*", "live-restore"));
        assert!(glob_match("live-*", "live-restore"));
        assert!(glob_match("*proxy", "userland-proxy"));
        assert!(glob_match("us?rns-remap", "userns-remap"));
        assert!(!glob_match("live", "live-restore"));
    }
}
