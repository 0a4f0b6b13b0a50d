//! The plan of a run (which scenarios, which shard) and the one scheduler
//! that runs it on any driver.

pub mod scheduler;

pub use crate::report::event::PlatformRun;
pub use scheduler::{run, CaseRunner, Scenarios};

use shipshape_checks::Policy;

use crate::driver::Machine;
use crate::platform::Platform;
use crate::scenario::{run_scenario, OnStep, Scenario, ScenarioResult};

/// The scenario runner, as the scheduler calls it: every scenario with the
/// run's policy (and its own values on top).
pub struct RunScenarios {
    pub policy: Policy,
}

impl<M: Machine> CaseRunner<M> for RunScenarios {
    async fn run(
        &self,
        machine: &mut M,
        scenario: &Scenario,
        on_step: OnStep<'_>,
    ) -> ScenarioResult {
        run_scenario(machine, scenario, &self.policy, on_step).await
    }
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

/// A `--partition` that is not k/n.
#[derive(Debug, thiserror::Error)]
#[error("`{0}`: expected k/n with 1 ≤ k ≤ n, e.g. 2/3")]
pub struct BadPartition(String);

impl std::str::FromStr for Partition {
    type Err = BadPartition;
    fn from_str(s: &str) -> Result<Self, BadPartition> {
        let bad = || BadPartition(s.to_string());
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
        self.cut_runs(platforms, scenarios, |p, s| s.runs_on(*p))
    }

    /// The same cut over any runs, with what each run takes.
    pub fn cut_runs<R: Clone>(
        &self,
        runs: &[R],
        scenarios: &[&Scenario],
        takes: impl Fn(&R, &Scenario) -> bool,
    ) -> Vec<(R, String)> {
        runs.iter()
            .flat_map(|r| {
                scenarios
                    .iter()
                    .filter(|s| takes(r, s))
                    .map(|s| (r.clone(), s.name.clone()))
                    .collect::<Vec<_>>()
            })
            .enumerate()
            .filter(|(i, _)| i % self.n == self.k - 1)
            .map(|(_, c)| c)
            .collect()
    }
}

/// Each run's scenarios in file order: those of `chosen` that run on its
/// platform (a run that is not one of shipshape's images takes them all),
/// cut to `partition`'s shard.
pub fn plan(
    ids: &[crate::driver::RunId],
    chosen: &[&Scenario],
    partition: Option<Partition>,
) -> Vec<Vec<Scenario>> {
    let takes = |i: &usize, s: &Scenario| ids[*i].platform().is_none_or(|p| s.runs_on(p));
    let indexes: Vec<usize> = (0..ids.len()).collect();
    let shard = partition.map(|p| p.cut_runs(&indexes, chosen, takes));
    if let (Some(p), Some(cases)) = (&partition, &shard) {
        eprintln!(
            "shipshape test: shard {}/{}: {} case(s)",
            p.k,
            p.n,
            cases.len()
        );
    }
    indexes
        .iter()
        .map(|i| {
            chosen
                .iter()
                .filter(|s| takes(i, s))
                .filter(|s| {
                    shard
                        .as_ref()
                        .is_none_or(|c| c.iter().any(|(x, n)| x == i && *n == s.name))
                })
                .map(|s| (*s).clone())
                .collect()
        })
        .collect()
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
