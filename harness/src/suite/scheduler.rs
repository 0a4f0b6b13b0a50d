//! One scheduler for every driver: a pool of workers, each holding at most
//! one machine at a time. A worker resets its machine between scenarios (or
//! recreates it where the driver cannot reset), replaces a machine that
//! broke, and moves to another run when its own has nothing left. Every
//! result goes out as an event as it happens; the runs come back in
//! scenario order, so a parallel run reports exactly what a serial one does.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::driver::{Driver, Machine, Reset, RunId};
use crate::report::event::{PlatformRun, Reporters, RunEvent, RunStats};
use crate::scenario::{AfterFix, OnStep, Outcome, Scenario, ScenarioResult};

/// What runs one scenario on a machine: the scenario runner in a real run,
/// something cheaper in the scheduler's own tests.
pub trait CaseRunner<M>: Send + Sync {
    fn run(
        &self,
        machine: &mut M,
        scenario: &Scenario,
        on_step: OnStep<'_>,
    ) -> impl Future<Output = ScenarioResult> + Send;
}

/// Each driver's scenarios, in file order.
pub type Scenarios = Vec<Scenario>;

/// One unit of work: a scenario of a run, and where it sorts in the report.
struct Item {
    run: usize,
    order: usize,
    scenario: Scenario,
}

struct Queue {
    /// Per run, the scenarios still to run: those that reboot first, so
    /// that the last ones to finish are short.
    todo: Vec<VecDeque<Item>>,
    /// Machines of each run that workers hold now.
    live: Vec<usize>,
    /// How many of its machines each run allows at once.
    max: Vec<usize>,
    /// A run that could not start: its remaining scenarios end broken with
    /// this error instead of each trying again.
    broken: Vec<Option<String>>,
    /// Machines created so far, per run (the next one's `seq`, from 0).
    created: Vec<usize>,
}

impl Queue {
    /// The next item for a worker holding a machine of `current`: more of
    /// the same run if any; otherwise the run with the most left, unless the
    /// workers on it will finish it soon or it allows no more machines.
    fn next(&mut self, current: Option<usize>) -> Option<Item> {
        if let Some(r) = current {
            if let Some(item) = self.todo[r].pop_front() {
                return Some(item);
            }
        }
        let (live, max) = (&self.live, &self.max);
        let (_, q) = self
            .todo
            .iter_mut()
            .enumerate()
            .filter(|(r, q)| {
                // A boot costs two or three scenarios' time, and the workers
                // already on the run keep going: joining them pays only for
                // a long queue. Nobody on it: someone must go.
                let live = live[*r];
                !q.is_empty() && live < max[*r] && (live == 0 || q.len() >= 3 * (live + 1))
            })
            .max_by_key(|(_, q)| q.len())?;
        q.pop_front()
    }

    fn release(&mut self, run: usize) {
        self.live[run] = self.live[run].saturating_sub(1);
    }
}

struct Shared<D: Driver, R> {
    drivers: Vec<D>,
    ids: Vec<RunId>,
    queue: Mutex<Queue>,
    results: Mutex<Vec<(usize, usize, ScenarioResult)>>,
    boots: Mutex<Vec<Duration>>,
    runner: R,
    events: Arc<Reporters>,
}

