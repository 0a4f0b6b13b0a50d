//! Runs one scenario on a VM that is already at its clean snapshot:
//! prepare → audit expects fail → fix → reboot if needed → audit expects
//! pass → verify → fix again expects "already compliant".

use std::time::{Duration, Instant};

use shipshape_checks::{Policy, Verdict};

use super::model::{AfterFix, Expect, RunnerCheck, Scenario, Step};
use super::outcome::Outcome;
use crate::audit;
use crate::driver::Machine;
use crate::fix;
use crate::glob::glob_match;
use crate::transport::ssh::SshError;

#[derive(Debug, Clone)]
pub struct StepResult {
    pub name: String,
    pub command: String,
    pub output: String,
    pub duration: Duration,
    pub ok: bool,
    /// Why it failed.
    pub message: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub scenario: String,
    pub control: String,
    pub steps: Vec<StepResult>,
    pub duration: Duration,
    pub outcome: Outcome,
}

impl ScenarioResult {
    /// Ran, and every step held.
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Passed
    }

    /// Failed or broke.
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_) | Outcome::Broken(_))
    }

    /// A result with no steps: skipped, or broken before it could start.
    pub fn without_steps(sc: &Scenario, outcome: Outcome) -> Self {
        Self {
            scenario: sc.name.clone(),
            control: sc.control.clone(),
            steps: Vec::new(),
            duration: Duration::ZERO,
            outcome,
        }
    }

    /// A scenario the driver could not run, with the reason.
    pub fn skip(sc: &Scenario, why: String) -> Self {
        Self::without_steps(sc, Outcome::Skipped(why))
    }
}

fn expect_matches(e: Expect, v: &Verdict) -> bool {
    matches!(
        (e, v),
        (Expect::Pass, Verdict::Pass)
            | (Expect::Fail, Verdict::Fail)
            | (Expect::NotApplicable, Verdict::NotApplicable { .. })
            | (Expect::Manual, Verdict::Manual { .. })
    )
}

/// Called with every step as it finishes.
pub type OnStep<'a> = &'a (dyn Fn(&StepResult) + Send + Sync);

struct Recorder<'a> {
    on_step: OnStep<'a>,
    steps: Vec<StepResult>,
    /// A step failed because the machine did, not because of what it checked.
    broken: bool,
}

impl Recorder<'_> {
    fn push(
        &mut self,
        name: String,
        command: String,
        output: String,
        started: Instant,
        result: Result<(), String>,
    ) -> Result<(), String> {
        let ok = result.is_ok();
        let step = StepResult {
            name: name.clone(),
            command,
            output,
            duration: started.elapsed(),
            ok,
            message: result.as_ref().err().cloned(),
        };
        (self.on_step)(&step);
        self.steps.push(step);
        result.map_err(|m| format!("step `{name}` failed: {m}"))
    }
}

