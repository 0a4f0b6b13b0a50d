//! One plan for a whole host: every control asked for is planned together
//! and applied in as few steps as can be, each control ending in one of four
//! outcomes.
//!
//! The order, and why:
//! 1. **The engine upgrade** (docker-version) alone and first: the package's
//!    own scripts restart dockerd, and the new engine then validates the rest.
//! 2. **The daemon change set**: every edit to daemon.json (or the file
//!    `--config-file` names), the exec drop-in and sysctl.d merged into one
//!    change, validated once and taken in with at most one restart, or with a
//!    SIGHUP reload when every changed option is one dockerd reloads. The
//!    disk migration stops dockerd inside this set and shares its start; it
//!    comes before userns-remap's start, so the remapped root is created on
//!    the new disk. A failure rolls back this whole set, and nothing else.
//! 3. **Host changes** that restart nothing, each on its own: the docker
//!    group, the auditd rules (loaded once, for every audit-* control), then
//!    owners and modes (section 3). They come after the daemon set so the
//!    rules watch the files it creates.
//!
//! A final audit then decides which controls are fixed.

use std::collections::BTreeMap;

use serde::Serialize;
use shipshape_checks::{Facts, Finding, Policy, Verdict};

use super::apply::{self, Change, DaemonAction, Outcome};
use super::plan::{self, FixContext, PlanError};
use super::FixError;
use crate::transport::Conn;

/// Why a control was not attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipKind {
    /// shipshape has no automatic fix: the remediation is manual.
    NoFix,
    /// The policy does not allow it (e.g. `allow_docker_upgrade: false`).
    Policy,
    /// Something the fix needs is missing (auditd, an empty data disk).
    Prerequisite,
}

/// How one control ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ControlOutcome {
    /// It failed, the fix changed the host, and it passes now (in a dry
    /// run: would be changed).
    Fixed,
    /// Nothing needed to change.
    AlreadyCompliant,
    Skipped {
        kind: SkipKind,
        why: String,
    },
    /// The change was tried and did not hold; `rolled_back` says whether
    /// the files were put back.
    Failed {
        reason: String,
        rolled_back: bool,
    },
}

impl ControlOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            ControlOutcome::Fixed => "fixed",
            ControlOutcome::AlreadyCompliant => "already compliant",
            ControlOutcome::Skipped { .. } => "skipped",
            ControlOutcome::Failed {
                rolled_back: true, ..
            } => "failed, rolled back",
            ControlOutcome::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    pub control: String,
    #[serde(flatten)]
    pub outcome: ControlOutcome,
    /// What the fix did or noticed (said before it acted).
    pub notes: Vec<String>,
}

/// What one `shipshape fix` did.
#[derive(Debug, Clone, Serialize)]
pub struct ConvergeReport {
    pub dry_run: bool,
    pub controls: Vec<ControlResult>,
    /// How dockerd took the daemon change set in.
    pub daemon: &'static str,
    /// dockerd (re)starts during the run, counted from systemd's journal
    /// ("Started" lines of docker.service); `None` in a dry run.
    pub restarts: Option<u32>,
    /// One unified diff per file, over every fix of the run.
    pub diff: String,
    /// Commands the run executes besides writing files.
    pub commands: Vec<String>,
    pub backups: Vec<String>,
}

impl ConvergeReport {
    pub fn outcome_of(&self, id: &str) -> Option<&ControlOutcome> {
        self.controls
            .iter()
            .find(|c| c.control == id)
            .map(|c| &c.outcome)
    }

    /// 0: every control asked for complies now; 1: something still fails
    /// or was skipped.
    pub fn exit_code(&self) -> u8 {
        let all_ok = self.controls.iter().all(|c| {
            matches!(
                c.outcome,
                ControlOutcome::Fixed | ControlOutcome::AlreadyCompliant
            )
        });
        if all_ok {
            0
        } else {
            1
        }
    }