/// Runs `plan[i]` on `drivers[i]` with `jobs` workers and returns every
/// run's results in scenario order. Drivers are prepared first, one after
/// another; a driver that cannot prepare (or whose machines cannot come up)
/// ends its scenarios broken, and the others go on.
pub async fn run<D, R>(
    mut drivers: Vec<D>,
    plan: Vec<Scenarios>,
    jobs: usize,
    runner: R,
    events: Arc<Reporters>,
) -> Vec<PlatformRun>
where
    D: Driver + 'static,
    R: CaseRunner<D::M> + 'static,
{
    assert_eq!(
        drivers.len(),
        plan.len(),
        "one list of scenarios per driver"
    );
    let started = Instant::now();
    let ids: Vec<RunId> = drivers.iter().map(Driver::id).collect();
    let n = drivers.len();
    let mut queue = Queue {
        todo: Vec::with_capacity(n),
        live: vec![0; n],
        max: drivers.iter().map(|d| d.max_machines().max(1)).collect(),
        broken: vec![None; n],
        created: vec![0; n],
    };
    let mut results = Vec::new();
    let mut total = 0;
    events.emit(RunEvent::RunStarted {
        runs: ids.clone(),
        cases: plan.iter().map(Vec::len).sum(),
        jobs,
    });
    for (i, (driver, scenarios)) in drivers.iter_mut().zip(plan).enumerate() {
        let mut items = Vec::new();
        for (order, sc) in scenarios.into_iter().enumerate() {
            let why: Vec<String> = sc
                .all_needs()
                .into_iter()
                .filter_map(|need| driver.cannot(need))
                .collect();
            if why.is_empty() {
                items.push(Item {
                    run: i,
                    order,
                    scenario: sc,
                });
            } else {
                let r = ScenarioResult::skip(&sc, why.join("; "));
                events.emit(RunEvent::ScenarioFinished {
                    run: ids[i].clone(),
                    result: r.clone(),
                });
                results.push((i, order, r));
            }
        }
        if !items.is_empty() {
            if let Err(e) = driver.prepare().await {
                let error = format!("preparing {} failed: {e}", ids[i]);
                events.emit(RunEvent::PlatformFailed {
                    run: ids[i].clone(),
                    error: error.clone(),
                });
                queue.broken[i] = Some(error);
            }
        }
        // Stable: reboots first, then file order.
        items.sort_by_key(|it| it.scenario.after_fix != AfterFix::Reboot);
        total += items.len();
        queue.todo.push(items.into());
    }
    let shared = Arc::new(Shared {
        drivers,
        ids: ids.clone(),
        queue: Mutex::new(queue),
        results: Mutex::new(results),
        boots: Mutex::new(vec![Duration::ZERO; n]),
        runner,
        events: events.clone(),
    });
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..jobs.clamp(1, total.max(1)) {
        let shared = shared.clone();
        set.spawn(async move { worker(&shared).await });
    }
    while set.join_next().await.is_some() {}
    let mut results = std::mem::take(&mut *shared.results.lock().expect("results"));
    results.sort_by_key(|(run, order, _)| (*run, *order));
    let queue = shared.queue.lock().expect("queue");
    let boots = shared.boots.lock().expect("boots");
    let runs: Vec<PlatformRun> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| PlatformRun {
            id: id.clone(),
            results: results
                .iter()
                .filter(|(r, _, _)| *r == i)
                .map(|(_, _, x)| x.clone())
                .collect(),
            error: queue.broken[i].clone(),
            boot: boots[i],
            duration: started.elapsed(),
        })
        .collect();
    events.emit(RunEvent::RunFinished {
        stats: RunStats::of(&runs),
        runs: runs.clone(),
    });
    runs
}

/// A worker's machine and what it knows of it.
struct Held<M> {
    machine: M,
    /// Just created: nothing to reset before its first scenario.
    fresh: bool,
}

async fn worker<D, R>(s: &Shared<D, R>)
where
    D: Driver + 'static,
    R: CaseRunner<D::M> + 'static,
{
    // The run this worker is on (counted in `live` from the moment it takes
    // one of its items, so a run allowing one machine never gets two), and
    // its machine, if one is up.
    let mut assigned: Option<usize> = None;
    let mut held: Option<Held<D::M>> = None;
    loop {
        let item = {
            let mut q = s.queue.lock().expect("queue");
            let Some(item) = q.next(assigned) else {
                break;
            };
            if assigned != Some(item.run) {
                if let Some(old) = assigned {
                    q.release(old);
                }
                q.live[item.run] += 1;
            }
            item
        };
        let run = item.run;
        if assigned != Some(run) {
            if let Some(h) = held.take() {
                h.machine.destroy().await;
            }
            assigned = Some(run);
        }
        let result = run_item(s, &mut held, &item).await;
        if matches!(result.outcome, Outcome::Broken(_)) {
            // Not trustworthy any more: the next scenario gets a new machine.
            if let Some(h) = held.take() {
                h.machine.destroy().await;
            }
        }
        s.events.emit(RunEvent::ScenarioFinished {
            run: s.ids[run].clone(),
            result: result.clone(),
        });
        s.results
            .lock()
            .expect("results")
            .push((run, item.order, result));
    }
    if let Some(h) = held.take() {
        h.machine.destroy().await;
    }
    if let Some(old) = assigned {
        s.queue.lock().expect("queue").release(old);
    }
}

