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
