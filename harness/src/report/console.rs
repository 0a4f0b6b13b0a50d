//! The console: a line as each machine comes up and each scenario ends,
//! and the scenario × run matrix with the counts at the end.

use std::io::Write;

use crate::report::event::{ReportError, Reporter, RunEvent};

/// Live lines on stderr, the matrix on stdout.
pub struct Console {
    /// Where the JUnit goes, for the last line.
    pub junit: Option<std::path::PathBuf>,
}

impl Reporter for Console {
    fn event(&mut self, e: &RunEvent) -> Result<(), ReportError> {
        match e {
            RunEvent::RunStarted { runs, cases, jobs } => {
                let names: Vec<String> = runs.iter().map(|r| r.label()).collect();
                eprintln!(
                    "shipshape test: {cases} case(s) on {} ({}) with {jobs} worker(s)",
                    if runs.len() == 1 { "one run" } else { "runs" },
                    names.join(", ")
                );
            }
            RunEvent::MachineUp { run, took, how } => {
                eprintln!("{run}: {how} in {:.1}s", took.as_secs_f64());
            }
            RunEvent::ScenarioFinished { run, result } => {
                eprintln!(
                    "{} {run} {:<24} {:>6.1}s",
                    result.outcome.mark(),
                    result.scenario,
                    result.duration.as_secs_f64()
                );
                if let Some(m) = result.outcome.message() {
                    eprintln!("     {}", m.lines().next().unwrap_or_default());
                }
            }
            RunEvent::PlatformFailed { run, error } => eprintln!("{run}: {error}"),
            RunEvent::RunFinished { runs, stats } => {
                let mut out = String::new();
                out.push_str(&format!("\n{:<24}", "scenario"));
                for r in runs {
                    out.push_str(&format!(" {:<10}", r.label()));
                }
                out.push('\n');
                let mut names: Vec<&str> = Vec::new();
                for r in runs {
                    for x in &r.results {
                        if !names.contains(&x.scenario.as_str()) {
                            names.push(&x.scenario);
                        }
                    }
                }
                for name in names {
                    out.push_str(&format!("{name:<24}"));
                    for r in runs {
                        let cell = match r.results.iter().find(|x| x.scenario == name) {
                            Some(x) => match x.outcome {
                                crate::scenario::Outcome::Skipped(_) => x.outcome.word().into(),
                                _ => format!(
                                    "{} {:>4.0}s",
                                    x.outcome.word(),
                                    x.duration.as_secs_f64()
                                ),
                            },
                            None => "-".into(),
                        };
                        out.push_str(&format!(" {cell:<10}"));
                    }
                    out.push('\n');
                }
                out.push_str(&format!(
                    "\n{} passed, {} failed, {} broken, {} skipped",
                    stats.passed, stats.failed, stats.broken, stats.skipped
                ));
                if let Some(j) = &self.junit {
                    out.push_str(&format!("; JUnit: {}", j.display()));
                }
                out.push('\n');
                let _ = std::io::stdout().write_all(out.as_bytes());
            }
            RunEvent::ScenarioStarted { .. } | RunEvent::StepFinished { .. } => {}
        }
        Ok(())
    }
}
