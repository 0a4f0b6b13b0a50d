//! The JSON form of an audit: every control with its id, CIS id, verdict and
//! evidence.

use serde_json::{json, Value};
use shipshape_checks::{find_control, Benchmark, Verdict};

use crate::audit::AuditRun;
use crate::gate::Judgement;

pub fn render(run: &AuditRun, benchmark: Benchmark, j: &Judgement) -> Value {
    let controls: Vec<Value> = run
        .findings
        .iter()
        .map(|f| {
            let meta = find_control(f.id);
            let (verdict, why) = match &f.verdict {
                Verdict::Pass => ("pass", None),
                Verdict::Fail => ("fail", None),
                Verdict::NotApplicable { why } => ("not-applicable", Some(why.clone())),
                Verdict::Manual { why } => ("manual", Some(why.clone())),
            };
            json!({
                "id": f.id,
                "cis": meta.and_then(|m| m.cis_id(benchmark)),
                "cis_ids": meta.map(|m| &m.cis),
                "title": meta.map(|m| m.title),
                "seed_section": meta.map(|m| m.seed_section),
                "severity": meta.map(|m| m.severity),
                "verdict": verdict,
                "why": why,
                "evidence": f.evidence,
                "remediation": meta.map(|m| m.remediation),
                "gate": j.gate.of(f.id),
            })
        })
        .collect();
    let count = |w: &str| controls.iter().filter(|c| c["verdict"] == w).count();
    json!({
        "benchmark": {"name": benchmark.name(), "version": benchmark.version(), "key": benchmark.key()},
        "target": run.target,
        "duration_ms": run.duration.as_millis() as u64,
        "round_trips": run.round_trips,
        "summary": {
            "pass": count("pass"),
            "fail": count("fail"),
            "not_applicable": count("not-applicable"),
            "manual": count("manual"),
        },
        "controls": controls,
        "judged": j.subject,
        "gate": {
            "passed": j.gate.passed(),
            "fail_on": j.gate.fail_on,
            "today": j.gate.today.to_string(),
            "failing": j.gate.failing().collect::<Vec<_>>(),
            "unnecessary_waivers": j.gate.unnecessary,
        },
    })
}

/// The JSON form of a run of scenarios: every run with its results, each
/// with its outcome and steps, and the counts.
pub fn scenarios(
    runs: &[crate::report::event::PlatformRun],
    stats: &crate::report::event::RunStats,
) -> Value {
    let runs: Vec<Value> = runs
        .iter()
        .map(|r| {
            let results: Vec<Value> = r
                .results
                .iter()
                .map(|x| {
                    json!({
                        "scenario": x.scenario,
                        "control": x.control,
                        "outcome": x.outcome.word().to_lowercase(),
                        "message": x.outcome.message(),
                        "seconds": x.duration.as_secs_f64(),
                        "steps": x.steps.iter().map(|s| json!({
                            "name": s.name,
                            "ok": s.ok,
                            "seconds": s.duration.as_secs_f64(),
                            "message": s.message,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "run": r.label(),
                "id": r.id,
                "error": r.error,
                "boot_seconds": r.boot.as_secs_f64(),
                "seconds": r.duration.as_secs_f64(),
                "results": results,
            })
        })
        .collect();
    json!({ "runs": runs, "stats": stats, "exit_code": stats.exit_code() })
}
