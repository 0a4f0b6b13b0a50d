//! Scenarios: YAML files in `scenarios/` that prove one control end to end.

pub mod model;
pub mod runner;

pub use model::{load_dir, load_file, AfterFix, Expect, Scenario, Step};
pub use runner::{run_scenario, ScenarioResult, StepResult};
