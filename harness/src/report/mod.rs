//! Reports: a terminal table, JSON, JUnit XML and a self-contained HTML page
//! for an audit; for a run of scenarios, reporters on its event stream
//! (`event`): the console's live lines and matrix, JUnit, HTML and JSON.

pub mod console;
pub mod event;
pub mod html;
pub mod json;
pub mod junit;
pub mod table;

pub use event::{PlatformRun, ReportError, Reporter, Reporters, RunEvent, RunStats};

use std::path::Path;

/// Output formats of `shipshape audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Junit,
    Html,
}

/// Writes a report file, making its folder first.
pub fn write_file(path: &Path, text: &str) -> Result<(), ReportError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(path, text).map_err(|source| ReportError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Writes the HTML page when the run finishes.
pub struct HtmlFile(pub std::path::PathBuf);

impl Reporter for HtmlFile {
    fn event(&mut self, e: &RunEvent) -> Result<(), ReportError> {
        if let RunEvent::RunFinished { runs, .. } = e {
            write_file(&self.0, &html::scenarios(runs))?;
        }
        Ok(())
    }
}

/// Writes the run as JSON when it finishes.
pub struct JsonFile(pub std::path::PathBuf);

impl Reporter for JsonFile {
    fn event(&mut self, e: &RunEvent) -> Result<(), ReportError> {
        if let RunEvent::RunFinished { runs, stats } = e {
            let v = json::scenarios(runs, stats);
            write_file(
                &self.0,
                &(serde_json::to_string_pretty(&v).expect("JSON serializes") + "\n"),
            )?;
        }
        Ok(())
    }
}
