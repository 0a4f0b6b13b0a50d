//! The terminal table of an audit.

use shipshape_checks::{find_control, Benchmark, Verdict};

use crate::audit::AuditRun;
use crate::gate::Judgement;

pub fn verdict_word(v: &Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::NotApplicable { .. } => "n/a",
        Verdict::Manual { .. } => "manual",
    }
}

pub fn render(run: &AuditRun, verbose: bool, benchmark: Benchmark, j: &Judgement) -> String {
    let mut out = String::new();
    out.push_str(&format!("judged: {}\n", j.subject.judged));
    out.push_str(&format!("ids: {benchmark}\n"));
    out.push_str(&format!(
        "{:<30} {:<10} {:<7} {}\n",
        "CONTROL", "CIS", "VERDICT", "TITLE"
    ));
    for f in &run.findings {
        let meta = find_control(f.id);
        out.push_str(&format!(
            "{:<30} {:<10} {:<7} {}\n",
            f.id,
            meta.map(|m| m.cis_label(benchmark)).unwrap_or("?"),
            verdict_word(&f.verdict),
            meta.map(|m| m.title).unwrap_or("")
        ));
        let why = match &f.verdict {
            Verdict::NotApplicable { why } | Verdict::Manual { why } => Some(why.as_str()),
            _ => None,
        };
        if let Some(why) = why {
            out.push_str(&format!("{:<30} {:<10} {:<7}   why: {why}\n", "", "", ""));
        }
        if let Some(note) = j.note(f.id) {
            out.push_str(&format!("{:<30} {:<10} {:<7}   gate: {note}\n", "", "", ""));
        }
        if verbose || matches!(f.verdict, Verdict::Fail) {
            for e in f.evidence.iter().take(if verbose { usize::MAX } else { 4 }) {
                out.push_str(&format!("{:<30} {:<10} {:<7}   {e}\n", "", "", ""));
            }
        }
    }
    let count = |w: fn(&Verdict) -> bool| run.findings.iter().filter(|f| w(&f.verdict)).count();
    out.push_str(&format!(
        "\n{}: {} pass, {} fail, {} not applicable, {} manual ({:.2}s, {} round trip{})\n",
        run.target,
        count(|v| matches!(v, Verdict::Pass)),
        count(|v| matches!(v, Verdict::Fail)),
        count(|v| matches!(v, Verdict::NotApplicable { .. })),
        count(|v| matches!(v, Verdict::Manual { .. })),
        run.duration.as_secs_f64(),
        run.round_trips,
        if run.round_trips == 1 { "" } else { "s" }
    ));
    out.push_str(&j.gate.summary());
    out.push('\n');
    out
}