async fn run_command(
    vm: &mut impl Machine,
    step: &Step,
    rec: &mut Recorder<'_>,
    phase: &str,
) -> Result<(), String> {
    let started = Instant::now();
    let name = format!("{phase}: {}", step.label());
    let limit = Duration::from_secs(step.timeout.unwrap_or(120));
    if let Some(check) = step.runner {
        let r = runner_check(vm, check).await;
        let (output, verdict) = match r {
            Ok(text) => {
                let v = match &step.stdout {
                    Some(re)
                        if !regex::Regex::new(re)
                            .expect("validated at load")
                            .is_match(&text) =>
                    {
                        Err(format!("{text:?} does not match /{re}/"))
                    }
                    _ => Ok(()),
                };
                (text, v)
            }
            Err(e) => (String::new(), Err(e)),
        };
        return rec.push(
            name,
            format!("(runner) {check:?}"),
            output,
            started,
            verdict,
        );
    }
    // Where the machine's added disk is differs by driver (/dev/sdb under
    // QEMU, a by-id path under Vagrant): steps read it from the environment.
    let disk = crate::shell::quote(&vm.host().data_disk);
    let command = format!(
        "SHIPSHAPE_DATA_DISK={disk}; export SHIPSHAPE_DATA_DISK\n{}",
        step.run
    );
    let result = match vm.conn().await {
        Ok(conn) => conn.exec(&command, None, limit).await,
        Err(e) => {
            rec.broken = true;
            return rec.push(
                name,
                step.run.clone(),
                String::new(),
                started,
                Err(e.to_string()),
            );
        }
    };
    let (output, verdict) = match result {
        Ok(out) => {
            let text = format!(
                "exit {}\n--- stdout\n{}--- stderr\n{}",
                out.status, out.stdout, out.stderr
            );
            let want = step.status.unwrap_or(0);
            let mut v = Ok(());
            if out.status != want {
                v = Err(format!(
                    "exit status {} (expected {want}); stderr: {}",
                    out.status,
                    out.stderr.trim()
                ));
            } else if let Some(re) = &step.stdout {
                let re = regex::Regex::new(re).expect("validated at load");
                if !re.is_match(&out.stdout) {
                    v = Err(format!(
                        "stdout does not match /{re}/: {:?}",
                        out.stdout.trim()
                    ));
                }
            }
            if v.is_ok() {
                if let Some(re) = &step.stdout_not {
                    let re = regex::Regex::new(re).expect("validated at load");
                    if re.is_match(&out.stdout) {
                        v = Err(format!(
                            "stdout matches /{re}/ but must not: {:?}",
                            out.stdout.trim()
                        ));
                    }
                }
            }
            (text, v)
        }
        Err(e) => {
            // A command that ran out of time was ended on the target: the
            // machine is fine. Anything else means the connection went.
            if !matches!(e, SshError::CommandTimeout { .. }) {
                rec.broken = true;
            }
            (String::new(), Err(e.to_string()))
        }
    };
    rec.push(name, step.run.clone(), output, started, verdict)
}