    /// The summary table, with the reasons, and in a dry run the diff.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if self.dry_run {
            if !self.diff.is_empty() {
                s.push_str(&self.diff);
            }
            for c in &self.commands {
                s.push_str(&format!("then run:\n{c}\n"));
            }
        }
        for c in &self.controls {
            for n in &c.notes {
                s.push_str(&format!("{}: note: {n}\n", c.control));
            }
        }
        let width = self
            .controls
            .iter()
            .map(|c| c.control.len())
            .max()
            .unwrap_or(7)
            .max(7);
        if self.controls.is_empty() {
            s.push_str("no control fails: nothing to do\n");
        } else {
            s.push_str(&format!("{:<width$}  OUTCOME\n", "CONTROL"));
        }
        for c in &self.controls {
            let label = match (&c.outcome, self.dry_run) {
                (ControlOutcome::Fixed, true) => "would fix",
                (o, _) => o.label(),
            };
            let why = match &c.outcome {
                ControlOutcome::Skipped { why, .. } => format!(": {why}"),
                ControlOutcome::Failed { reason, .. } => format!(": {reason}"),
                _ => String::new(),
            };
            s.push_str(&format!("{:<width$}  {label}{why}\n", c.control));
        }
        let count =
            |f: fn(&ControlOutcome) -> bool| self.controls.iter().filter(|c| f(&c.outcome)).count();
        s.push_str(&format!(
            "{} {}, {} already compliant, {} skipped, {} failed; dockerd: {}{}\n",
            count(|o| matches!(o, ControlOutcome::Fixed)),
            if self.dry_run { "to fix" } else { "fixed" },
            count(|o| matches!(o, ControlOutcome::AlreadyCompliant)),
            count(|o| matches!(o, ControlOutcome::Skipped { .. })),
            count(|o| matches!(o, ControlOutcome::Failed { .. })),
            self.daemon,
            self.restarts
                .map(|n| format!(", {n} (re)start(s)"))
                .unwrap_or_default()
        ));
        for b in &self.backups {
            s.push_str(&format!("backups in {b}\n"));
        }
        s
    }
}

/// The options dockerd applies on SIGHUP (daemon/reload.go, the same list
/// from Engine 20.10 to 28): a change of these alone needs no restart.
pub const RELOADABLE: &[&str] = &[
    "debug",
    "labels",
    "live-restore",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "default-runtime",
    "runtimes",
    "authorization-plugins",
    "insecure-registries",
    "registry-mirrors",
    "shutdown-timeout",
    "features",
    "builder",
];

/// Which stage a control's fix belongs to (see the module's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Upgrade,
    Daemon,
    Group,
    AuditRules,
    Perms,
}

fn stage_of(id: &str) -> Stage {
    match shipshape_checks::fix_of(id) {
        Some(shipshape_checks::Fix::Owners) => Stage::Perms,
        _ => match plan::template_name(id) {
            Some("docker-version") => Stage::Upgrade,
            Some("docker-group") => Stage::Group,
            Some("auditd-rules") => Stage::AuditRules,
            _ => Stage::Daemon,
        },
    }
}

/// The controls of `id`'s stage share one fix (the audit-* controls' rule
/// file): the first carries it, the others ride along.
fn shares_fix(a: &str, b: &str) -> bool {
    plan::template_name(a).is_some() && plan::template_name(a) == plan::template_name(b)
}

/// Why `id` cannot be attempted on this host under `policy`, if it cannot.
fn skip_reason(id: &str, facts: &Facts, policy: &Policy) -> Option<(SkipKind, String)> {
    if !plan::has_fix(id) {
        return Some((
            SkipKind::NoFix,
            "no automatic fix: see its remediation (`shipshape controls`)".into(),
        ));
    }
    if id == "docker-version" && !policy.allow_docker_upgrade {
        return Some((
            SkipKind::Policy,
            "the policy does not allow upgrading Docker (the seed warns of kubeadm compatibility): set `allow_docker_upgrade: true` or upgrade by hand".into(),
        ));
    }
    if stage_of(id) == Stage::AuditRules
        && !facts.audit.auditctl_available
        && !policy.install_packages
    {
        return Some((
            SkipKind::Prerequisite,
            "auditd is not installed (no auditctl): set `install_packages: true` in the policy to let the fix install it, or install auditd".into(),
        ));
    }
    None
}

