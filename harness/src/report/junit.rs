//! JUnit XML (quick-junit, the nextest team's writer): one testcase per
//! control; a fail is a failure carrying the evidence and the remediation;
//! not-applicable and manual are skipped with their reason.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use shipshape_checks::{find_control, Benchmark, Verdict};

use crate::audit::AuditRun;
use crate::gate::{Decision, Judgement};
use crate::report::event::{PlatformRun, ReportError, RunEvent};
use crate::scenario::Outcome;

/// The classname of each testcase is the control's CIS id in `benchmark`
/// (`cis-2.8`), and the suite's properties name the benchmark.
pub fn audit_suite(run: &AuditRun, benchmark: Benchmark, j: &Judgement) -> TestSuite {
    let mut suite = TestSuite::new(format!("audit {}", run.target));
    suite.set_time(run.duration);
    suite.add_property(quick_junit::Property::new("benchmark", benchmark.name()));
    suite.add_property(quick_junit::Property::new(
        "benchmark.version",
        benchmark.version(),
    ));
    for (k, v) in j.properties() {
        if k != "benchmark" && k != "benchmark.version" {
            suite.add_property(quick_junit::Property::new(k, v));
        }
    }
    for f in &run.findings {
        let meta = find_control(f.id);
        let evidence = f.evidence.join("\n");
        let status = match &f.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Fail if matches!(j.gate.of(f.id), Some(Decision::Waived { .. })) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(j.note(f.id).unwrap_or_default());
                s
            }
            Verdict::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                match (j.gate.of(f.id), j.note(f.id)) {
                    (Some(Decision::WaiverExpired { .. }), Some(note)) => {
                        s.set_message(format!("{}; {note}", meta.map(|m| m.title).unwrap_or(f.id)));
                        s.set_type("waiver-expired");
                    }
                    (Some(Decision::BelowThreshold), _) => {
                        s.set_message(meta.map(|m| m.title).unwrap_or(f.id));
                        s.set_type("below-threshold");
                    }
                    _ => {
                        s.set_message(meta.map(|m| m.title).unwrap_or(f.id));
                        s.set_type("fail");
                    }
                }
                s.set_description(format!(
                    "evidence:\n{evidence}\n\nremediation:\n{}",
                    meta.map(|m| m.remediation).unwrap_or("")
                ));
                s
            }
            Verdict::NotApplicable { why } => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("not applicable: {why}"));
                s
            }
            Verdict::Manual { why } => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("manual: {why}"));
                s
            }
        };
        let mut case = TestCase::new(f.id, status);
        case.set_classname(format!(
            "cis-{}",
            meta.map(|m| m.cis_label(benchmark)).unwrap_or("?")
        ));
        if !evidence.is_empty() {
            case.set_system_out(evidence);
        }
        suite.add_test_case(case);
    }
    suite
}

pub fn render(run: &AuditRun, benchmark: Benchmark, j: &Judgement) -> String {
    let mut report = Report::new("shipshape-audit");
    report.add_test_suite(audit_suite(run, benchmark, j));
    report.to_string().expect("JUnit serializes")
}

