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
pub fn audit(runs: &[&AuditRun], benchmark: Benchmark, j: &Judgement) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<p id=\"gate\" class=\"{}\"><b>gate {}</b> (--fail-on {})</p>",
        if j.gate.passed() { "pass" } else { "fail" },
        if j.gate.passed() { "passed" } else { "FAILED" },
        esc(&format!("{:?}", j.gate.fail_on).to_lowercase())
    );
    b.push_str("<table id=\"judged\">");
    for (k, v) in j.properties() {
        let _ = write!(b, "<tr><th>{}</th><td>{}</td></tr>", esc(&k), esc(&v));
    }
    b.push_str("</table>\n");
    let _ = writeln!(
        b,
        "<p class=\"benchmark\">ids: {}</p>",
        esc(&benchmark.to_string())
    );
    for r in runs {
        let _ = writeln!(
            b,
            "<p class=\"target\">{}: {} fail, {} controls, {:.2}s, {} round trip(s)</p>",
            esc(&r.target),
            r.failed(),
            r.findings.len(),
            r.duration.as_secs_f64(),
            r.round_trips
        );
    }
    b.push_str("<table id=\"matrix\"><tr><th>control</th><th>CIS</th><th>title</th>");
    for r in runs {
        let _ = write!(b, "<th>{}</th>", esc(&r.target));
    }
    b.push_str("</tr>\n");
    let ids: Vec<&str> = runs
        .first()
        .map(|r| r.findings.iter().map(|f| f.id).collect())
        .unwrap_or_default();
    for id in &ids {
        let meta = find_control(id);
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            esc(id),
            esc(meta.map(|m| m.cis_label(benchmark)).unwrap_or("")),
            esc(meta.map(|m| m.title).unwrap_or(""))
        );
        for (i, r) in runs.iter().enumerate() {
            match r.findings.iter().find(|f| f.id == *id) {
                Some(f) => {
                    let (class, word) = cell(&f.verdict);
                    let _ = write!(
                        b,
                        "<td class=\"{class}\"><a href=\"#{}\">{word}</a></td>",
                        anchor(&[&i.to_string(), id])
                    );
                }
                None => b.push_str("<td class=\"none\">–</td>"),
            }
        }
        b.push_str("</tr>\n");
    }
    b.push_str("</table>\n");
    for (i, r) in runs.iter().enumerate() {
        let _ = writeln!(b, "<h2>{}</h2>", esc(&r.target));
        for f in &r.findings {
            let meta = find_control(f.id);
            let (class, word) = cell(&f.verdict);
            let mut why = match &f.verdict {
                Verdict::NotApplicable { why } | Verdict::Manual { why } => {
                    format!("<p>{}</p>", esc(why))
                }
                _ => String::new(),
            };
            if let Some(note) = j.note(f.id) {
                why.push_str(&format!("<p class=\"gate\">gate: {}</p>", esc(&note)));
            }
            let _ = writeln!(
                b,
                "<details id=\"{}\" class=\"{class}\"><summary><b>{word}</b> {} — {}</summary>{why}\
                 <p>evidence:</p><pre>{}</pre><p>remediation:</p><pre>{}</pre></details>",
                anchor(&[&i.to_string(), f.id]),
                esc(f.id),
                esc(meta.map(|m| m.title).unwrap_or("")),
                esc(&f.evidence.join("\n")),
                esc(meta.map(|m| m.remediation).unwrap_or(""))
            );
        }
    }
    page("shipshape audit", &b)
}

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
