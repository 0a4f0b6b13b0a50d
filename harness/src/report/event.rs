//! One stream of events for a run of scenarios, nextest-style: the
//! scheduler sends, reporters consume. The aggregate (`PlatformRun`s in
//! report order, and the stats) comes with `RunFinished`, so a parallel run
//! reports exactly what a serial one does.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::driver::RunId;
use crate::scenario::{Outcome, ScenarioResult, StepResult};

/// Every result of one driver's run (a platform, a box, a host).
#[derive(Debug, Clone)]
pub struct PlatformRun {
    pub id: RunId,
    /// In scenario file order.
    pub results: Vec<ScenarioResult>,
    /// Set when the run could not start at all (image, box or boot failed).
    pub error: Option<String>,
    /// Time spent bringing machines up.
    pub boot: Duration,
    pub duration: Duration,
}

impl PlatformRun {
    pub fn label(&self) -> String {
        self.id.label()
    }
}

/// The counts a run ends with, and the exit code they give.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    pub passed: usize,
    pub failed: usize,
    pub broken: usize,
    pub skipped: usize,
    /// Runs (platforms…) that could not start.
    pub platform_errors: usize,
}

impl RunStats {
    pub fn of(runs: &[PlatformRun]) -> Self {
        let mut s = Self::default();
        for run in runs {
            s.platform_errors += usize::from(run.error.is_some());
            for r in &run.results {
                match r.outcome {
                    Outcome::Passed => s.passed += 1,
                    Outcome::Failed(_) => s.failed += 1,
                    Outcome::Broken(_) => s.broken += 1,
                    Outcome::Skipped(_) => s.skipped += 1,
                }
            }
        }
        s
    }

    /// 2: a run could not start; 1: a scenario failed or broke; else 0.
    pub fn exit_code(&self) -> u8 {
        if self.platform_errors > 0 {
            2
        } else if self.failed + self.broken > 0 {
            1
        } else {
            0
        }
    }
}

#[derive(Debug, Clone)]
pub enum RunEvent {
    /// The plan: which runs, how many cases, how many workers.
    RunStarted {
        runs: Vec<RunId>,
        cases: usize,
        jobs: usize,
    },
    MachineUp {
        run: RunId,
        took: Duration,
        how: String,
    },
    ScenarioStarted {
        run: RunId,
        scenario: String,
    },
    StepFinished {
        run: RunId,
        scenario: String,
        step: StepResult,
    },
    ScenarioFinished {
        run: RunId,
        result: ScenarioResult,
    },
    /// A run could not start (its image, box or first machine failed): its
    /// scenarios end broken with this error.
    PlatformFailed {
        run: RunId,
        error: String,
    },
    RunFinished {
        runs: Vec<PlatformRun>,
        stats: RunStats,
    },
}

/// A consumer of the event stream.
pub trait Reporter: Send {
    fn event(&mut self, e: &RunEvent) -> Result<(), ReportError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The reporters of one run; events reach them one at a time, in the order
/// they were sent. The first error a reporter gives is kept for the end.
#[derive(Default)]
pub struct Reporters {
    inner: Mutex<Fanout>,
}

#[derive(Default)]
struct Fanout {
    list: Vec<Box<dyn Reporter>>,
    error: Option<ReportError>,
}

impl Reporters {
    pub fn new(list: Vec<Box<dyn Reporter>>) -> Self {
        Self {
            inner: Mutex::new(Fanout { list, error: None }),
        }
    }

    pub fn emit(&self, e: RunEvent) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Fanout { list, error } = &mut *g;
        for r in list.iter_mut() {
            if let Err(x) = r.event(&e) {
                error.get_or_insert(x);
            }
        }
    }

    /// The first error any reporter gave.
    pub fn take_error(&self) -> Option<ReportError> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .error
            .take()
    }
}

/// A reporter made of a closure, for callers that watch the stream.
pub struct Watch<F: FnMut(&RunEvent) + Send>(pub F);

impl<F: FnMut(&RunEvent) + Send> Reporter for Watch<F> {
    fn event(&mut self, e: &RunEvent) -> Result<(), ReportError> {
        (self.0)(e);
        Ok(())
    }
}
