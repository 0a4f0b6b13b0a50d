//! Every scenario × platform as a `cargo test` case:
//! `cargo test --test scenarios -- userns`. The cases that pass the filter run
//! on the same worker pool as `shipshape test` (SHIPSHAPE_JOBS workers, default
//! one per core), in the pool's order; each case waits for its own result.
//! Every platform's cases are listed; those of SHIPSHAPE_PLATFORMS
//! (comma-separated; default debian-12) run, the others are ignored unless
//! asked for with `-- --include-ignored` (the nightly runs every platform
//! through `shipshape test`; per-push CI keeps to debian-12 for time, and
//! audits debian-13 in tests/audit.rs).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};
use shipshape_checks::Policy;
use shipshape_harness::driver::QemuDriver;
use shipshape_harness::paths::Home;
use shipshape_harness::platform::Platform;
use shipshape_harness::report;
use shipshape_harness::report::event::Watch;
use shipshape_harness::report::{Reporters, RunEvent};
use shipshape_harness::scenario::{self, Outcome, ScenarioResult};
use shipshape_harness::suite;

#[path = "support/chromium.rs"]
mod chromium;

#[derive(Default)]
struct Board {
    results: HashMap<String, ScenarioResult>,
    /// The whole run, in report order, once the pool has stopped.
    runs: Vec<suite::PlatformRun>,
    /// The pool has stopped: a case still missing will not come.
    done: bool,
}

type Shared = Arc<(Mutex<Board>, Condvar)>;

fn case_name(p: Platform, scenario: &str) -> String {
    format!("{p}::{scenario}")
}

/// libtest's own selection: substring (or exact) filter, minus `--skip`.
fn selected(args: &Arguments, name: &str) -> bool {
    let hit = |pat: &str| {
        if args.exact {
            name == pat
        } else {
            name.contains(pat)
        }
    };
    args.filter.as_deref().is_none_or(hit) && !args.skip.iter().any(|s| hit(s))
}

fn wait_for(board: &Shared, name: &str) -> Result<(), Failed> {
    let (lock, cv) = &**board;
    let mut b = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(r) = b.results.get(name) {
            return match r.outcome.message().filter(|_| r.failed()) {
                None => Ok(()),
                Some(f) => {
                    let mut msg = format!("{f}\n");
                    for st in &r.steps {
                        msg.push_str(&format!(
                            "  {} {} ({:.1}s)\n",
                            if st.ok { "ok " } else { "ERR" },
                            st.name,
                            st.duration.as_secs_f64()
                        ));
                    }
                    Err(msg.into())
                }
            };
        }
        if b.done {
            return Err("the worker pool stopped before this case ran".into());
        }
        b = cv.wait(b).unwrap_or_else(|e| e.into_inner());
    }
}

