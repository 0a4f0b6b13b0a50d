//! How a scenario ended, decided once, in the runner or the scheduler; the
//! live lines, the matrix, JUnit, HTML and JSON all read it from here.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "message", rename_all = "lowercase")]
pub enum Outcome {
    /// Every step held.
    Passed,
    /// A step did not hold: a verdict on the control or its fix.
    Failed(String),
    /// The machine broke (QEMU died, SSH dropped, a reboot never came back,
    /// no machine could be brought up): an error of the harness's target.
    Broken(String),
    /// Not run: the driver or the machine cannot offer what it needs.
    Skipped(String),
}

impl Outcome {
    /// The word for it in the matrix and the HTML report.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Passed => "pass",
            Outcome::Failed(_) => "FAIL",
            Outcome::Broken(_) => "ERROR",
            Outcome::Skipped(_) => "skipped",
        }
    }

    /// The four-letter mark of the live lines.
    pub fn mark(&self) -> &'static str {
        match self {
            Outcome::Passed => "ok  ",
            Outcome::Failed(_) => "FAIL",
            Outcome::Broken(_) => "ERR ",
            Outcome::Skipped(_) => "SKIP",
        }
    }

    /// The CSS class of its cell: pass, fail or skip.
    pub fn class(&self) -> &'static str {
        match self {
            Outcome::Passed => "pass",
            Outcome::Failed(_) | Outcome::Broken(_) => "fail",
            Outcome::Skipped(_) => "skip",
        }
    }

    /// Why it failed, broke or was skipped.
    pub fn message(&self) -> Option<&str> {
        match self {
            Outcome::Passed => None,
            Outcome::Failed(m) | Outcome::Broken(m) | Outcome::Skipped(m) => Some(m),
        }
    }
}
