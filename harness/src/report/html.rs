//! One self-contained HTML file (inline CSS, no scripts, no external
//! resources): a matrix of rows × platforms or targets, each cell a link to
//! its details below: a scenario's steps with command, output and time, or a
//! control's evidence and remediation. Every text is escaped.

use std::fmt::Write;

use shipshape_checks::{find_control, Benchmark, Verdict};

use crate::audit::AuditRun;
use crate::gate::Judgement;
use crate::report::event::PlatformRun;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}\
td.pass{background:#d9f2d9}td.fail{background:#f8d0d0}td.skip{background:#eee}\
td.none{color:#999}pre{background:#f6f6f6;padding:6px;overflow-x:auto;white-space:pre-wrap}\
details{margin:4px 0}summary{cursor:pointer}.pass b{color:#176317}.fail b{color:#a11}\
.skip b{color:#666}";

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n{body}</body></html>\n",
        t = esc(title)
    )
}

fn anchor(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("--")
}

/// `shipshape test`: scenarios × platforms, then every scenario's steps.
pub fn scenarios(runs: &[PlatformRun]) -> String {
    let mut names: Vec<(String, String)> = Vec::new();
    for r in runs {
        for x in &r.results {
            if !names.iter().any(|(n, _)| *n == x.scenario) {
                names.push((x.scenario.clone(), x.control.clone()));
            }
        }
    }
    let count = |f: fn(&crate::scenario::ScenarioResult) -> bool| -> usize {
        runs.iter()
            .map(|r| r.results.iter().filter(|x| f(x)).count())
            .sum()
    };
    let (passed, failed, skipped) = (
        count(|x| x.passed()),
        count(|x| x.failed()),
        count(|x| matches!(x.outcome, crate::scenario::Outcome::Skipped(_))),
    );
    let mut b =
        format!("<p id=\"summary\">{passed} passed, {failed} failed, {skipped} skipped</p>\n");
    for r in runs {
        if let Some(e) = &r.error {
            let _ = writeln!(
                b,
                "<p class=\"fail\"><b>{}</b>: {}</p>",
                esc(&r.label()),
                esc(e)
            );
        }
    }
    b.push_str("<table id=\"matrix\"><tr><th>scenario</th><th>control</th>");
    for r in runs {
        let _ = write!(b, "<th>{}</th>", esc(&r.label()));
    }
    b.push_str("</tr>\n");
    for (name, control) in &names {
        let _ = write!(b, "<tr><td>{}</td><td>{}</td>", esc(name), esc(control));
        for r in runs {
            match r.results.iter().find(|x| x.scenario == *name) {
                Some(x) => {
                    let (class, word) = (x.outcome.class(), x.outcome.word());
                    let _ = write!(
                        b,
                        "<td class=\"{class}\"><a href=\"#{}\">{word}</a> {:.0}s</td>",
                        anchor(&[&r.label(), name]),
                        x.duration.as_secs_f64()
                    );
                }
                None => b.push_str("<td class=\"none\">–</td>"),
            }
        }
        b.push_str("</tr>\n");
    }
    b.push_str("</table>\n");
    for r in runs {
        let _ = writeln!(b, "<h2>{}</h2>", esc(&r.label()));
        for x in &r.results {
            let class = x.outcome.class();
            let _ = writeln!(
                b,
                "<details id=\"{}\" class=\"{class}\"{}><summary><b>{}</b> {} ({:.1}s)</summary>",
                anchor(&[&r.label(), &x.scenario]),
                if x.failed() { " open" } else { "" },
                x.outcome.word(),
                esc(&x.scenario),
                x.duration.as_secs_f64()
            );
            match &x.outcome {
                crate::scenario::Outcome::Failed(f) | crate::scenario::Outcome::Broken(f) => {
                    let _ = writeln!(b, "<p class=\"failure\">{}</p>", esc(f));
                }
                crate::scenario::Outcome::Skipped(why) => {
                    let _ = writeln!(b, "<p class=\"skipped\">skipped: {}</p>", esc(why));
                }
                crate::scenario::Outcome::Passed => {}
            }
            b.push_str("<ol class=\"steps\">\n");
            for st in &x.steps {
                let _ = writeln!(
                    b,
                    "<li class=\"{}\"><b>{}</b> {} ({:.2}s)<pre>$ {}</pre><pre>{}</pre>{}</li>",
                    if st.ok { "pass" } else { "fail" },
                    if st.ok { "ok" } else { "FAILED" },
                    esc(&st.name),
                    st.duration.as_secs_f64(),
                    esc(st.command.trim_end()),
                    esc(st.output.trim_end()),
                    st.message
                        .as_ref()
                        .map(|m| format!("<p class=\"failure\">{}</p>", esc(m)))
                        .unwrap_or_default()
                );
            }
            b.push_str("</ol></details>\n");
        }
    }
    page("shipshape test", &b)
}

fn cell(v: &Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Pass => ("pass", "pass"),
        Verdict::Fail => ("fail", "FAIL"),
        Verdict::NotApplicable { .. } => ("skip", "n/a"),
        Verdict::Manual { .. } => ("skip", "manual"),
    }
}

/// `shipshape audit`: controls × targets, then every finding's evidence.
/// `shipshape audit`: one page people read before the table. At the top,
/// what was judged, the gate's result and the verdict counts; then the
/// failing controls, grouped by CIS section, each with its severity,
/// evidence and remediation in view; the passing, not-applicable and manual
/// ones folded away. Built with maud, which escapes every value.
pub fn audit(runs: &[&AuditRun], benchmark: Benchmark, j: &Judgement) -> String {
    use maud::{html, DOCTYPE};
    let sections = [
        ("1", "Host configuration"),
        ("2", "Docker daemon configuration"),
        ("3", "Docker daemon configuration files"),
    ];
    let section_of = |id: &str| {
        find_control(id)
            .map(|m| m.cis_label(benchmark))
            .and_then(|l| l.split('.').next())
            .unwrap_or("?")
            .to_string()
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "shipshape audit" }
                style { (maud::PreEscaped(AUDIT_STYLE)) }
            }
            body {
                h1 { "shipshape audit" }
                @for (i, r) in runs.iter().enumerate() {
                    @let count = |f: fn(&Verdict) -> bool| r.findings.iter().filter(|x| f(&x.verdict)).count();
                    header {
                        p #gate class=(if j.gate.passed() { "pass" } else { "fail" }) {
                            b { "gate " (if j.gate.passed() { "passed" } else { "FAILED" }) }
                            " (--fail-on " (format!("{:?}", j.gate.fail_on).to_lowercase()) ")"
                        }
                        p .counts {
                            span .fail { (count(|v| matches!(v, Verdict::Fail))) " fail" }
                            span .pass { (count(|v| matches!(v, Verdict::Pass))) " pass" }
                            span .skip { (count(|v| matches!(v, Verdict::NotApplicable { .. }))) " not applicable" }
                            span .skip { (count(|v| matches!(v, Verdict::Manual { .. }))) " manual" }
                        }
                        table #judged {
                            @for (k, v) in j.properties() {
                                tr { th { (k) } td { (v) } }
                            }
                            tr { th { "target" } td { (r.target) " (" (format!("{:.2}", r.duration.as_secs_f64())) " s, " (r.round_trips) " round trip(s))" } }
                            tr { th { "ids" } td { (benchmark.to_string()) } }
                        }
                    }
                    h2 { "Failing" }
                    @for (sec, name) in sections {
                        @let failing: Vec<_> = r.findings.iter().filter(|f| matches!(f.verdict, Verdict::Fail) && section_of(f.id) == sec).collect();
                        @if !failing.is_empty() {
                            h3 { (sec) ". " (name) }
                            @for f in failing {
                                (control(i, f, benchmark, j, true))
                            }
                        }
                    }
                    details .rest {
                        summary { "Passing, not applicable and manual (" (r.findings.iter().filter(|f| !matches!(f.verdict, Verdict::Fail)).count()) ")" }
                        @for f in r.findings.iter().filter(|f| !matches!(f.verdict, Verdict::Fail)) {
                            (control(i, f, benchmark, j, false))
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

/// One control: its verdict (a link to itself, as the table's cells were),
/// id, CIS id, severity and title; then why, the gate's note, the evidence
/// and the remediation.
fn control(
    i: usize,
    f: &shipshape_checks::Finding,
    benchmark: Benchmark,
    j: &Judgement,
    open: bool,
) -> maud::Markup {
    use maud::html;
    let meta = find_control(f.id);
    let (class, word) = cell(&f.verdict);
    let id = anchor(&[&i.to_string(), f.id]);
    let why = match &f.verdict {
        Verdict::NotApplicable { why } | Verdict::Manual { why } => Some(why.as_str()),
        _ => None,
    };
    html! {
        details id=(id) class=(class) open[open] {
            summary {
                a href=(format!("#{id}")) { (word) }
                " " b { (f.id) }
                " " span .cis { "CIS " (meta.map(|m| m.cis_label(benchmark)).unwrap_or("?")) }
                " " span .sev { (meta.map(|m| format!("{:?}", m.severity).to_lowercase()).unwrap_or_default()) }
                " — " (meta.map(|m| m.title).unwrap_or(""))
            }
            @if let Some(why) = why { p { (why) } }
            @if let Some(note) = j.note(f.id) { p .gate { "gate: " (note) } }
            p { "evidence:" }
            pre { (f.evidence.join("\n")) }
            @if matches!(f.verdict, Verdict::Fail) {
                p { "remediation:" }
                pre .remediation { (meta.map(|m| m.remediation).unwrap_or("")) }
            }
        }
    }
}

const AUDIT_STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#222}\
header{border-bottom:1px solid #ddd;margin-bottom:1em}#gate{font-size:1.4em;padding:.4em .6em;border-radius:4px}\
#gate.pass{background:#d9f2d9}#gate.fail{background:#f8d0d0}.counts span{margin-right:1.5em;font-weight:600}\
.counts .fail{color:#a11}.counts .pass{color:#176317}.counts .skip{color:#666}\
table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f6f6f6}\
details{margin:6px 0;border-left:4px solid #ccc;padding-left:.6em}details.fail{border-color:#c33}\
details.pass{border-color:#3a3}summary{cursor:pointer}summary a{font-weight:700;text-decoration:none;margin-right:.3em}\
.fail summary a{color:#a11}.pass summary a{color:#176317}.skip summary a{color:#666}\
.cis,.sev{font-size:.85em;color:#555;background:#f0f0f0;border-radius:3px;padding:0 .35em}\
pre{background:#f6f6f6;padding:6px;overflow-x:auto;white-space:pre-wrap}.remediation{background:#fff8e6}\
details.rest{border:0;padding:0;margin-top:1.5em}.gate{color:#8a5a00}";

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::esc("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
