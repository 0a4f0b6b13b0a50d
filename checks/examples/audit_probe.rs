//! Prints the findings for a probe capture: `cargo run -p shipshape-checks
//! --example audit_probe -- checks/tests/fixtures/debian-12/probe.json`.

use shipshape_checks::{audit, parse_facts, Policy, Verdict};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: audit_probe PROBE.json");
    let text = std::fs::read_to_string(&path).expect("read the capture");
    let facts = parse_facts(&text).expect("parse the capture");
    for f in audit(&facts, &Policy::default()) {
        let v = match &f.verdict {
            Verdict::Pass => "PASS".to_string(),
            Verdict::Fail => "FAIL".to_string(),
            Verdict::NotApplicable { why } => format!("N/A  ({why})"),
            Verdict::Manual { why } => format!("MANUAL ({why})"),
        };
        println!("{:<32} {v}", f.id);
        for e in &f.evidence {
            println!("    {e}");
        }
    }
}
