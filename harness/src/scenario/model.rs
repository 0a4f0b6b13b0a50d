//! The scenario file format. Unknown fields are errors, and every error
//! points at file:line:column.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::platform::Platform;

/// The verdict an audit step expects for the scenario's control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    Pass,
    Fail,
    NotApplicable,
    Manual,
}

/// What must happen after the fix before the effect can be seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AfterFix {
    /// The fix restarts dockerd itself.
    #[default]
    None,
    /// A real reboot (new boot id).
    Reboot,
}

pub use crate::driver::Need;

/// A check run from the runner's side, not on the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunnerCheck {
    /// A real Docker client (bollard) with the fix's client certificate,
    /// through the forwarded TLS port: `docker version` must answer.
    DockerTls,
    /// A TLS client that trusts the CA but has no certificate: refused.
    DockerTlsWithoutCert,
}

/// A command on the guest (or a check from the runner) and what it must print.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub name: Option<String>,
    /// Shell on the guest.
    #[serde(default)]
    pub run: String,
    /// Or a shell script shipped beside the scenario (a path relative to
    /// its file), read at load time: what several scenarios share.
    #[serde(default)]
    pub script: Option<PathBuf>,
    /// Or a check from the runner's side.
    #[serde(default)]
    pub runner: Option<RunnerCheck>,
    /// Expected exit status (default 0).
    #[serde(default)]
    pub status: Option<u32>,
    /// A regular expression stdout must match.
    #[serde(default)]
    pub stdout: Option<String>,
    /// A regular expression stdout must not match.
    #[serde(default)]
    pub stdout_not: Option<String>,
    /// Seconds (default 120).
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl Step {
    pub fn label(&self) -> String {
        if let (None, Some(r)) = (&self.name, self.runner) {
            return format!("runner: {r:?}");
        }
        self.name.clone().unwrap_or_else(|| {
            let first = self.run.lines().next().unwrap_or_default();
            first.chars().take(60).collect()
        })
    }
}

/// A scenario's `policy:` values, laid over the run's policy. Checked at
/// load against the policy's own fields and types, so a mistyped key is an
/// error at file:line:col before any machine comes up.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct PolicyOverride(serde_json::Map<String, serde_json::Value>);

/// A `policy:` value the policy does not take.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyOverrideError(String);

impl PolicyOverride {
    /// The first key the default policy refuses on its own.
    fn first_bad_key(&self) -> Option<String> {
        self.0.iter().find_map(|(k, v)| {
            let one = PolicyOverride([(k.clone(), v.clone())].into_iter().collect());
            one.apply(&shipshape_checks::Policy::default())
                .is_err()
                .then(|| k.clone())
        })
    }

    /// `base` with these values on top.
    pub fn apply(
        &self,
        base: &shipshape_checks::Policy,
    ) -> Result<shipshape_checks::Policy, PolicyOverrideError> {
        let mut v = serde_json::to_value(base).map_err(|e| PolicyOverrideError(e.to_string()))?;
        for (k, val) in &self.0 {
            v[k] = val.clone();
        }
        serde_json::from_value(v).map_err(|e| PolicyOverrideError(e.to_string()))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The control this scenario proves.
    pub control: String,
    #[serde(default)]
    pub description: String,
    /// Platforms it runs on (default: all).
    #[serde(default)]
    pub platforms: Vec<Platform>,
    /// Brings the host into a non-compliant state.
    #[serde(default)]
    pub prepare: Vec<Step>,
    #[serde(default = "Scenario::default_before")]
    pub expect_before: Expect,
    /// Run the control's fix (default true).
    #[serde(default = "Scenario::yes")]
    pub fix: bool,
    /// For a control shipshape has no fix for (`fix: false`): the
    /// remediation done by hand, run where the fix would be, so that the
    /// scenario still proves the verdict flips.
    #[serde(default)]
    pub remediate: Vec<Step>,
    #[serde(default)]
    pub after_fix: AfterFix,
    #[serde(default = "Scenario::default_after")]
    pub expect_after: Expect,
    /// The effect, seen for real.
    #[serde(default)]
    pub verify: Vec<Step>,
    /// What the machine must offer; `reboot` is implied by `after_fix`.
    #[serde(default)]
    pub needs: Vec<Need>,
    /// Policy values for this scenario (the rest are the run's policy).
    #[serde(default)]
    pub policy: Option<PolicyOverride>,
    /// Fix again and expect "already compliant" with no file changed.
    #[serde(default = "Scenario::yes")]
    pub idempotent: bool,
    /// Controls (globs, `audit-*`) the fix is expected to skip: they may
    /// still fail after it, and at least one of each must be skipped.
    #[serde(default)]
    pub fix_skips: Vec<String>,
    /// dockerd (re)starts the fix may cause (default 1); the second fix may
    /// cause none.
    #[serde(default = "Scenario::one")]
    pub max_restarts: u32,
    /// The exit code `shipshape fix` would give (0 or 1), if the scenario
    /// checks it.
    #[serde(default)]
    pub fix_exit: Option<u8>,
    /// Seconds the reboot after the fix may take (two VMs rebooting side by
    /// side on 2 cores under TCG took up to 162 s).
    #[serde(default = "Scenario::default_reboot_timeout")]
    pub reboot_timeout: u64,

    #[serde(skip)]
    pub name: String,
    #[serde(skip)]
    pub path: PathBuf,
}

impl Scenario {
    /// `control: all`: the whole host, one `shipshape fix` with no `--control`.
    pub fn is_converge(&self) -> bool {
        self.control == "all"
    }
    fn one() -> u32 {
        1
    }
    fn default_reboot_timeout() -> u64 {
        300
    }
    fn default_before() -> Expect {
        Expect::Fail
    }
    fn default_after() -> Expect {
        Expect::Pass
    }
    fn yes() -> bool {
        true
    }