/// Per-control prechecks (the disk fix's "is it empty"), all in one exec.
/// A control whose precheck refuses is skipped, and nothing of it runs.
async fn prechecks(
    conn: &Conn<'_>,
    planned: &[(String, Change)],
) -> Result<BTreeMap<String, String>, FixError> {
    let with: Vec<&(String, Change)> = planned
        .iter()
        .filter(|(_, c)| c.precheck.is_some())
        .collect();
    if with.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut script = String::new();
    for (id, c) in &with {
        script.push_str(&format!(
            "out=$( ( {} ) 2>&1 ) && echo {id} ok || printf '%s refused %s\\n' {id} \"$(printf '%s' \"$out\" | base64 -w0)\"\n",
            c.precheck.as_deref().unwrap_or("true")
        ));
    }
    let out = conn
        .exec(&script, None, std::time::Duration::from_secs(60))
        .await?;
    let mut refused = BTreeMap::new();
    for line in out.stdout.lines() {
        let mut w = line.split_whitespace();
        if let (Some(id), Some("refused")) = (w.next(), w.next()) {
            use base64::Engine;
            let why = base64::engine::general_purpose::STANDARD
                .decode(w.next().unwrap_or_default())
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_default();
            refused.insert(id.to_string(), why);
        }
    }
    Ok(refused)
}

/// systemd's "Started" entries of docker.service since `$SINCE` (seconds of
/// the epoch, the target's clock), one JSON object a line. `--since` counts
/// whole seconds, and under the container driver a restart takes less than
/// one (a prepare step's restart lands in the same second as the fix): every
/// start already in the journal when the run began is told apart by its
/// INVOCATION_ID.
const RESTARTS: &str = "journalctl --since \"@$SINCE\" -o json --no-pager MESSAGE_ID=39f53479d3a045ac8e11786248231fbf UNIT=docker.service 2>/dev/null || true; systemctl show -p InvocationID docker.service | sed 's/^[^=]*=//'";

/// The starts of docker.service that were known at one moment.
struct Starts {
    /// Seconds of the epoch, on the target's clock.
    since: String,
    /// INVOCATION_IDs in the journal since then, and the current one.
    known: Vec<String>,
    current: String,
}

async fn read_starts(conn: &Conn<'_>, since: Option<&str>) -> Result<Starts, FixError> {
    let since_sh = since.map_or("$(date +%s)".to_string(), str::to_string);
    let out = conn
        .exec(
            &format!("SINCE={since_sh}; echo \"$SINCE\"; {RESTARTS}"),
            None,
            std::time::Duration::from_secs(30),
        )
        .await?;
    let lines: Vec<&str> = out.stdout.lines().collect();
    let since = lines.first().map(|l| l.trim()).unwrap_or("0").to_string();
    let current = if lines.len() > 1 {
        lines
            .last()
            .map(|l| l.trim())
            .unwrap_or_default()
            .to_string()
    } else {
        String::new()
    };
    let mut known: Vec<String> = Vec::new();
    for l in lines.iter().skip(1) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
            continue;
        };
        let id = v
            .get("INVOCATION_ID")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !known.contains(&id) {
            known.push(id);
        }
    }
    Ok(Starts {
        since,
        known,
        current,
    })
}

/// The starts of docker.service after `before` was read.
async fn restarts_since(conn: &Conn<'_>, before: &Starts) -> Result<u32, FixError> {
    let after = read_starts(conn, Some(&before.since)).await?;
    let new = after
        .known
        .iter()
        .filter(|id| **id != before.current && !before.known.contains(id))
        .count();
    let counted = u32::try_from(new).unwrap_or(u32::MAX);
    // The journal may have rotated or be off: a new InvocationID is a start.
    let changed = u32::from(!before.current.is_empty() && after.current != before.current);
    Ok(counted.max(changed))
}

/// What the run is asked to do.
pub struct Request<'a> {
    /// The controls asked for; empty: every failing control.
    pub controls: &'a [String],
    pub dry_run: bool,
}

