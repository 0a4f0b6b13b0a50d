//! JUnit XML (quick-junit, the nextest team's writer): one testcase per
//! control; a fail is a failure carrying the evidence and the remediation;
//! not-applicable and manual are skipped with their reason.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use shipshape_checks::{find_control, Verdict};

use crate::audit::AuditRun;

pub fn audit_suite(run: &AuditRun) -> TestSuite {
    let mut suite = TestSuite::new(format!("audit {}", run.target));
    suite.set_time(run.duration);
    for f in &run.findings {
        let meta = find_control(f.id);
        let evidence = f.evidence.join("\n");
        let status = match &f.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(meta.map(|m| m.title).unwrap_or(f.id));
                s.set_type("fail");
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
        case.set_classname(format!("cis-{}", meta.map(|m| m.cis).unwrap_or("?")));
        if !evidence.is_empty() {
            case.set_system_out(evidence);
        }
        suite.add_test_case(case);
    }
    suite
}

pub fn render(runs: &[&AuditRun]) -> String {
    let mut report = Report::new("shipshape-audit");
    for run in runs {
        report.add_test_suite(audit_suite(run));
    }
    report.to_string().expect("JUnit serializes")
}

/// One testsuite per platform, one testcase per scenario; each step's
/// command, output and duration go to system-out, and a failure names the
/// failing step.
pub fn scenarios(runs: &[crate::suite::PlatformRun]) -> String {
    let mut report = Report::new("shipshape-test");
    for run in runs {
        let mut suite = TestSuite::new(run.platform.name());
        suite.set_time(run.duration);
        if let Some(err) = &run.error {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(err.clone());
            suite.add_test_case(TestCase::new("platform-setup", s));
        }
        for r in &run.results {
            let status = match &r.failure {
                None => TestCaseStatus::success(),
                Some(msg) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(msg.lines().next().unwrap_or_default().to_string());
                    s.set_description(msg.clone());
                    s
                }
            };
            let mut case = TestCase::new(r.scenario.clone(), status);
            case.set_classname(format!("{}.{}", run.platform.name(), r.control));
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