    /// Everything the scenario needs, the implied reboot included.
    pub fn all_needs(&self) -> Vec<Need> {
        let mut v = self.needs.clone();
        if self.after_fix == AfterFix::Reboot && !v.contains(&Need::Reboot) {
            v.push(Need::Reboot);
        }
        v
    }

    pub fn runs_on(&self, p: Platform) -> bool {
        self.platforms.is_empty() || self.platforms.contains(&p)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Parse(String),
    #[error("{path}: unknown control `{control}` (see `shipshape controls`)")]
    UnknownControl { path: String, control: String },
    #[error("{path}: bad regular expression in step `{step}`: {reason}")]
    BadRegex {
        path: String,
        step: String,
        reason: String,
    },
}

pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut s: Scenario = serde_saphyr::from_str(&text)
        .map_err(|e| ScenarioError::Parse(crate::yaml::error_at(path, &e)))?;
    if !s.is_converge() && shipshape_checks::find_control(&s.control).is_none() {
        return Err(ScenarioError::UnknownControl {
            path: locate(path, &text, &["control:", &s.control]),
            control: s.control.clone(),
        });
    }
    for g in &s.fix_skips {
        if !shipshape_checks::catalogue()
            .iter()
            .any(|c| crate::glob::glob_match(g, c.id))
        {
            return Err(ScenarioError::UnknownControl {
                path: locate(path, &text, &["fix_skips", g]),
                control: g.clone(),
            });
        }
    }
    if let Some(over) = &s.policy {
        if let Err(e) = over.apply(&shipshape_checks::Policy::default()) {
            // The first key that fails alone is the one to point at.
            let msg = e.to_string();
            let field = over.first_bad_key().unwrap_or_default();
            let at = match locate(path, &text, &[&format!("{field}:")]) {
                p if !field.is_empty() && p.contains(':') => p,
                _ => locate(path, &text, &["policy:"]),
            };
            return Err(ScenarioError::Parse(format!("{at}: policy: {msg}")));
        }
    }
    if s.fix && !s.remediate.is_empty() {
        return Err(ScenarioError::Parse(format!(
            "{}: `remediate` stands in for a fix: it needs `fix: false`",
            locate(path, &text, &["remediate:"])
        )));
    }
    for step in s
        .prepare
        .iter_mut()
        .chain(s.remediate.iter_mut())
        .chain(s.verify.iter_mut())
    {
        if let Some(rel) = &step.script {
            let at = locate(path, &text, &["script:", &rel.to_string_lossy()]);
            if !step.run.trim().is_empty() {
                return Err(ScenarioError::Parse(format!(
                    "{at}: step `{}` has both `run` and `script`",
                    step.label()
                )));
            }
            let file = path.parent().unwrap_or(Path::new(".")).join(rel);
            step.run = std::fs::read_to_string(&file).map_err(|e| {
                ScenarioError::Parse(format!("{at}: script {}: {e}", file.display()))
            })?;
        }
    }
    for step in s.prepare.iter().chain(&s.remediate).chain(&s.verify) {
        let at = locate(path, &text, &[step.name.as_deref().unwrap_or("")]);
        if step.run.trim().is_empty() == step.runner.is_none() {
            return Err(ScenarioError::Parse(format!(
                "{at}: step `{}` needs exactly one of `run` and `runner`",
                step.label()
            )));
        }
        for re in step.stdout.iter().chain(&step.stdout_not) {
            regex::Regex::new(re).map_err(|e| ScenarioError::BadRegex {
                path: match locate(path, &text, &[re]) {
                    p if p.contains(':') => p,
                    _ => at.clone(),
                },
                step: step.label(),
                reason: e.to_string(),
            })?;
        }
    }
    s.name = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    s.path = path.to_path_buf();
    Ok(s)
}

/// `path:line:column` of the first line holding every needle, in order (the
/// column is the last needle's), or the bare path. The checks here run after
/// parsing, where serde no longer knows positions; the values they name are
/// in the text as written.
fn locate(path: &Path, text: &str, needles: &[&str]) -> String {
    let found = text.lines().enumerate().find_map(|(i, line)| {
        let mut from = 0;
        let mut col = 0;
        for n in needles.iter().filter(|n| !n.is_empty()) {
            let at = line[from..].find(n)? + from;
            col = at;
            from = at + n.len();
        }
        (from > 0).then_some((i + 1, col + 1))
    });
    match found {
        Some((line, col)) => format!("{}:{line}:{col}", path.display()),
        None => path.display().to_string(),
    }
}

/// Every `*.yaml` in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ScenarioError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load_file(p)).collect()
}