/// Hardens the host behind `conn` in one pass, from `findings` and `facts`
/// of an audit taken just before.
pub async fn converge(
    conn: &Conn<'_>,
    findings: &[Finding],
    facts: &Facts,
    policy: &Policy,
    ctx: &FixContext,
    req: &Request<'_>,
    before_acting: impl Fn(&str, &[String]),
) -> Result<ConvergeReport, FixError> {
    let verdict = |id: &str| findings.iter().find(|f| f.id == id).map(|f| &f.verdict);
    let asked: Vec<String> = if req.controls.is_empty() {
        findings
            .iter()
            .filter(|f| matches!(f.verdict, Verdict::Fail))
            .map(|f| f.id.to_string())
            .collect()
    } else {
        req.controls.to_vec()
    };
    let mut results: BTreeMap<String, ControlResult> = BTreeMap::new();
    let mut set = |id: &str, outcome: ControlOutcome, notes: Vec<String>| {
        results.insert(
            id.to_string(),
            ControlResult {
                control: id.to_string(),
                outcome,
                notes,
            },
        );
    };

    // Plan every candidate, in stage order, against one evolving view of
    // the files, so that the daemon set's edits of one file merge.
    let mut current = apply::read_files(conn, &plan::paths_to_read(facts)).await?;
    let mut view = current.clone();
    let mut flags_off = Vec::new();
    let mut candidates: Vec<(String, Change)> = Vec::new();
    let mut tls = None;
    let mut ordered = asked.clone();
    ordered.sort_by_key(|id| stage_of(id));
    for id in &ordered {
        let failing = matches!(verdict(id), Some(Verdict::Fail));
        if let Some((kind, why)) = skip_reason(id, facts, policy) {
            if failing {
                set(id, ControlOutcome::Skipped { kind, why }, Vec::new());
            } else {
                set(id, ControlOutcome::AlreadyCompliant, Vec::new());
            }
            continue;
        }
        let mut planned = plan::plan(id, facts, policy, &view, ctx, &mut flags_off)?;
        if planned.tls.is_some() {
            tls = planned.tls.take();
        }
        if stage_of(id) == Stage::AuditRules && !facts.audit.auditctl_available {
            let rules = planned.change.after_write.take().unwrap_or_default();
            planned.change.after_write = Some(format!("{INSTALL_AUDITD}\n{rules}"));
            planned.change.notes.push(
                "installs auditd with the host's package manager (policy install_packages: true)"
                    .into(),
            );
        }
        for e in &planned.change.edits {
            view.insert(e.path.clone(), e.content.clone());
        }
        candidates.push((id.clone(), planned.change));
    }
    // Files the plans write beyond the ones read first: read them too, so
    // that only real differences count.
    let more: Vec<String> = candidates
        .iter()
        .flat_map(|(_, c)| c.edits.iter().map(|e| e.path.clone()))
        .filter(|p| !current.contains_key(p))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !more.is_empty() {
        current.extend(apply::read_files(conn, &more).await?);
    }
    // Which controls change anything at all. Commands run only together with
    // a change, except fixes that are only commands.
    let mut changing: Vec<(String, Change)> = Vec::new();
    {
        let mut seen = current.clone();
        for (id, mut c) in candidates {
            let edits: Vec<_> = c
                .edits
                .iter()
                .filter(|e| seen.get(&e.path).cloned().flatten() != e.content)
                .cloned()
                .collect();
            for e in &edits {
                seen.insert(e.path.clone(), e.content.clone());
            }
            let command_only =
                matches!(id.as_str(), "docker-group" | "docker-version") && c.after_write.is_some();
            let audit_install =
                stage_of(&id) == Stage::AuditRules && !facts.audit.auditctl_available;
            let failing = matches!(verdict(&id), Some(Verdict::Fail));
            // Every audit-* control shares one rule file: the first one
            // carries it, the others ride along with its outcome.
            let rides_along = failing && changing.iter().any(|(i, _)| shares_fix(i, &id));
            if rides_along {
                changing.push((
                    id,
                    Change {
                        notes: Vec::new(),
                        ..Default::default()
                    },
                ));
                continue;
            }
            if edits.is_empty() && c.attrs.is_empty() && !command_only && !audit_install {
                let outcome = if failing {
                    ControlOutcome::Failed {
                        reason: "the fix found nothing to change, yet the control fails".into(),
                        rolled_back: false,
                    }
                } else {
                    ControlOutcome::AlreadyCompliant
                };
                set(&id, outcome, c.notes);
                continue;
            }
            if !failing && !req.controls.is_empty() && edits.is_empty() && c.attrs.is_empty() {
                set(&id, ControlOutcome::AlreadyCompliant, c.notes);
                continue;
            }
            c.edits = edits;
            changing.push((id, c));
        }
    }
    let refused = prechecks(conn, &changing).await?;
    changing.retain(|(id, c)| match refused.get(id) {
        Some(why) => {
            set(
                id,
                ControlOutcome::Skipped {
                    kind: SkipKind::Prerequisite,
                    why: format!("refused, nothing was changed: {why}"),
                },
                c.notes.clone(),
            );
            false
        }
        None => true,
    });
    // The merged units of work, in stage order.
    let units = merge(&changing, facts, &current);
    let daemon = units
        .iter()
        .find(|u| u.stage == Stage::Daemon)
        .map(|u| u.change.daemon)
        .unwrap_or_default();
    let mut report = ConvergeReport {
        dry_run: req.dry_run,
        controls: Vec::new(),
        daemon: match daemon {
            DaemonAction::None => "untouched",
            DaemonAction::Reload if req.dry_run => "would reload (SIGHUP)",
            DaemonAction::Restart if req.dry_run => "would restart",
            DaemonAction::Reload => "reloaded (SIGHUP)",
            DaemonAction::Restart => "restarted",
        },
        restarts: None,
        diff: String::new(),
        commands: Vec::new(),
        backups: Vec::new(),
    };
    for u in &units {
        report.diff.push_str(&apply::diff(&u.change, &current));
        report.commands.extend(u.change.after_write.clone());
        match u.change.daemon {
            DaemonAction::None => {}
            DaemonAction::Reload => report
                .commands
                .push("systemctl kill -s HUP --kill-who=main docker.service   # reload".into()),
            DaemonAction::Restart => report
                .commands
                .push("systemctl daemon-reload && systemctl restart docker.service".into()),
        }
    }
    if req.dry_run {
        for (id, c) in &changing {
            set(id, ControlOutcome::Fixed, c.notes.clone());
        }
        report.controls = order(results, &asked);
        return Ok(report);
    }
    let starts_before = read_starts(conn, None).await?;
    let mut applied_any = false;
    for u in &units {
        for id in &u.controls {
            if let Some((_, c)) = changing.iter().find(|(i, _)| i == id) {
                before_acting(id, &c.notes);
            }
        }
        let notes_of = |id: &str| {
            changing
                .iter()
                .find(|(i, _)| i == id)
                .map(|(_, c)| c.notes.clone())
                .unwrap_or_default()
        };
        match apply::apply(conn, &u.change, &current).await {
            Ok(Outcome::Applied { backup_dir }) => {
                applied_any = true;
                if !backup_dir.is_empty() {
                    report.backups.push(backup_dir);
                }
                if u.stage == Stage::Daemon {
                    if let Some(bundle) = &tls {
                        crate::tls::save_client(bundle, &ctx.client_tls_dir).map_err(|e| {
                            PlanError::Tls(format!("saving the client certificate: {e}"))
                        })?;
                    }
                }
                // Decided by the final audit.
                for id in &u.controls {
                    set(id, ControlOutcome::Fixed, notes_of(id));
                }
            }
            Ok(Outcome::AlreadyCompliant) => {
                for id in &u.controls {
                    set(id, ControlOutcome::AlreadyCompliant, notes_of(id));
                }
            }
            Ok(Outcome::RolledBack {
                backup_dir,
                journal,
            }) => {
                applied_any = true;
                for id in &u.controls {
                    set(
                        id,
                        ControlOutcome::Failed {
                            reason: format!(
                                "dockerd did not come back healthy; the whole daemon change set was rolled back to {backup_dir}; journal:\n{}",
                                journal.trim_end()
                            ),
                            rolled_back: true,
                        },
                        notes_of(id),
                    );
                }
            }
            Err(apply::ApplyError::Refused { output }) => {
                for id in &u.controls {
                    set(
                        id,
                        ControlOutcome::Skipped {
                            kind: SkipKind::Prerequisite,
                            why: format!("refused, nothing was changed: {output}"),
                        },
                        notes_of(id),
                    );
                }
            }
            Err(apply::ApplyError::Transport(e)) => return Err(e.into()),
            Err(e) => {
                applied_any = true;
                for id in &u.controls {
                    set(
                        id,
                        ControlOutcome::Failed {
                            reason: e.to_string(),
                            rolled_back: !matches!(e, apply::ApplyError::RollbackFailed { .. }),
                        },
                        notes_of(id),
                    );
                }
            }
        }
    }
    report.restarts = Some(restarts_since(conn, &starts_before).await?);
    // The final audit decides "fixed": a change that went in but does not
    // make the control pass is a failure, with the evidence.
    if applied_any {
        let after = crate::audit::run(conn, policy)
            .await
            .map_err(|e| FixError::Audit(e.to_string()))?;
        for r in results.values_mut() {
            if r.outcome != ControlOutcome::Fixed {
                continue;
            }
            let f = after.findings.iter().find(|f| f.id == r.control);
            match f.map(|f| &f.verdict) {
                Some(Verdict::Pass | Verdict::NotApplicable { .. }) | None => {}
                Some(v) => {
                    r.outcome = ControlOutcome::Failed {
                        reason: format!(
                            "changed, but the audit still says {v:?}: {}",
                            f.map(|f| f.evidence.join(" | ")).unwrap_or_default()
                        ),
                        rolled_back: false,
                    }
                }
            }
            if r.control == "userns-remap" && r.outcome == ControlOutcome::Fixed {
                if let Some(root) = after
                    .facts
                    .api
                    .info
                    .as_ref()
                    .and_then(|i| i.get("DockerRootDir"))
                    .and_then(serde_json::Value::as_str)
                {
                    r.notes.push(format!(
                        "dockerd's root is now {root}: images, containers and volumes made before are not visible there"
                    ));
                }
            }
        }
    }
    report.controls = order(results, &asked);
    Ok(report)
}