/// One testsuite per platform, one testcase per scenario; each step's
/// command, output and duration go to system-out, and a failure names the
/// failing step.
pub fn scenarios(runs: &[PlatformRun]) -> String {
    let mut report = Report::new("shipshape-test");
    for run in runs {
        let mut suite = TestSuite::new(run.label());
        suite.set_time(run.duration);
        if let Some(err) = &run.error {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(err.clone());
            suite.add_test_case(TestCase::new("platform-setup", s));
        }
        for r in &run.results {
            let status = match &r.outcome {
                Outcome::Skipped(why) => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(why.clone());
                    s
                }
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Failed(msg) | Outcome::Broken(msg) => {
                    let mut s = TestCaseStatus::non_success(match r.outcome {
                        Outcome::Broken(_) => NonSuccessKind::Error,
                        _ => NonSuccessKind::Failure,
                    });
                    s.set_message(msg.lines().next().unwrap_or_default().to_string());
                    s.set_description(msg.clone());
                    s
                }
            };
            let mut case = TestCase::new(r.scenario.clone(), status);
            case.set_classname(format!("{}.{}", run.label(), r.control));
            case.set_time(r.duration);
            let mut out = String::new();
            for st in &r.steps {
                out.push_str(&format!(
                    "== {} [{}] {:.2}s\n$ {}\n{}\n",
                    st.name,
                    if st.ok { "ok" } else { "FAILED" },
                    st.duration.as_secs_f64(),
                    st.command.trim_end(),
                    st.output.trim_end()
                ));
                if let Some(m) = &st.message {
                    out.push_str(&format!("!! {m}\n"));
                }
            }
            case.set_system_out(out);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().expect("JUnit serializes")
}

/// Writes the run's JUnit file when the run finishes.
pub struct JunitFile(pub std::path::PathBuf);

impl crate::report::event::Reporter for JunitFile {
    fn event(&mut self, e: &RunEvent) -> Result<(), ReportError> {
        if let RunEvent::RunFinished { runs, .. } = e {
            crate::report::write_file(&self.0, &scenarios(runs))?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path}: not a JUnit report: {message}")]
    Parse { path: String, message: String },
    #[error("testcase `{suite}::{case}` is in both {first} and {second}: shards must not overlap")]
    Duplicate {
        suite: String,
        case: String,
        first: String,
        second: String,
    },
}

/// Combines the shards' reports: suites of the same name (a platform) become
/// one suite holding every shard's testcases. A testcase in two shards is an
/// error: it means the shards were not cut from the same partition.
pub fn merge(inputs: &[(String, String)]) -> Result<String, MergeError> {
    let mut suites: Vec<TestSuite> = Vec::new();
    let mut seen: std::collections::HashMap<(String, String), String> = Default::default();
    let mut time = std::time::Duration::ZERO;
    for (path, xml) in inputs {
        let report = Report::deserialize_from_str(xml).map_err(|e| MergeError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        time = time.max(report.time.unwrap_or_default());
        for suite in report.test_suites {
            for case in &suite.test_cases {
                let key = (suite.name.to_string(), case.name.to_string());
                if let Some(first) = seen.insert(key.clone(), path.clone()) {
                    return Err(MergeError::Duplicate {
                        suite: key.0,
                        case: key.1,
                        first,
                        second: path.clone(),
                    });
                }
            }
            match suites.iter_mut().find(|s| s.name == suite.name) {
                Some(existing) => {
                    // Shards ran side by side: the suite took as long as its longest shard.
                    let t = existing
                        .time
                        .unwrap_or_default()
                        .max(suite.time.unwrap_or_default());
                    existing.add_test_cases(suite.test_cases);
                    existing.set_time(t);
                }
                None => suites.push(suite),
            }
        }
    }
    // The report's counts are summed as suites are added: add them whole.
    let mut out = Report::new("shipshape-test");
    out.add_test_suites(suites);
    out.set_time(time);
    Ok(out.to_string().expect("JUnit serializes"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::driver::RunId;
    use crate::platform::Platform;
    use crate::report::event::PlatformRun;
    use crate::scenario::{Outcome, ScenarioResult};
    use crate::suite::Partition;

    fn report_of(cases: &[(Platform, String)]) -> String {
        let runs: Vec<PlatformRun> = [Platform::Debian12, Platform::Debian13]
            .into_iter()
            .map(|p| PlatformRun {
                id: RunId::Qemu(p),
                results: cases
                    .iter()
                    .filter(|(x, _)| *x == p)
                    .map(|(_, s)| ScenarioResult {
                        scenario: s.clone(),
                        control: s.clone(),
                        steps: Vec::new(),
                        duration: Default::default(),
                        outcome: if s == "userns-remap" {
                            Outcome::Failed("step `x` failed".into())
                        } else {
                            Outcome::Passed
                        },
                    })
                    .collect(),
                error: None,
                boot: Default::default(),
                duration: Default::default(),
            })
            .collect();
        super::scenarios(&runs)
    }

    fn test_set(xml: &str) -> BTreeSet<(String, String, bool)> {
        let r = quick_junit::Report::deserialize_from_str(xml).unwrap();
        r.test_suites
            .iter()
            .flat_map(|s| {
                s.test_cases.iter().map(|c| {
                    (
                        s.name.to_string(),
                        c.name.to_string(),
                        matches!(c.status, quick_junit::TestCaseStatus::Success { .. }),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn merged_shards_equal_the_unsharded_run() {
        let all = crate::scenario::model::shipped();
        let refs: Vec<_> = all.iter().collect();
        let platforms = [Platform::Debian12, Platform::Debian13];
        let whole = test_set(&report_of(&Partition { k: 1, n: 1 }.cut(&platforms, &refs)));
        for n in [2, 3] {
            let shards: Vec<(String, String)> = (1..=n)
                .map(|k| {
                    (
                        format!("shard-{k}.xml"),
                        report_of(&Partition { k, n }.cut(&platforms, &refs)),
                    )
                })
                .collect();
            let merged = super::merge(&shards).unwrap();
            assert_eq!(test_set(&merged), whole, "{n} shards");
            let r = quick_junit::Report::deserialize_from_str(&merged).unwrap();
            assert_eq!(r.tests, whole.len(), "the merged counts");
            assert_eq!(r.failures, 2, "userns-remap fails on both platforms");
            // Merging a shard twice is refused.
            let twice = [shards[0].clone(), shards[0].clone()];
            assert!(super::merge(&twice)
                .unwrap_err()
                .to_string()
                .contains("both"));
        }
    }
}

/// The scenarios' JUnit for one fixed set of results (a pass, a failure, a
/// broken machine, a skip, a run that could not start) is byte for byte the
/// file the code before the event stream wrote for the same results.
#[cfg(test)]
mod golden {
    use std::time::Duration;

    use crate::driver::RunId;
    use crate::platform::Platform;
    use crate::report::event::PlatformRun;
    use crate::scenario::{Outcome, ScenarioResult, StepResult};

    fn step(name: &str, ok: bool, message: Option<&str>) -> StepResult {
        StepResult {
            name: name.into(),
            command: format!("echo {name}\n"),
            output: format!("exit 0\n--- stdout\n{name} <&> done\n--- stderr\n"),
            duration: Duration::from_millis(1250),
            ok,
            message: message.map(str::to_string),
        }
    }

    fn result(name: &str, outcome: Outcome, steps: Vec<StepResult>) -> ScenarioResult {
        ScenarioResult {
            scenario: name.into(),
            control: name.into(),
            steps,
            duration: Duration::from_millis(12_500),
            outcome,
        }
    }

    #[test]
    fn the_junit_of_the_same_results_is_unchanged() {
        let runs = vec![
            PlatformRun {
                id: RunId::Qemu(Platform::Debian12),
                results: vec![
                    result(
                        "live-restore",
                        Outcome::Passed,
                        vec![
                            step("before: audit expects fail", true, None),
                            step("fix: fix live-restore", true, None),
                        ],
                    ),
                    result(
                        "icc",
                        Outcome::Failed("step `fix: fix icc` failed: boom\nsecond line".into()),
                        vec![
                            step("before: audit expects fail", true, None),
                            step("fix: fix icc", false, Some("boom\nsecond line")),
                        ],
                    ),
                    result(
                        "audit-rules",
                        Outcome::Broken(
                            "step `reboot` failed: reboot did not finish\nqemu exited".into(),
                        ),
                        vec![step("reboot", false, Some("reboot did not finish"))],
                    ),
                    result(
                        "docker-version-dnf",
                        Outcome::Skipped("needs dnf, and this machine has none".into()),
                        vec![],
                    ),
                ],
                error: None,
                boot: Duration::from_secs(4),
                duration: Duration::from_secs(100),
            },
            PlatformRun {
                id: RunId::Qemu(Platform::Debian13),
                results: vec![result(
                    "icc",
                    Outcome::Broken("image build failed: no debootstrap".into()),
                    vec![],
                )],
                error: Some("image build failed: no debootstrap".into()),
                boot: Duration::ZERO,
                duration: Duration::from_secs(3),
            },
        ];
        assert_eq!(
            super::scenarios(&runs),
            include_str!("golden-scenarios.xml")
        );
    }
}
