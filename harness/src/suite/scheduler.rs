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
    /// Machines created so far, per run (their `seq`).
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
        q.created[run]
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
