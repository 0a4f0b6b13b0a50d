//! Scenarios: YAML files in `scenarios/` that prove one control end to end.

pub mod model;
pub mod outcome;
pub mod runner;

pub use model::{load_dir, load_file, AfterFix, Expect, Scenario, Step};
pub use outcome::Outcome;
pub use runner::{run_scenario, OnStep, ScenarioResult, StepResult};