/// Installs auditd with the host's package manager (Debian and Ubuntu:
/// auditd; RHEL and CentOS: audit). apt refreshes its lists only when the
/// package is not found in them.
const INSTALL_AUDITD: &str = "if command -v apt-get >/dev/null 2>&1; then\n  export DEBIAN_FRONTEND=noninteractive\n  apt-get install -y -q auditd >/tmp/shipshape-install.log 2>&1 || { apt-get update -q >>/tmp/shipshape-install.log 2>&1 && apt-get install -y -q auditd >>/tmp/shipshape-install.log 2>&1; } || { tail -20 /tmp/shipshape-install.log >&2; exit 1; }\nelif command -v dnf >/dev/null 2>&1; then\n  dnf -y -q install audit >&2\nelif command -v yum >/dev/null 2>&1; then\n  yum -y -q install audit >&2\nelse\n  echo 'no apt-get, dnf or yum to install auditd with' >&2; exit 1\nfi\nsystemctl enable --now auditd >/dev/null 2>&1 || service auditd start >/dev/null 2>&1 || true";

/// The results in the order the user asked, or catalogue order.
fn order(mut results: BTreeMap<String, ControlResult>, asked: &[String]) -> Vec<ControlResult> {
    let mut out = Vec::new();
    for id in asked {
        if let Some(r) = results.remove(id) {
            out.push(r);
        }
    }
    out.extend(results.into_values());
    out
}