async fn runner_check(vm: &impl Machine, check: RunnerCheck) -> Result<String, String> {
    let info = vm.host();
    let dir = info.client_tls_dir;
    let (host, port) = info.docker_tls;
    match check {
        RunnerCheck::DockerTls => {
            let v = crate::tls::docker_version_with_cert(&format!("tcp://{host}:{port}"), &dir)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("server version {v}"))
        }
        RunnerCheck::DockerTlsWithoutCert => {
            let ca = std::fs::read_to_string(dir.join("ca.pem"))
                .map_err(|e| format!("no CA from the fix in {}: {e}", dir.display()))?;
            crate::tls::refused_without_cert(&host, port, &ca)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

async fn audit_step(
    vm: &mut impl Machine,
    sc: &Scenario,
    policy: &Policy,
    expect: Expect,
    rec: &mut Recorder<'_>,
    phase: &str,
) -> Result<audit::AuditRun, String> {
    let started = Instant::now();
    let name = format!("{phase}: audit expects {expect:?}").to_lowercase();
    let run = match vm.conn().await {
        Ok(conn) => audit::run(&conn, policy).await.map_err(|e| e.to_string()),
        Err(e) => {
            rec.broken = true;
            Err(e.to_string())
        }
    };
    match run {
        Ok(run) => {
            let (output, verdict) = if sc.is_converge() {
                judge_host(sc, &run, expect)
            } else {
                judge_control(sc, &run, expect)
            };
            rec.push(
                name,
                "audit (probe over one exec)".into(),
                output,
                started,
                verdict,
            )?;
            Ok(run)
        }
        Err(msg) => {
            rec.push(
                name,
                "audit".into(),
                String::new(),
                started,
                Err(msg.clone()),
            )?;
            Err(msg)
        }
    }
}

/// The scenario's one control: its verdict as expected, with the evidence.
fn judge_control(
    sc: &Scenario,
    run: &audit::AuditRun,
    expect: Expect,
) -> (String, Result<(), String>) {
    match run.findings.iter().find(|f| f.id == sc.control) {
        Some(f) => {
            let text = format!("{}: {:?}\n{}", f.id, f.verdict, f.evidence.join("\n"));
            let v = if expect_matches(expect, &f.verdict) {
                Ok(())
            } else {
                Err(format!(
                    "verdict {:?}, expected {expect:?}; evidence: {}",
                    f.verdict,
                    f.evidence.join(" | ")
                ))
            };
            (text, v)
        }
        None => (
            String::new(),
            Err(format!("the audit has no control `{}`", sc.control)),
        ),
    }
}

/// A whole-host audit: `pass` means no control that has a fix fails (but
/// those the scenario lets the fix skip); `fail`, that some such control does.
fn judge_host(
    sc: &Scenario,
    run: &audit::AuditRun,
    expect: Expect,
) -> (String, Result<(), String>) {
    let failing: Vec<&shipshape_checks::Finding> = run
        .findings
        .iter()
        .filter(|f| matches!(f.verdict, Verdict::Fail) && fix::has_fix(f.id))
        .filter(|f| !sc.fix_skips.iter().any(|g| glob_match(g, f.id)))
        .collect();
    let mut text = String::new();
    for f in &run.findings {
        text.push_str(&format!("{}: {:?}\n", f.id, f.verdict));
    }
    let verdict = match (expect, failing.is_empty()) {
        (Expect::Pass, true) | (Expect::Fail, false) => Ok(()),
        (Expect::Pass, false) => Err(format!(
            "controls with a fix still fail: {}",
            failing
                .iter()
                .map(|f| format!("{} ({})", f.id, f.evidence.join(" | ")))
                .collect::<Vec<_>>()
                .join("; ")
        )),
        (Expect::Fail, true) => Err("no control with a fix fails before the fix".into()),
        (e, _) => Err(format!(
            "a whole-host audit expects pass or fail, not {e:?}"
        )),
    };
    (text, verdict)
}

async fn fix_step(
    vm: &mut impl Machine,
    sc: &Scenario,
    policy: &Policy,
    before: &audit::AuditRun,
    rec: &mut Recorder<'_>,
    phase: &str,
    expect_noop: bool,
) -> Result<(), String> {
    let started = Instant::now();
    let whole = sc.is_converge();
    let name = if whole {
        format!("{phase}: fix (whole host)")
    } else {
        format!("{phase}: fix {}", sc.control)
    };
    let ctx = fix::FixContext::from(vm.host());
    let conn = match vm.conn().await {
        Ok(c) => c,
        Err(e) => {
            rec.broken = true;
            return Err(e.to_string());
        }
    };
    let asked: Vec<String> = if whole {
        Vec::new()
    } else {
        vec![sc.control.clone()]
    };
    let req = fix::Request {
        controls: &asked,
        dry_run: false,
    };
    let outcome = fix::converge(
        &conn,
        &before.findings,
        &before.facts,
        policy,
        &ctx,
        &req,
        |_, _| {},
    )
    .await;
    let (output, verdict) = match outcome {
        Ok(report) => (report.render(), judge_fix(sc, &report, expect_noop)),
        Err(e) => (String::new(), Err(e.to_string())),
    };
    rec.push(
        name,
        if whole {
            "shipshape fix".to_string()
        } else {
            format!("shipshape fix --control {}", sc.control)
        },
        output,
        started,
        verdict,
    )
}

/// Whether a fix's report is what the scenario expects: on the first run
/// every control it took is fixed (but those the scenario expects to be
/// skipped), with at most `max_restarts` dockerd starts; on the second run
/// nothing changes and nothing restarts.
fn judge_fix(sc: &Scenario, report: &fix::ConvergeReport, expect_noop: bool) -> Result<(), String> {
    let mut problems = Vec::new();
    for c in &report.controls {
        let may_skip = sc.fix_skips.iter().any(|g| glob_match(g, &c.control));
        match (&c.outcome, expect_noop) {
            (fix::ControlOutcome::AlreadyCompliant, _) => {}
            (fix::ControlOutcome::Skipped { .. }, _) if may_skip => {}
            (fix::ControlOutcome::Fixed, false) => {}
            (o, true) => problems.push(format!(
                "{}: the second fix did not find it compliant: {o:?}",
                c.control
            )),
            (o, false) => problems.push(format!("{}: {o:?}", c.control)),
        }
    }
    for g in &sc.fix_skips {
        if !expect_noop
            && !report.controls.iter().any(|c| {
                glob_match(g, &c.control)
                    && matches!(c.outcome, fix::ControlOutcome::Skipped { .. })
            })
        {
            problems.push(format!(
                "no control matching `{g}` was skipped, as the scenario expects"
            ));
        }
    }
    if !sc.is_converge()
        && !expect_noop
        && !report
            .controls
            .iter()
            .any(|c| c.control == sc.control && c.outcome == fix::ControlOutcome::Fixed)
    {
        problems.push(format!("{} was not fixed", sc.control));
    }
    let limit = if expect_noop { 0 } else { sc.max_restarts };
    if let Some(n) = report.restarts {
        if n > limit {
            problems.push(format!("dockerd (re)started {n} times (at most {limit})"));
        }
    }
    if let Some(want) = sc.fix_exit {
        if !expect_noop && report.exit_code() != want {
            problems.push(format!(
                "the fix's exit code would be {} (expected {want})",
                report.exit_code()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Runs `sc` on `vm`. The caller resets the VM first.
pub async fn run_scenario(
    vm: &mut impl Machine,
    sc: &Scenario,
    policy: &Policy,
    on_step: OnStep<'_>,
) -> ScenarioResult {
    let started = Instant::now();
    let mut rec = Recorder {
        on_step,
        steps: Vec::new(),
        broken: false,
    };
    if let Some(why) = missing_program(vm, sc).await {
        return ScenarioResult::skip(sc, why);
    }
    let mut failure = match effective_policy(sc, policy) {
        Ok(p) => run_inner(vm, sc, &p, &mut rec).await.err(),
        Err(e) => Some(e),
    };
    if let Some(msg) = &mut failure {
        // A killed VM's connection can close before its process is reaped:
        // when the connection went, give the driver a moment to see why.
        let patience = if rec.broken {
            Duration::from_secs(3)
        } else {
            Duration::ZERO
        };
        let deadline = Instant::now() + patience;
        let death = loop {
            match vm.death_report() {
                Some(d) => break Some(d),
                None if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                None => break None,
            }
        };
        if let Some(death) = death {
            rec.broken = true;
            msg.push_str(&format!("\n{death}"));
        }
    }
    ScenarioResult {
        scenario: sc.name.clone(),
        control: sc.control.clone(),
        steps: rec.steps,
        duration: started.elapsed(),
        outcome: match failure {
            None => Outcome::Passed,
            Some(m) if rec.broken => Outcome::Broken(m),
            Some(m) => Outcome::Failed(m),
        },
    }
}

/// A package manager the scenario needs and the machine lacks, as the
/// reason to skip it (a CentOS host has no apt-get, a Debian one no dnf).
async fn missing_program(vm: &mut impl Machine, sc: &Scenario) -> Option<String> {
    let programs: Vec<&str> = sc.all_needs().iter().filter_map(|n| n.program()).collect();
    if programs.is_empty() {
        return None;
    }
    let conn = vm.conn().await.ok()?;
    for p in programs {
        let out = conn
            .exec(&format!("command -v {p}"), None, Duration::from_secs(30))
            .await
            .ok()?;
        if out.status != 0 {
            return Some(format!(
                "needs {p}, and this machine has none (its package manager is another)"
            ));
        }
    }
    None
}

/// The run's policy with the scenario's own values on top (checked when
/// the scenario was loaded).
fn effective_policy(sc: &Scenario, policy: &Policy) -> Result<Policy, String> {
    match &sc.policy {
        None => Ok(policy.clone()),
        Some(over) => over
            .apply(policy)
            .map_err(|e| format!("{}: policy: {e}", sc.path.display())),
    }
}

async fn run_inner(
    vm: &mut impl Machine,
    sc: &Scenario,
    policy: &Policy,
    rec: &mut Recorder<'_>,
) -> Result<(), String> {
    for step in &sc.prepare {
        run_command(vm, step, rec, "prepare").await?;
    }
    let before = audit_step(vm, sc, policy, sc.expect_before, rec, "before").await?;
    for step in &sc.remediate {
        run_command(vm, step, rec, "remediate").await?;
    }
    if sc.fix {
        fix_step(vm, sc, policy, &before, rec, "fix", false).await?;
        if sc.after_fix == AfterFix::Reboot {
            let started = Instant::now();
            let r = vm
                .reboot(Duration::from_secs(sc.reboot_timeout))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            rec.broken |= r.is_err();
            rec.push(
                "reboot".into(),
                "systemctl reboot; wait for a new boot_id".into(),
                String::new(),
                started,
                r,
            )?;
        }
    }
    let after = audit_step(vm, sc, policy, sc.expect_after, rec, "after").await?;
    for step in &sc.verify {
        run_command(vm, step, rec, "verify").await?;
    }
    if sc.fix && sc.idempotent {
        // The plan reads daemon.json and the drop-in itself; the facts only
        // say where they are and what dockerd runs with, which the verify
        // steps do not change.
        fix_step(vm, sc, policy, &after, rec, "idempotence", true).await?;
    }
    Ok(())
}
