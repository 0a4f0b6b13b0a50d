//! Fixes: what each control changes, and the safe way to change it.

pub mod apply;
pub mod plan;

use shipshape_checks::{Facts, Policy};

pub use apply::{apply, diff, read_files, Change, FileEdit, Outcome};
pub use plan::{has_fix, plan, FixContext, PlanError};

use crate::target::Conn;

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    #[error(transparent)]
    Transport(#[from] crate::transport::SshError),
}

/// What a fix did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct FixReport {
    pub control: String,
    pub outcome: Outcome,
    pub diff: String,
    pub notes: Vec<String>,
    pub dry_run: bool,
}

impl FixReport {
    pub fn render(&self) -> String {
        let mut s = String::new();
        for n in &self.notes {
            s.push_str(&format!("{}: note: {n}\n", self.control));
        }
        let head = match (&self.outcome, self.dry_run) {
            (Outcome::AlreadyCompliant, _) => "already compliant, nothing changed".to_string(),
            (_, true) => "dry run: would apply this change".to_string(),
            (Outcome::Applied { backup_dir }, false) => format!("fixed; backups in {backup_dir}"),
            (Outcome::RolledBack { backup_dir, journal }, false) => format!(
                "dockerd did not come back healthy: ROLLED BACK to the files in {backup_dir}\n{journal}"
            ),
        };
        s.push_str(&format!("{}: {head}\n", self.control));
        if !self.diff.is_empty() {
            s.push_str(&self.diff);
        }
        s
    }
}

type Prepared = (
    Change,
    std::collections::BTreeMap<String, Option<String>>,
    Option<crate::tls::Bundle>,
);

async fn prepare(
    conn: &Conn<'_>,
    control: &str,
    facts: &Facts,
    policy: &Policy,
    ctx: &FixContext,
) -> Result<Prepared, FixError> {
    let mut current = read_files(conn, &plan::paths_to_read(facts)).await?;
    let planned = plan(control, facts, policy, &current, ctx)?;
    let mut change = planned.change;
    // The plan may add files beyond the ones read (e.g. sysctl.d): read them too.
    let mut more: Vec<String> = change.edits.iter().map(|e| e.path.clone()).collect();
    more.retain(|p| !current.contains_key(p));
    if !more.is_empty() {
        current.extend(read_files(conn, &more).await?);
    }
    // Commands run only together with a file change, except a fix that is
    // only commands (docker-group).
    if apply::effective_edits(&change, &current).is_empty()
        && !matches!(control, "docker-group" | "docker-version")
    {
        change.after_write = None;
        change.precheck = None;
    }
    Ok((change, current, planned.tls))
}

/// Shows what `control`'s fix would change, changing nothing.
pub async fn dry_run(
    conn: &Conn<'_>,
    control: &str,
    facts: &Facts,
    policy: &Policy,
    ctx: &FixContext,
) -> Result<FixReport, FixError> {
    let (change, current, _) = prepare(conn, control, facts, policy, ctx).await?;
    let d = diff(&change, &current);
    let nothing = d.is_empty() && change.after_write.is_none();
    Ok(FixReport {
        control: control.to_string(),
        outcome: if nothing {
            Outcome::AlreadyCompliant
        } else {
            Outcome::Applied {
                backup_dir: String::new(),
            }
        },
        diff: d + &change
            .after_write
            .map(|a| format!("then run:\n{a}\n"))
            .unwrap_or_default(),
        notes: change.notes,
        dry_run: true,
    })
}

/// Applies `control`'s fix: backed up, validated, restarted, rolled back on
/// failure. `before_acting` gets the plan's notes (e.g. userns-remap hides
/// existing images) before anything changes.
pub async fn run_fix(
    conn: &Conn<'_>,
    control: &str,
    facts: &Facts,
    policy: &Policy,
    ctx: &FixContext,
    before_acting: impl FnOnce(&[String]),
) -> Result<FixReport, FixError> {
    let (change, current, tls) = prepare(conn, control, facts, policy, ctx).await?;
    before_acting(&change.notes);
    let d = diff(&change, &current);
    let outcome = apply(conn, &change, &current).await?;
    if let (Some(bundle), Outcome::Applied { .. }) = (&tls, &outcome) {
        crate::tls::save_client(bundle, &ctx.client_tls_dir)
            .map_err(|e| PlanError::Tls(format!("saving the client certificate: {e}")))?;
    }
    Ok(FixReport {
        control: control.to_string(),
        outcome,
        diff: d,
        notes: change.notes,
        dry_run: false,
    })
}
