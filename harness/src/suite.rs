//! The matrix: scenarios × platforms on a pool of worker VMs, a snapshot
//! reset before every scenario.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shipshape_checks::Policy;

use crate::driver::container::{self, ContainerVm};
use crate::driver::vagrant::{Provider, VagrantPlatform};
use crate::driver::{BootOptions, QemuVm, VagrantVm};
use crate::image::Image;
use crate::paths::Home;
use crate::platform::Platform;
use crate::progress::Progress;
use crate::scenario::{run_scenario, Scenario, ScenarioResult};

#[derive(Debug, Clone)]
pub struct PlatformRun {
    /// The testsuite's name: the platform, or the host for an SSH target.
    pub label: String,
    pub platform: Option<Platform>,
    pub results: Vec<ScenarioResult>,
    /// Set when the platform could not run at all (image or boot failed).
    pub error: Option<String>,
    pub boot: Duration,
    pub duration: Duration,
}

pub use crate::glob::glob_match;

pub fn select<'a>(scenarios: &'a [Scenario], globs: &[String]) -> Vec<&'a Scenario> {
    scenarios
        .iter()
        .filter(|s| globs.is_empty() || globs.iter().any(|g| glob_match(g, &s.name)))
        .collect()
}

/// `--partition k/n`: shard k (1-based) of n. Cases are `platform::scenario`
/// in file order, dealt round-robin, so every shard gets a share of each
/// platform and the cut depends on nothing but the case list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub k: usize,
    pub n: usize,
}