/// The scenarios this repository ships, for unit tests.
#[cfg(test)]
pub(crate) fn shipped() -> Vec<Scenario> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    load_dir(&dir).expect("the shipped scenarios load")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Scenario, ScenarioError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.yaml");
        std::fs::write(&p, text).unwrap();
        load_file(&p).map_err(|e| {
            // Errors name the file as given.
            assert!(e.to_string().contains(&*p.to_string_lossy()), "{e}");
            e
        })
    }

    #[test]
    fn a_mistyped_policy_key_is_refused_at_load_with_its_line() {
        let e = load("control: icc\npolicy:\n  docker_group_allowed: [root]\n  log_levle: info\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":4:3: policy:"), "{e}");
        assert!(e.contains("log_levle"), "{e}");
        let e = load("control: icc\npolicy:\n  rootless_required: maybe\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":3:3: policy:"), "{e}");
        // A good one loads, and lays its values over the run's policy.
        let s = load("control: icc\npolicy:\n  rootless_required: true\n").unwrap();
        let p = s
            .policy
            .unwrap()
            .apply(&shipshape_checks::Policy::default())
            .unwrap();
        assert!(p.rootless_required);
    }

    #[test]
    fn errors_point_at_file_line_column() {
        let e = load("control: icc\nverify:\n  - run: true\n    bogus: 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.yaml:4:5: unknown field `bogus`"), "{e}");
        let e = load("control: icc\nverify:\n  - run: true\n    timeout: soon\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.yaml:4:14"), "{e}");
        let e = load("control: icc\nverify: [\n").unwrap_err().to_string();
        assert!(e.contains("x.yaml:"), "{e}");
    }

    #[test]
    fn unknown_control_and_bad_regex_and_steps() {
        let e = load("control: no-such-thing\n").unwrap_err().to_string();
        assert!(e.contains("unknown control `no-such-thing`"), "{e}");
        assert!(e.contains(".yaml:1:10: unknown control"), "{e}");
        let e = load("control: icc\nverify:\n  - run: true\n    stdout: '('\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.yaml:4:14: bad regular expression"), "{e}");
        let e = load("control: icc\nverify:\n  - name: nothing to do\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.yaml:3:11: step"), "{e}");
        assert!(e.contains("exactly one of `run` and `runner`"), "{e}");
    }

    #[test]
    fn every_shipped_scenario_loads() {
        let all = shipped();
        let seed: Vec<&str> = shipshape_checks::catalogue()
            .iter()
            .filter(|c| c.in_seed)
            .map(|c| c.id)
            .collect();
        for id in &seed {
            assert!(
                all.iter().any(|s| s.control == *id),
                "no scenario for seed control {id}"
            );
        }
        assert!(seed.len() >= 19, "{seed:?}");
    }
}