/// Creates a machine of `run`, reporting it; a failure ends the run.
async fn create<D: Driver, R>(s: &Shared<D, R>, run: usize) -> Result<D::M, String> {
    let seq = {
        let mut q = s.queue.lock().expect("queue");
        q.created[run] += 1;
        q.created[run] - 1
    };
    let t = Instant::now();
    match s.drivers[run].create(seq).await {
        Ok(m) => {
            let took = t.elapsed();
            s.boots.lock().expect("boots")[run] += took;
            s.events.emit(RunEvent::MachineUp {
                run: s.ids[run].clone(),
                took,
                how: m.how_up(),
            });
            Ok(m)
        }
        Err(e) => {
            let error = format!("bringing up a machine of {} failed: {e}", s.ids[run]);
            s.events.emit(RunEvent::PlatformFailed {
                run: s.ids[run].clone(),
                error: error.clone(),
            });
            s.queue.lock().expect("queue").broken[run] = Some(error.clone());
            Err(error)
        }
    }
}

/// Runs one item on the worker's machine, bringing one up or resetting it
/// first. The machine is left in `held` unless it was destroyed.
async fn run_item<D, R>(
    s: &Shared<D, R>,
    held: &mut Option<Held<D::M>>,
    item: &Item,
) -> ScenarioResult
where
    D: Driver + 'static,
    R: CaseRunner<D::M> + 'static,
{
    let run = item.run;
    let broken = |why: String| ScenarioResult::without_steps(&item.scenario, Outcome::Broken(why));
    if let Some(e) = s.queue.lock().expect("queue").broken[run].clone() {
        return broken(e);
    }
    // Back to a clean machine: reset, or a new one.
    if let Some(h) = held.as_mut() {
        if !h.fresh {
            match h.machine.reset().await {
                Ok(Reset::Done(_)) => {}
                Ok(Reset::Recreate) => {
                    let old = held.take().expect("held");
                    old.machine.destroy().await;
                }
                Err(e) => {
                    let old = held.take().expect("held");
                    old.machine.destroy().await;
                    return broken(format!("reset failed: {e}"));
                }
            }
        }
    }
    if held.is_none() {
        match create(s, run).await {
            Ok(machine) => {
                *held = Some(Held {
                    machine,
                    fresh: true,
                })
            }
            Err(e) => return broken(e),
        }
    }
    let h = held.as_mut().expect("a machine");
    h.fresh = false;
    s.events.emit(RunEvent::ScenarioStarted {
        run: s.ids[run].clone(),
        scenario: item.scenario.name.clone(),
    });
    let id = s.ids[run].clone();
    let name = item.scenario.name.clone();
    let events = s.events.clone();
    let on_step = move |st: &crate::scenario::StepResult| {
        events.emit(RunEvent::StepFinished {
            run: id.clone(),
            scenario: name.clone(),
            step: st.clone(),
        })
    };
    s.runner.run(&mut h.machine, &item.scenario, &on_step).await
}