impl std::str::FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}`: expected k/n with 1 ≤ k ≤ n, e.g. 2/3");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        Ok(Self { k, n })
    }
}

impl Partition {
    /// The (platform, scenario) pairs of this shard.
    pub fn cut(&self, platforms: &[Platform], scenarios: &[&Scenario]) -> Vec<(Platform, String)> {
        platforms
            .iter()
            .flat_map(|p| {
                scenarios
                    .iter()
                    .filter(|s| s.runs_on(*p))
                    .map(move |s| (*p, s.name.clone()))
            })
            .enumerate()
            .filter(|(i, _)| i % self.n == self.k - 1)
            .map(|(_, c)| c)
            .collect()
    }
}

/// The default number of workers: one VM per core. Under TCG a VM keeps
/// about one core busy through a dockerd restart, so more VMs than cores only
/// slow each other down.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1)
}

/// Called with each result as it comes in.
pub type OnResult = Arc<dyn Fn(Platform, &ScenarioResult) + Send + Sync>;

/// One unit of work: a scenario on a platform, and where it sorts in the report.
struct Item {
    platform: Platform,
    order: usize,
    scenario: Scenario,
}

#[derive(Default)]
struct Queue {
    /// Per platform, the scenarios still to run: longest first (those that
    /// reboot), so that the last ones to finish are short.
    todo: Vec<(Platform, VecDeque<Item>)>,
    /// VMs of each platform that workers hold now.
    live: HashMap<Platform, usize>,
    /// A platform whose image or boot failed: its remaining scenarios fail
    /// with this error instead of each trying again.
    broken: HashMap<Platform, String>,
}

impl Queue {
    /// The next item for a worker holding a VM of `current`: more of the
    /// same platform if any; otherwise the platform with the most left,
    /// unless another worker holding that platform will finish it soon.
    fn next(&mut self, current: Option<Platform>) -> Option<Item> {
        if let Some(p) = current {
            if let Some((_, q)) = self.todo.iter_mut().find(|(x, q)| *x == p && !q.is_empty()) {
                return q.pop_front();
            }
        }
        let live = &self.live;
        let (_, q) = self
            .todo
            .iter_mut()
            .filter(|(p, q)| {
                // A boot costs two or three scenarios' time, and the workers
                // already on the platform keep going: joining them pays only
                // for a long queue. Nobody on it: someone must go.
                let live = live.get(p).copied().unwrap_or(0);
                !q.is_empty() && (live == 0 || q.len() >= 3 * (live + 1))
            })
            .max_by_key(|(_, q)| q.len())?;
        q.pop_front()
    }
}

/// Runs `scenarios` × `platforms` (the pairs `keep` accepts) on `jobs` workers. Each worker owns one VM
/// at a time, from the same image and snapshot, resets it before every
/// scenario, and moves to another platform when its own runs out. Results are
/// reported as they finish; the returned runs list them in scenario order, so
/// a parallel run reports exactly what a serial one does.
pub async fn run_matrix(
    home: &Home,
    platforms: &[Platform],
    scenarios: &[&Scenario],
    keep: &dyn Fn(Platform, &Scenario) -> bool,
    policy: &Policy,
    jobs: usize,
    on_result: OnResult,
) -> Vec<PlatformRun> {
    let started = Instant::now();
    let mut queue = Queue::default();
    let mut total = 0;
    for p in platforms {
        let mut items: Vec<Item> = scenarios
            .iter()
            .enumerate()
            .filter(|(_, s)| s.runs_on(*p) && keep(*p, s))
            .map(|(order, s)| Item {
                platform: *p,
                order,
                scenario: (*s).clone(),
            })
            .collect();
        // Stable: reboots first, then file order.
        items.sort_by_key(|i| i.scenario.after_fix != crate::scenario::AfterFix::Reboot);
        total += items.len();
        queue.todo.push((*p, items.into()));
    }
    let queue = Arc::new(Mutex::new(queue));
    let results: Arc<Mutex<Vec<(Platform, usize, ScenarioResult)>>> = Arc::default();
    let boots: Arc<Mutex<HashMap<Platform, Duration>>> = Arc::default();
    let mut set = tokio::task::JoinSet::new();
    let jobs = jobs.clamp(1, total.max(1));
    for w in 0..jobs {
        let (home, policy, queue, results, boots, on_result) = (
            home.clone(),
            policy.clone(),
            queue.clone(),
            results.clone(),
            boots.clone(),
            on_result.clone(),
        );
        set.spawn(async move {
            worker(w, home, policy, queue, results, boots, on_result).await;
        });
    }
    while set.join_next().await.is_some() {}
    let mut results = std::mem::take(&mut *results.lock().expect("results"));
    results.sort_by_key(|(p, order, _)| (platforms.iter().position(|x| x == p), *order));
    let queue = queue.lock().expect("queue");
    let boots = boots.lock().expect("boots");
    platforms
        .iter()
        .map(|p| PlatformRun {
            label: p.name().to_string(),
            platform: Some(*p),
            results: results
                .iter()
                .filter(|(x, _, _)| x == p)
                .map(|(_, _, r)| r.clone())
                .collect(),
            error: queue.broken.get(p).cloned(),
            boot: boots.get(p).copied().unwrap_or_default(),
            duration: started.elapsed(),
        })
        .collect()
}

fn failed(sc: &Scenario, why: String) -> ScenarioResult {
    ScenarioResult {
        scenario: sc.name.clone(),
        control: sc.control.clone(),
        steps: Vec::new(),
        duration: Duration::ZERO,
        failure: Some(why),
        broken: true,
        skipped: None,
    }
}

async fn worker(
    w: usize,
    home: Home,
    policy: Policy,
    queue: Arc<Mutex<Queue>>,
    results: Arc<Mutex<Vec<(Platform, usize, ScenarioResult)>>>,
    boots: Arc<Mutex<HashMap<Platform, Duration>>>,
    on_result: OnResult,
) {
    let mut vm: Option<QemuVm> = None;
    let mut fresh = false;
    loop {
        let current = vm.as_ref().map(|v| v.record.platform);
        let Some(item) = queue.lock().expect("queue").next(current) else {
            break;
        };
        let p = item.platform;
        let result = 'run: {
            if let Some(e) = queue.lock().expect("queue").broken.get(&p) {
                break 'run failed(&item.scenario, e.clone());
            }
            if current != Some(p) {
                if let Some(old) = vm.take() {
                    release(&queue, old.record.platform);
                    old.destroy().await;
                }
                match boot(&home, p, w).await {
                    Ok((v, took)) => {
                        *boots.lock().expect("boots").entry(p).or_default() += took;
                        queue
                            .lock()
                            .expect("queue")
                            .live
                            .entry(p)
                            .and_modify(|n| *n += 1)
                            .or_insert(1);
                        vm = Some(v);
                        fresh = true;
                    }
                    Err(e) => {
                        queue.lock().expect("queue").broken.insert(p, e.clone());
                        break 'run failed(&item.scenario, e);
                    }
                }
            }
            let v = vm.as_mut().expect("booted above");
            if !fresh {
                if let Err(e) = v.reset().await {
                    // This VM is no longer trustworthy: the next scenario gets a new one.
                    let old = vm.take().expect("present");
                    release(&queue, p);
                    old.destroy().await;
                    break 'run failed(&item.scenario, format!("reset failed: {e}"));
                }
            }
            fresh = false;
            let r = run_scenario(v, &item.scenario, &policy).await;
            if r.broken {
                // The next scenario gets a new VM rather than a reset of this one.
                let old = vm.take().expect("present");
                release(&queue, p);
                old.destroy().await;
            }
            r
        };
        on_result(p, &result);
        results
            .lock()
            .expect("results")
            .push((p, item.order, result));
    }
    if let Some(old) = vm.take() {
        release(&queue, old.record.platform);
        old.destroy().await;
    }
}

fn release(queue: &Mutex<Queue>, p: Platform) {
    if let Some(n) = queue.lock().expect("queue").live.get_mut(&p) {
        *n = n.saturating_sub(1);
    }
}

async fn boot(home: &Home, p: Platform, w: usize) -> Result<(QemuVm, Duration), String> {
    let progress = Progress::new(&p.to_string());
    let image = crate::bake::ensure(home, p, &progress)
        .await
        .map_err(|e| format!("image build failed: {e}"))?;
    progress.stage("booting");
    let t = Instant::now();
    let name = format!("test-{}-{}-w{w}", p, std::process::id());
    let vm = QemuVm::boot(home, &image, BootOptions::new(name))
        .await
        .map_err(|e| format!("boot failed: {e}"))?;
    progress.finish(&format!(
        "{} in {:.1}s",
        if vm.resumed {
            "resumed the saved boot"
        } else {
            "booted"
        },
        t.elapsed().as_secs_f64()
    ));
    Ok((vm, t.elapsed()))
}

/// Runs `scenarios` on `platform` with one VM, one after another.
pub async fn run_platform(
    home: &Home,
    platform: Platform,
    scenarios: &[&Scenario],
    policy: &Policy,
) -> PlatformRun {
    run_matrix(
        home,
        &[platform],
        scenarios,
        &|_, _| true,
        policy,
        1,
        Arc::new(|_, _| {}),
    )
    .await
    .pop()
    .expect("one platform")
}

/// A machine brought up for one scenario and thrown away after it.
pub trait Disposable: crate::driver::Machine {
    fn up_took(&self) -> Duration;
    fn destroy(self) -> impl std::future::Future<Output = ()> + Send;
}

impl Disposable for VagrantVm {
    fn up_took(&self) -> Duration {
        self.up_took
    }
    async fn destroy(self) {
        VagrantVm::destroy(self).await
    }
}

impl Disposable for ContainerVm {
    fn up_took(&self) -> Duration {
        self.up_took
    }
    async fn destroy(self) {
        ContainerVm::destroy(self).await
    }
}

/// Test-Kitchen style: every scenario gets a machine of its own from
/// `start` (called with its index), destroyed after it, unless `skip` gives
/// a reason not to run it.
async fn run_fresh<M, Fut>(
    label: String,
    what: &str,
    scenarios: &[&Scenario],
    policy: &Policy,
    on_result: &(dyn Fn(&ScenarioResult) + Send + Sync),
    skip: impl Fn(&Scenario) -> Option<String>,
    start: impl Fn(usize) -> Fut,
) -> PlatformRun
where
    M: Disposable,
    Fut: std::future::Future<Output = Result<M, crate::driver::DriverError>>,
{
    let started = Instant::now();
    let mut results = Vec::new();
    let mut boot = Duration::ZERO;
    for (i, sc) in scenarios.iter().enumerate() {
        let r = if let Some(why) = skip(sc) {
            ScenarioResult::skip(sc, why)
        } else {
            let progress = Progress::new(&format!("{label} {}", sc.name));
            progress.stage(what);
            match start(i).await {
                Ok(mut vm) => {
                    boot += vm.up_took();
                    progress.finish(&format!("up in {:.1}s", vm.up_took().as_secs_f64()));
                    let r = run_scenario(&mut vm, sc, policy).await;
                    vm.destroy().await;
                    r
                }
                Err(e) => {
                    progress.finish(&format!("{what} failed"));
                    failed(sc, format!("{what} failed: {e}"))
                }
            }
        };
        on_result(&r);
        results.push(r);
    }
    PlatformRun {
        label,
        platform: None,
        results,
        error: None,
        boot,
        duration: started.elapsed(),
    }
}

/// Runs `scenarios` through Vagrant: every scenario gets its own `vagrant
/// up`, and a `vagrant destroy` after it, so each starts from the box as it
/// was built (Vagrant has no snapshot reset to lean on).
pub async fn run_vagrant(
    home: &Home,
    platform: &VagrantPlatform,
    provider: Provider,
    libvirt_driver: &str,
    scenarios: &[&Scenario],
    policy: &Policy,
    on_result: &(dyn Fn(&ScenarioResult) + Send + Sync),
) -> PlatformRun {
    run_fresh(
        format!("{}-vagrant", platform.name),
        "vagrant up",
        scenarios,
        policy,
        on_result,
        |_| None,
        |i| {
            let name = format!("{}-{}-{i}", platform.name, std::process::id());
            async move {
                VagrantVm::up(
                    home,
                    platform,
                    provider,
                    libvirt_driver,
                    &name,
                    Duration::from_secs(600),
                )
                .await
            }
        },
    )
    .await
}