/// The HTML and JUnit reports of this very run: Chromium loads the page, every
/// case is in the matrix with the verdict it had, the steps are there, and no
/// key material is in either report.
fn html_report(board: &Shared) -> Result<(), Failed> {
    let (lock, cv) = &**board;
    let mut b = lock.lock().unwrap_or_else(|e| e.into_inner());
    while !b.done {
        b = cv.wait(b).unwrap_or_else(|e| e.into_inner());
    }
    let runs = b.runs.clone();
    drop(b);
    if runs.iter().all(|r| r.results.is_empty()) {
        return Err("no scenario ran (filtered out?)".into());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
    std::fs::create_dir_all(&dir)?;
    let page = dir.join("scenarios.html");
    let html = report::html::scenarios(&runs);
    std::fs::write(&page, &html)?;
    let xml = report::junit::scenarios(&runs);
    for (what, text) in [("HTML", &html), ("JUnit", &xml)] {
        let found = chromium::secrets_in(text);
        if !found.is_empty() {
            return Err(format!("the {what} report holds key material: {found:?}").into());
        }
    }
    let dom = chromium::dom(&page)?;
    if !dom.contains("<table id=\"matrix\">") {
        return Err("Chromium built no matrix table".into());
    }
    for r in &runs {
        for x in &r.results {
            let id = format!("{}--{}", r.label(), x.scenario)
                .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
            // As the run decided it, and independently of the page's code.
            let word = match x.outcome {
                Outcome::Passed => "pass",
                Outcome::Skipped(_) => "skipped",
                Outcome::Broken(_) => "ERROR",
                Outcome::Failed(_) => "FAIL",
            };
            let cell = format!("<a href=\"#{id}\">{word}</a>");
            if !dom.contains(&cell) {
                return Err(format!("the matrix lacks {cell}").into());
            }
            if !dom.contains(&format!("<details id=\"{id}\"")) {
                return Err(format!("no details for {id}").into());
            }
            for st in &x.steps {
                // As the DOM serializer writes text: only &, < and > escaped.
                let name = st
                    .name
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;");
                if !dom.contains(&name) {
                    return Err(format!("{id}: step `{}` is missing", st.name).into());
                }
            }
        }
    }
    chromium::screenshot(&page, &dir.join("scenarios.png"))?;
    Ok(())
}

fn main() {
    let mut args = Arguments::from_args();
    let default_platforms: Vec<Platform> = std::env::var("SHIPSHAPE_PLATFORMS")
        .unwrap_or_else(|_| "debian-12".into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("SHIPSHAPE_PLATFORMS"))
        .collect();
    let platforms = Platform::ALL;
    let runs_by_default = |p: Platform| default_platforms.contains(&p);
    let jobs: usize = std::env::var("SHIPSHAPE_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or_else(suite::default_jobs);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let scenarios = scenario::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));

    let board: Shared = Arc::default();
    let mut trials = Vec::new();
    // Which scenarios each platform runs, after libtest's filter.
    let mut wanted: Vec<(Platform, Vec<String>)> = platforms.iter().map(|p| (*p, vec![])).collect();
    for sc in &scenarios {
        for (p, names) in wanted.iter_mut() {
            if !sc.runs_on(*p) {
                continue;
            }
            let name = case_name(*p, &sc.name);
            let ignored = !runs_by_default(*p);
            let runs = if args.ignored {
                ignored
            } else {
                !ignored || args.include_ignored
            };
            if selected(&args, &name) && runs {
                names.push(sc.name.clone());
            }
            let board = board.clone();
            trials.push(
                Trial::test(name.clone(), move || wait_for(&board, &name))
                    .with_ignored_flag(ignored),
            );
        }
    }
    {
        let board = board.clone();
        trials.push(Trial::test(
            "report::html_of_this_run_in_headless_chromium",
            move || html_report(&board),
        ));
    }
    // Every case waits on the pool, so each needs its own thread; the pool
    // decides how many VMs actually run.
    args.test_threads = Some(trials.len().max(1));

    let pool = if args.list {
        None
    } else {
        let board = board.clone();
        Some(std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let home = Home::from_env();
            let mut runs = Vec::new();
            // One pool over the platforms with selected cases; `keep` picks
            // the cases per platform.
            let all: Vec<&scenario::Scenario> = scenarios.iter().collect();
            let per_platform: Vec<Platform> = wanted
                .iter()
                .filter(|(_, n)| !n.is_empty())
                .map(|(p, _)| *p)
                .collect();
            if !per_platform.is_empty() {
                let on_board = board.clone();
                let watch = Watch(move |e: &RunEvent| {
                    if let RunEvent::ScenarioFinished { run, result } = e {
                        let p = run.platform().expect("a platform's run");
                        let (lock, cv) = &*on_board;
                        let mut b = lock.lock().unwrap_or_else(|e| e.into_inner());
                        b.results
                            .insert(case_name(p, &result.scenario), result.clone());
                        cv.notify_all();
                    }
                });
                let drivers: Vec<QemuDriver> = per_platform
                    .iter()
                    .map(|p| QemuDriver::new(&home, *p, shipshape_harness::bake::images()))
                    .collect();
                let plan: Vec<Vec<scenario::Scenario>> = per_platform
                    .iter()
                    .map(|p| {
                        all.iter()
                            .filter(|s| wanted.iter().any(|(x, n)| x == p && n.contains(&s.name)))
                            .map(|s| (*s).clone())
                            .collect()
                    })
                    .collect();
                let reporters = Arc::new(Reporters::new(vec![Box::new(watch)]));
                let runner = suite::RunScenarios {
                    policy: Policy::default(),
                };
                runs = rt.block_on(suite::run(drivers, plan, jobs, runner, reporters));
            }
            let (lock, cv) = &*board;
            let mut b = lock.lock().unwrap_or_else(|e| e.into_inner());
            b.runs = runs.clone();
            b.done = true;
            cv.notify_all();
            drop(b);
            runs
        }))
    };
    let conclusion = libtest_mimic::run(&args, trials);
    if let Some(pool) = pool {
        let runs = pool.join().unwrap_or_default();
        if !runs.is_empty() {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/scenarios.xml");
            std::fs::create_dir_all(path.parent().expect("parent")).ok();
            let _ = std::fs::write(&path, shipshape_harness::report::junit::scenarios(&runs));
        }
    }
    conclusion.exit();
}