struct Unit {
    stage: Stage,
    controls: Vec<String>,
    change: Change,
}

/// Merges the planned changes into units of work: one per stage, except
/// that each stage's edits of one file keep only the last (each plan saw
/// the ones before it).
fn merge(
    changing: &[(String, Change)],
    facts: &Facts,
    current: &BTreeMap<String, Option<String>>,
) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    for (id, c) in changing {
        let stage = stage_of(id);
        let unit = match units.iter_mut().find(|u| u.stage == stage) {
            Some(u) => u,
            None => {
                units.push(Unit {
                    stage,
                    controls: Vec::new(),
                    change: Change::default(),
                });
                units.last_mut().expect("just pushed")
            }
        };
        unit.controls.push(id.clone());
        let m = &mut unit.change;
        for e in &c.edits {
            m.edits.retain(|x| x.path != e.path);
            m.edits.push(e.clone());
        }
        m.attrs.extend(c.attrs.iter().cloned());
        // Every audit-* control carries the same rule file and command.
        let same_command = m.after_write.is_some() && m.after_write == c.after_write;
        for (slot, add) in [
            (&mut m.precheck, &c.precheck),
            (&mut m.after_write, &c.after_write),
        ] {
            if let Some(a) = add {
                if same_command {
                    continue;
                }
                *slot = Some(match slot.take() {
                    Some(s) => format!("{s}\n{a}"),
                    None => a.clone(),
                });
            }
        }
        // Rollback steps undo in reverse order.
        if let Some(rb) = &c.on_rollback {
            m.on_rollback = Some(match m.on_rollback.take() {
                Some(s) => format!("{rb}\n{s}"),
                None => rb.clone(),
            });
        }
        if c.daemon == DaemonAction::Restart {
            m.daemon = DaemonAction::Restart;
        }
        m.notes.extend(c.notes.iter().cloned());
    }
    for u in &mut units {
        if u.stage != Stage::Daemon {
            continue;
        }
        // Prechecks ran already, control by control.
        u.change.precheck = None;
        let daemon_json = &facts.daemon_json_path;
        if u.change.edits.iter().any(|e| &e.path == daemon_json) {
            if let Some(v) = plan::validate_command(facts) {
                u.change.after_write = Some(match u.change.after_write.take() {
                    Some(a) => format!("{a}\n{v}"),
                    None => v,
                });
            }
        }
        if u.change.daemon == DaemonAction::Restart && reloadable(&u.change, daemon_json, current) {
            u.change.daemon = DaemonAction::Reload;
        }
    }
    units
}