/// The scheduler and the scenario runner against fake machines: a driver
/// whose machines run commands on this machine (`Conn::Local`), and a
/// runner that decides outcomes by the scenario's name. Milliseconds each.
#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::driver::{DriverError, HostInfo, Need};
    use crate::platform::Platform;
    use crate::report::event::Watch;
    use crate::scenario::StepResult;
    use crate::transport::Conn;

    #[derive(Default)]
    struct Counters {
        created: AtomicUsize,
        destroyed: AtomicUsize,
        resets: AtomicUsize,
        live: AtomicUsize,
        most_live: AtomicUsize,
    }

    struct FakeMachine {
        seq: usize,
        counters: Arc<Counters>,
        recreate: bool,
        conn_fails: bool,
    }

    impl Machine for FakeMachine {
        async fn conn(&mut self) -> Result<Conn<'_>, DriverError> {
            if self.conn_fails {
                return Err(DriverError::Tool {
                    tool: "fake".into(),
                    detail: "the connection went".into(),
                });
            }
            Ok(Conn::Local)
        }
        fn host(&self) -> HostInfo {
            HostInfo {
                data_disk: "/dev/null".into(),
                client_tls_dir: std::env::temp_dir(),
                names: vec![],
                ips: vec![],
                docker_tls: ("127.0.0.1".into(), 1),
            }
        }
        async fn reset(&mut self) -> Result<Reset, DriverError> {
            self.counters.resets.fetch_add(1, Ordering::SeqCst);
            Ok(if self.recreate {
                Reset::Recreate
            } else {
                Reset::Done(Duration::ZERO)
            })
        }
        async fn reboot(&mut self, _limit: Duration) -> Result<Duration, DriverError> {
            Ok(Duration::ZERO)
        }
        fn death_report(&mut self) -> Option<String> {
            None
        }
        async fn destroy(self) {
            self.counters.destroyed.fetch_add(1, Ordering::SeqCst);
            self.counters.live.fetch_sub(1, Ordering::SeqCst);
        }
    }

    struct FakeDriver {
        id: RunId,
        counters: Arc<Counters>,
        max: usize,
        recreate: bool,
        cannot_reboot: bool,
        prepare_fails: bool,
        conn_fails: bool,
    }

    impl FakeDriver {
        fn new(p: Platform) -> Self {
            Self {
                id: RunId::Qemu(p),
                counters: Arc::default(),
                max: usize::MAX,
                recreate: false,
                cannot_reboot: false,
                prepare_fails: false,
                conn_fails: false,
            }
        }
    }

    impl Driver for FakeDriver {
        type M = FakeMachine;
        fn id(&self) -> RunId {
            self.id.clone()
        }
        fn cannot(&self, need: Need) -> Option<String> {
            (self.cannot_reboot && need == Need::Reboot).then(|| "a fake cannot reboot".into())
        }
        fn max_machines(&self) -> usize {
            self.max
        }
        async fn prepare(&mut self) -> Result<(), DriverError> {
            if self.prepare_fails {
                return Err(DriverError::Tool {
                    tool: "fake image".into(),
                    detail: "no image".into(),
                });
            }
            Ok(())
        }
        async fn create(&self, seq: usize) -> Result<FakeMachine, DriverError> {
            self.counters.created.fetch_add(1, Ordering::SeqCst);
            let now = self.counters.live.fetch_add(1, Ordering::SeqCst) + 1;
            self.counters.most_live.fetch_max(now, Ordering::SeqCst);
            Ok(FakeMachine {
                seq,
                counters: self.counters.clone(),
                recreate: self.recreate,
                conn_fails: self.conn_fails,
            })
        }
    }

    /// Outcomes by name: `broken-*` breaks the machine, `fail-*` fails,
    /// the rest pass; each takes a few milliseconds, longer for early names,
    /// so workers finish out of order. Logs (scenario, machine seq).
    #[derive(Clone, Default)]
    struct ByName(Arc<Mutex<Vec<(String, usize)>>>);

    impl CaseRunner<FakeMachine> for ByName {
        async fn run(
            &self,
            m: &mut FakeMachine,
            sc: &Scenario,
            on_step: OnStep<'_>,
        ) -> ScenarioResult {
            let delay = 20u64.saturating_sub(sc.name.len() as u64);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            self.0.lock().unwrap().push((sc.name.clone(), m.seq));
            let step = StepResult {
                name: format!("prepare: {}", sc.name),
                command: "true".into(),
                output: String::new(),
                duration: Duration::ZERO,
                ok: !sc.name.starts_with("fail"),
                message: None,
            };
            on_step(&step);
            let outcome = if sc.name.starts_with("broken") {
                Outcome::Broken("the machine died".into())
            } else if sc.name.starts_with("fail") {
                Outcome::Failed("a step failed".into())
            } else {
                Outcome::Passed
            };
            ScenarioResult {
                steps: vec![step],
                outcome,
                ..ScenarioResult::without_steps(sc, Outcome::Passed)
            }
        }
    }

    fn scenarios(dir: &std::path::Path, specs: &[(&str, &str)]) -> Vec<Scenario> {
        specs
            .iter()
            .map(|(name, extra)| {
                let p = dir.join(format!("{name}.yaml"));
                std::fs::write(&p, format!("control: icc\n{extra}")).unwrap();
                crate::scenario::load_file(&p).unwrap()
            })
            .collect()
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn recorder() -> (Arc<Reporters>, Arc<Mutex<Vec<RunEvent>>>) {
        let seen: Arc<Mutex<Vec<RunEvent>>> = Arc::default();
        let s = seen.clone();
        let r = Reporters::new(vec![Box::new(Watch(move |e: &RunEvent| {
            s.lock().unwrap().push(e.clone())
        }))]);
        (Arc::new(r), seen)
    }

    fn names(run: &PlatformRun) -> Vec<String> {
        run.results.iter().map(|r| r.scenario.clone()).collect()
    }

    #[test]
    fn results_come_back_in_file_order_whatever_the_workers_did() {
        let dir = tempfile::tempdir().unwrap();
        let list: Vec<(&str, &str)> = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "g"]
            .iter()
            .map(|n| (*n, ""))
            .collect();
        let sc = scenarios(dir.path(), &list);
        let serial = block(run(
            vec![FakeDriver::new(Platform::Debian12)],
            vec![sc.clone()],
            1,
            ByName::default(),
            Arc::new(Reporters::default()),
        ));
        for jobs in [2, 3, 8] {
            let drivers = vec![
                FakeDriver::new(Platform::Debian12),
                FakeDriver::new(Platform::Debian13),
            ];
            let runs = block(run(
                drivers,
                vec![sc.clone(), sc.clone()],
                jobs,
                ByName::default(),
                Arc::new(Reporters::default()),
            ));
            assert_eq!(runs.len(), 2);
            assert_eq!(names(&runs[0]), names(&serial[0]), "{jobs} workers");
            assert_eq!(names(&runs[1]), names(&serial[0]), "{jobs} workers");
            assert_eq!(runs[1].id, RunId::Qemu(Platform::Debian13));
        }
    }

    #[test]
    fn a_broken_machine_is_replaced_and_the_rest_reset_the_same_one() {
        let dir = tempfile::tempdir().unwrap();
        let sc = scenarios(
            dir.path(),
            &[("a", ""), ("broken-b", ""), ("c", ""), ("d", "")],
        );
        let driver = FakeDriver::new(Platform::Debian12);
        let counters = driver.counters.clone();
        let runner = ByName::default();
        let runs = block(run(
            vec![driver],
            vec![sc],
            1,
            runner.clone(),
            Arc::new(Reporters::default()),
        ));
        let log = runner.0.lock().unwrap().clone();
        // a and broken-b on the first machine; c and d on a new one.
        assert_eq!(
            log,
            vec![
                ("a".to_string(), 0),
                ("broken-b".into(), 0),
                ("c".into(), 1),
                ("d".into(), 1)
            ]
        );
        assert_eq!(counters.created.load(Ordering::SeqCst), 2);
        assert_eq!(
            counters.destroyed.load(Ordering::SeqCst),
            2,
            "nothing left up"
        );
        // Resets: before broken-b (after a) and before d (after c).
        assert_eq!(counters.resets.load(Ordering::SeqCst), 2);
        let outcomes: Vec<&str> = runs[0].results.iter().map(|r| r.outcome.word()).collect();
        assert_eq!(outcomes, ["pass", "ERROR", "pass", "pass"]);
        assert_eq!(RunStats::of(&runs).exit_code(), 1);
    }

    #[test]
    fn a_driver_that_cannot_reset_gets_a_fresh_machine_each_time_within_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let sc = scenarios(dir.path(), &[("a", ""), ("b", ""), ("c", ""), ("d", "")]);
        let mut driver = FakeDriver::new(Platform::Debian12);
        driver.recreate = true;
        driver.max = 1;
        let counters = driver.counters.clone();
        let runs = block(run(
            vec![driver],
            vec![sc],
            4,
            ByName::default(),
            Arc::new(Reporters::default()),
        ));
        assert_eq!(counters.created.load(Ordering::SeqCst), 4);
        assert_eq!(counters.destroyed.load(Ordering::SeqCst), 4);
        assert_eq!(
            counters.most_live.load(Ordering::SeqCst),
            1,
            "one machine at a time"
        );
        assert!(runs[0].results.iter().all(ScenarioResult::passed));
    }

    #[test]
    fn what_the_driver_cannot_offer_is_skipped_without_a_machine() {
        let dir = tempfile::tempdir().unwrap();
        let sc = scenarios(dir.path(), &[("a", "after_fix: reboot\n"), ("b", "")]);
        let mut driver = FakeDriver::new(Platform::Debian12);
        driver.cannot_reboot = true;
        let runner = ByName::default();
        let runs = block(run(
            vec![driver],
            vec![sc],
            2,
            runner.clone(),
            Arc::new(Reporters::default()),
        ));
        assert_eq!(
            runs[0].results[0].outcome,
            Outcome::Skipped("a fake cannot reboot".into())
        );
        assert!(runs[0].results[1].passed());
        assert_eq!(runner.0.lock().unwrap().len(), 1, "only b ran");
    }

    #[test]
    fn a_run_that_cannot_prepare_breaks_its_scenarios_and_the_others_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let sc = scenarios(dir.path(), &[("a", ""), ("b", "")]);
        let mut bad = FakeDriver::new(Platform::Debian13);
        bad.prepare_fails = true;
        let (events, seen) = recorder();
        let runs = block(run(
            vec![FakeDriver::new(Platform::Debian12), bad],
            vec![sc.clone(), sc],
            2,
            ByName::default(),
            events,
        ));
        assert!(runs[0].results.iter().all(ScenarioResult::passed));
        assert!(runs[1].error.as_deref().unwrap().contains("no image"));
        for r in &runs[1].results {
            assert!(
                matches!(&r.outcome, Outcome::Broken(m) if m.contains("no image")),
                "{r:?}"
            );
        }
        let stats = RunStats::of(&runs);
        assert_eq!(
            (stats.passed, stats.broken, stats.platform_errors),
            (2, 2, 1)
        );
        assert_eq!(stats.exit_code(), 2);
        let seen = seen.lock().unwrap();
        assert!(seen
            .iter()
            .any(|e| matches!(e, RunEvent::PlatformFailed { run, .. } if *run == RunId::Qemu(Platform::Debian13))));
    }

    #[test]
    fn every_scenario_streams_started_steps_finished_and_the_run_ends_last() {
        let dir = tempfile::tempdir().unwrap();
        let sc = scenarios(dir.path(), &[("a", ""), ("fail-b", ""), ("c", "")]);
        let (events, seen) = recorder();
        block(run(
            vec![FakeDriver::new(Platform::Debian12)],
            vec![sc],
            2,
            ByName::default(),
            events,
        ));
        let seen = seen.lock().unwrap();
        assert!(matches!(
            seen.first(),
            Some(RunEvent::RunStarted { cases: 3, .. })
        ));
        let Some(RunEvent::RunFinished { stats, .. }) = seen.last() else {
            panic!("the last event is not RunFinished: {:?}", seen.last());
        };
        assert_eq!((stats.passed, stats.failed), (2, 1));
        for name in ["a", "fail-b", "c"] {
            let pos = |f: &dyn Fn(&RunEvent) -> bool| seen.iter().position(f).unwrap();
            let started = pos(
                &|e| matches!(e, RunEvent::ScenarioStarted { scenario, .. } if scenario == name),
            );
            let step =
                pos(&|e| matches!(e, RunEvent::StepFinished { scenario, .. } if scenario == name));
            let done = pos(
                &|e| matches!(e, RunEvent::ScenarioFinished { result, .. } if result.scenario == name),
            );
            assert!(
                started < step && step < done,
                "{name}: {started} {step} {done}"
            );
        }
        assert_eq!(
            seen.iter()
                .filter(|e| matches!(e, RunEvent::MachineUp { .. }))
                .count(),
            1,
            "one machine, reset between scenarios"
        );
    }

    #[test]
    fn shards_run_through_the_scheduler_add_up_to_the_whole_run() {
        let dir = tempfile::tempdir().unwrap();
        let list: Vec<(&str, &str)> = ["a", "b", "c", "d", "e"].iter().map(|n| (*n, "")).collect();
        let sc = scenarios(dir.path(), &list);
        let refs: Vec<&Scenario> = sc.iter().collect();
        let runs_of = |plan: Vec<Vec<Scenario>>| {
            block(run(
                vec![
                    FakeDriver::new(Platform::Debian12),
                    FakeDriver::new(Platform::Debian13),
                ],
                plan,
                2,
                ByName::default(),
                Arc::new(Reporters::default()),
            ))
        };
        let set = |runs: &[PlatformRun]| -> BTreeSet<(String, String)> {
            runs.iter()
                .flat_map(|r| r.results.iter().map(|x| (r.label(), x.scenario.clone())))
                .collect()
        };
        let whole = set(&runs_of(vec![sc.clone(), sc.clone()]));
        assert_eq!(whole.len(), 10);
        let mut union = BTreeSet::new();
        for k in 1..=3 {
            let cut =
                crate::suite::Partition { k, n: 3 }.cut_runs(&[0usize, 1], &refs, |_, _| true);
            let plan: Vec<Vec<Scenario>> = (0..2)
                .map(|i| {
                    sc.iter()
                        .filter(|s| cut.iter().any(|(r, n)| *r == i && *n == s.name))
                        .cloned()
                        .collect()
                })
                .collect();
            let part = set(&runs_of(plan));
            assert!(union.is_disjoint(&part), "shard {k} overlaps");
            union.extend(part);
        }
        assert_eq!(union, whole);
    }

    /// The real scenario runner on a fake machine: a failing prepare step
    /// fails the scenario at that step; a machine whose connection goes is
    /// broken, not failed; a missing package manager skips.
    #[test]
    fn the_runner_tells_failed_from_broken_from_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let sc = scenarios(
            dir.path(),
            &[
                (
                    "prep",
                    "prepare:\n  - name: make it wrong\n    run: echo nope; exit 3\n",
                ),
                ("pm", "needs: [dnf]\nprepare:\n  - run: exit 0\n"),
            ],
        );
        let policy = shipshape_checks::Policy::default();
        let steps: Arc<Mutex<Vec<String>>> = Arc::default();
        let s2 = steps.clone();
        let on_step = move |st: &StepResult| s2.lock().unwrap().push(st.name.clone());
        let counters = Arc::new(Counters::default());
        let machine = |conn_fails| FakeMachine {
            seq: 1,
            counters: counters.clone(),
            recreate: false,
            conn_fails,
        };
        let r = block(async {
            crate::scenario::run_scenario(&mut machine(false), &sc[0], &policy, &on_step).await
        });
        assert!(
            matches!(&r.outcome, Outcome::Failed(m) if m.contains("make it wrong") && m.contains("exit status 3")),
            "{r:?}"
        );
        assert_eq!(
            *steps.lock().unwrap(),
            vec!["prepare: make it wrong".to_string()]
        );
        assert!(r.steps[0].output.contains("nope"));
        let r = block(async {
            crate::scenario::run_scenario(&mut machine(true), &sc[0], &policy, &on_step).await
        });
        assert!(
            matches!(&r.outcome, Outcome::Broken(m) if m.contains("connection went")),
            "{r:?}"
        );
        if std::process::Command::new("sh")
            .args(["-c", "command -v dnf"])
            .status()
            .is_ok_and(|s| !s.success())
        {
            let r = block(async {
                crate::scenario::run_scenario(&mut machine(false), &sc[1], &policy, &on_step).await
            });
            assert!(
                matches!(&r.outcome, Outcome::Skipped(m) if m.contains("dnf")),
                "{r:?}"
            );
        }
    }
}
