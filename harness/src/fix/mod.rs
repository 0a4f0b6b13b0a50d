//! Fixes: what each control changes, and the safe way to change it.
//!
//! [`plan`] turns one control into a [`Change`]; [`converge`] plans every
//! control of a run together and applies the merged changes; [`apply`]
//! carries one change out on the target, backed up and rolled back.

pub mod apply;
pub mod converge;
pub mod plan;

pub use apply::{apply, diff, read_files, AttrEdit, Change, DaemonAction, FileEdit, Outcome};
pub use converge::{converge, ControlOutcome, ConvergeReport, Request, SkipKind};
pub use plan::{has_fix, plan, FixContext, PlanError};

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    #[error(transparent)]
    Transport(#[from] crate::transport::SshError),
    #[error("the audit after the fix: {0}")]
    Audit(String),
}