/// Whether dockerd can take `change` in by SIGHUP: it edits daemon.json
/// only, runs nothing but the validation, and changes only keys of
/// [`RELOADABLE`].
fn reloadable(
    change: &Change,
    daemon_json: &str,
    current: &BTreeMap<String, Option<String>>,
) -> bool {
    if change.edits.iter().any(|e| e.path != daemon_json) || !change.attrs.is_empty() {
        return false;
    }
    if change
        .after_write
        .as_deref()
        .is_some_and(|a| !a.lines().all(|l| l.starts_with("dockerd --validate ")))
    {
        return false;
    }
    let parse = |t: Option<&str>| -> Option<serde_json::Map<String, serde_json::Value>> {
        match t.map(str::trim) {
            None | Some("") => Some(serde_json::Map::new()),
            Some(t) => serde_json::from_str(t).ok(),
        }
    };
    let Some(new) = change.edits.iter().find(|e| e.path == daemon_json) else {
        return false;
    };
    let (Some(old), Some(new)) = (
        parse(current.get(daemon_json).cloned().flatten().as_deref()),
        parse(new.content.as_deref()),
    ) else {
        return false;
    };
    // On SIGHUP dockerd applies the keys the file sets, and keeps its value
    // for a key the file no longer has: a removed key needs a restart (seen
    // with insecure-registries on 20.10: removed, still insecure).
    old.keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .all(|k| RELOADABLE.contains(&k.as_str()) && new.contains_key(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::FileEdit;

    fn dj(content: &str) -> Change {
        Change {
            edits: vec![FileEdit {
                path: "/etc/docker/daemon.json".into(),
                content: Some(content.into()),
                mode: 0o644,
            }],
            daemon: DaemonAction::Restart,
            ..Default::default()
        }
    }

    #[test]
    fn only_reloadable_keys_reload() {
        let mut cur = BTreeMap::new();
        cur.insert(
            "/etc/docker/daemon.json".to_string(),
            Some("{\"icc\": false}".to_string()),
        );
        let p = "/etc/docker/daemon.json";
        assert!(reloadable(
            &dj("{\"icc\": false, \"live-restore\": true}"),
            p,
            &cur
        ));
        assert!(!reloadable(&dj("{\"icc\": true}"), p, &cur));
        assert!(!reloadable(
            &dj("{\"icc\": false, \"live-restore\": true, \"userland-proxy\": false}"),
            p,
            &cur
        ));
        let mut with_dropin = dj("{\"icc\": false, \"live-restore\": true}");
        with_dropin.edits.push(FileEdit {
            path: plan::EXEC_DROPIN.into(),
            content: Some("x".into()),
            mode: 0o644,
        });
        assert!(!reloadable(&with_dropin, p, &cur));
        // A removed key keeps its old value on SIGHUP.
        cur.insert(
            p.to_string(),
            Some("{\"icc\": false, \"insecure-registries\": [\"r:5000\"]}".to_string()),
        );
        assert!(!reloadable(&dj("{\"icc\": false}"), p, &cur));
        assert!(reloadable(
            &dj("{\"icc\": false, \"insecure-registries\": []}"),
            p,
            &cur
        ));
    }

    #[test]
    fn the_daemon_set_is_one_unit_and_its_file_edits_merge() {
        let facts = Facts {
            daemon_json_path: "/etc/docker/daemon.json".into(),
            ..Default::default()
        };
        let a = dj("{\"icc\": false}\n");
        let b = dj("{\"icc\": false, \"live-restore\": true}\n");
        let mut c = dj("{}");
        c.edits = vec![FileEdit {
            path: "/etc/sysctl.d/x.conf".into(),
            content: Some("k=v\n".into()),
            mode: 0o644,
        }];
        c.after_write = Some("sysctl -q -p /etc/sysctl.d/x.conf".into());
        let group = Change {
            after_write: Some("gpasswd -d mallory docker".into()),
            ..Default::default()
        };
        let changing = vec![
            ("icc".to_string(), a),
            ("live-restore".to_string(), b),
            ("userns-remap".to_string(), c),
            ("docker-group".to_string(), group),
        ];
        let units = merge(&changing, &facts, &BTreeMap::new());
        assert_eq!(units.len(), 2);
        let d = &units[0];
        assert_eq!(d.stage, Stage::Daemon);
        assert_eq!(d.controls, ["icc", "live-restore", "userns-remap"]);
        assert_eq!(d.change.daemon, DaemonAction::Restart);
        let dj_edits: Vec<_> = d
            .change
            .edits
            .iter()
            .filter(|e| e.path == "/etc/docker/daemon.json")
            .collect();
        assert_eq!(dj_edits.len(), 1);
        assert_eq!(
            dj_edits[0].content.as_deref(),
            Some("{\"icc\": false, \"live-restore\": true}\n")
        );
        assert_eq!(units[1].stage, Stage::Group);
        assert_eq!(units[1].change.daemon, DaemonAction::None);
    }

    #[test]
    fn stages_are_ordered_upgrade_daemon_then_host() {
        let mut ids = vec![
            "perm-etc-docker",
            "audit-dockerd",
            "docker-group",
            "icc",
            "docker-root-mount",
            "docker-version",
        ];
        ids.sort_by_key(|id| stage_of(id));
        assert_eq!(
            ids,
            [
                "docker-version",
                "icc",
                "docker-root-mount",
                "docker-group",
                "audit-dockerd",
                "perm-etc-docker"
            ]
        );
    }

    #[test]
    fn exit_code_counts_skips_and_failures() {
        let mut r = ConvergeReport {
            dry_run: false,
            controls: vec![ControlResult {
                control: "icc".into(),
                outcome: ControlOutcome::Fixed,
                notes: vec![],
            }],
            daemon: "restarted",
            restarts: Some(1),
            diff: String::new(),
            commands: vec![],
            backups: vec![],
        };
        assert_eq!(r.exit_code(), 0);
        r.controls.push(ControlResult {
            control: "audit-dockerd".into(),
            outcome: ControlOutcome::Skipped {
                kind: SkipKind::Prerequisite,
                why: "auditd".into(),
            },
            notes: vec![],
        });
        assert_eq!(r.exit_code(), 1);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["controls"][1]["outcome"], "skipped");
        assert_eq!(json["controls"][1]["kind"], "prerequisite");
    }
}