/// Runs `scenarios` in containers of `image`: a fresh container for each,
/// removed after it. A scenario that needs what a container cannot offer (a
/// reboot, a disk, limits the runtime lacks) is skipped with the reason.
pub async fn run_containers(
    image: &Image,
    privileges: &container::Privileges,
    scenarios: &[&Scenario],
    policy: &Policy,
    on_result: &(dyn Fn(&ScenarioResult) + Send + Sync),
) -> PlatformRun {
    run_fresh(
        format!("{}-container", image.platform.name()),
        "container start",
        scenarios,
        policy,
        on_result,
        |sc| {
            let why: Vec<String> = sc
                .all_needs()
                .into_iter()
                .filter_map(|n| container::cannot(n, privileges))
                .collect();
            (!why.is_empty()).then(|| why.join("; "))
        },
        |i| {
            let name = format!("{}-{}-{i}", image.platform.name(), std::process::id());
            async move { ContainerVm::start(image, privileges, &name, Duration::from_secs(120)).await }
        },
    )
    .await
}

#[cfg(test)]
mod tests {

    #[test]
    fn partitions_are_disjoint_and_cover_everything() {
        use super::Partition;
        use crate::platform::Platform;
        let all = crate::scenario::model::shipped();
        let refs: Vec<_> = all.iter().collect();
        let platforms = [Platform::Debian12, Platform::Debian13];
        let whole = Partition { k: 1, n: 1 }.cut(&platforms, &refs);
        for n in 1..=4 {
            let mut union = Vec::new();
            for k in 1..=n {
                let shard = Partition { k, n }.cut(&platforms, &refs);
                // Deterministic: the same cut twice.
                assert_eq!(shard, Partition { k, n }.cut(&platforms, &refs));
                union.extend(shard);
            }
            let mut a = union.clone();
            a.sort_by_key(|(p, s)| (p.name(), s.clone()));
            a.dedup();
            assert_eq!(a.len(), union.len(), "shards of {n} overlap");
            let mut b = whole.clone();
            b.sort_by_key(|(p, s)| (p.name(), s.clone()));
            assert_eq!(a, b, "shards of {n} do not cover the whole run");
        }
        for bad in ["0/2", "3/2", "1/0", "x/2", "2"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad} parsed");
        }
    }
}
