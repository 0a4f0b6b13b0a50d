//! Verdict logic: one function per control, from typed facts to a verdict
//! with its evidence. Shared reading (effective config, API view, engine
//! version, data root) happens once in [`Ctx`].

mod auditd;
mod daemon;
mod host;
pub(crate) mod perms;

use crate::api::Api;
use crate::effective::{Effective, Opt, Resolved, DATA_ROOT, USERNS_REMAP};
use crate::facts::Facts;
use crate::policy::Policy;
use crate::verdict::Verdict;
use crate::version::EngineVersion;

/// Everything a verdict function reads.
pub(crate) struct Ctx<'a> {
    pub facts: &'a Facts,
    pub policy: &'a Policy,
    pub eff: Effective,
    pub api: Api<'a>,
}

impl<'a> Ctx<'a> {
    pub fn new(facts: &'a Facts, policy: &'a Policy) -> Self {
        Ctx {
            facts,
            policy,
            eff: Effective::from_facts(facts),
            api: Api::new(facts.api.info.as_ref(), facts.api.version.as_ref()),
        }
    }

    /// The engine version, from the daemon's answer or else the installed
    /// package; with the line it was read from.
    pub fn engine_version(&self) -> Option<(EngineVersion, String)> {
        if let Some((v, field)) = self.api.server_version_cited() {
            if let Some(ev) = EngineVersion::parse(v) {
                return Some((ev, format!("{field}={v}")));
            }
        }
        self.facts.packages.iter().find_map(|p| {
            let inst = p.installed.as_deref()?;
            EngineVersion::parse(inst)
                .map(|ev| (ev, format!("{}: {} {inst} installed", p.source, p.name)))
        })
    }

    /// Docker's root directory as the daemon reports it (else as
    /// configured, else the default), and the directory that must be a
    /// mount: under userns-remap dockerd works in `<root>/<uid>.<gid>`, so
    /// the parent is what the user mounted.
    pub fn data_root(&self) -> DataRoot {
        let mut evidence = Vec::new();
        let reported = self.api.info_str("DockerRootDir");
        let configured = self.eff.string(&DATA_ROOT);
        let conf = configured.values.iter().find_map(|(_, v)| v.clone());
        let root = match (reported, &conf) {
            (Some(r), _) => {
                evidence.push(format!("/info: DockerRootDir={r}"));
                r.to_string()
            }
            (None, Some(c)) => {
                evidence.push(format!("configured data-root: {c}"));
                c.clone()
            }
            (None, None) => {
                evidence.push("DockerRootDir unknown (no /info answer, no data-root): default /var/lib/docker".to_string());
                "/var/lib/docker".to_string()
            }
        };
        let last = root.rsplit('/').next().unwrap_or("");
        let looks_remapped = last.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && (a.to_owned() + b).bytes().all(|c| c.is_ascii_digit())
        });
        let userns_on = self.api.has_security_option("userns") == Some(true)
            || self.eff.string(&USERNS_REMAP).any(|v| v.is_some());
        let base = if looks_remapped && userns_on {
            let parent = root
                .rsplit_once('/')
                .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
            evidence.push(format!(
                "userns-remap is on: {root} is the remapped root, {parent} is the data root"
            ));
            parent.to_string()
        } else {
            root.clone()
        };
        DataRoot { base, evidence }
    }
}

pub(crate) struct DataRoot {
    /// The directory that holds it all (the parent under userns-remap).
    pub base: String,
    pub evidence: Vec<String>,
}

/// A verdict with its evidence, before the id is attached.
pub(crate) struct Outcome {
    pub verdict: Verdict,
    pub evidence: Vec<String>,
}

impl Outcome {
    pub fn pass(evidence: Vec<String>) -> Self {
        Outcome {
            verdict: Verdict::Pass,
            evidence,
        }
    }
    pub fn fail(evidence: Vec<String>) -> Self {
        Outcome {
            verdict: Verdict::Fail,
            evidence,
        }
    }
    pub fn na(why: impl Into<String>, evidence: Vec<String>) -> Self {
        Outcome {
            verdict: Verdict::NotApplicable { why: why.into() },
            evidence,
        }
    }
    pub fn manual(why: impl Into<String>, evidence: Vec<String>) -> Self {
        Outcome {
            verdict: Verdict::Manual { why: why.into() },
            evidence,
        }
    }
}

/// Finishes a daemon-configuration verdict: the configuration problems and
/// global notes go into the evidence; any problem or failure is a fail.
pub(crate) fn decide(
    ctx: &Ctx,
    mut evidence: Vec<String>,
    problems: &[String],
    failures: Vec<String>,
) -> Outcome {
    for n in &ctx.eff.notes {
        evidence.push(format!("note: {n}"));
    }
    for p in ctx.eff.fatal.iter().chain(problems) {
        evidence.push(format!("problem: {p}"));
    }
    for f in &failures {
        evidence.push(format!("fail: {f}"));
    }
    if ctx.eff.fatal.is_empty() && problems.is_empty() && failures.is_empty() {
        Outcome::pass(evidence)
    } else {
        Outcome::fail(evidence)
    }
}

/// The common shape: a boolean option that must be `want`, optionally
/// cross-checked with the daemon's answer.
pub(crate) fn bool_option(
    ctx: &Ctx,
    opt: &Opt,
    default: bool,
    want: bool,
    api: Option<(bool, &str)>,
) -> Outcome {
    let r: Resolved<bool> = ctx.eff.bool(opt, default);
    let mut evidence = r.evidence.clone();
    let mut failures = Vec::new();
    for (label, v) in &r.values {
        if *v != want {
            failures.push(format!("{} is {v} for {label} (must be {want})", opt.json));
        }
    }
    if let Some((v, label)) = api {
        evidence.push(format!("{label}={v}"));
        if let Some((cl, c)) = r.values.iter().find(|(_, c)| *c != v) {
            evidence.push(format!(
                "the configuration ({cl}: {c}) and {label}={v} disagree: dockerd has not been restarted since the change"
            ));
        }
        if v != want {
            failures.push(format!(
                "the running daemon reports {label}={v} (must be {want})"
            ));
        }
    }
    if failures.is_empty() && r.problems.is_empty() {
        evidence.push(format!("{} is {want}", opt.json));
    }
    decide(ctx, evidence, &r.problems, failures)
}

/// Runs the verdict function of control `id`.
pub(crate) fn run(id: &str, ctx: &Ctx) -> Option<Outcome> {
    Some(match id {
        "docker-root-mount" => host::docker_root_mount(ctx),
        "docker-group" => host::docker_group(ctx),
        "host-hardening" => host::host_hardening(ctx),
        "docker-version" => host::docker_version(ctx),
        "icc" => daemon::icc(ctx),
        "log-level" => daemon::log_level(ctx),
        "iptables" => daemon::iptables(ctx),
        "insecure-registries" => daemon::insecure_registries(ctx),
        "no-aufs" => daemon::no_aufs(ctx),
        "tls-auth" => daemon::tls_auth(ctx),
        "default-ulimits" => daemon::default_ulimits(ctx),
        "userns-remap" => daemon::userns_remap(ctx),
        "cgroup-parent" => daemon::cgroup_parent(ctx),
        "dm-basesize" => daemon::dm_basesize(ctx),
        "authz-plugin" => daemon::authz_plugin(ctx),
        "log-config" => daemon::log_config(ctx),
        "no-new-privileges" => daemon::no_new_privileges(ctx),
        "live-restore" => daemon::live_restore(ctx),
        "userland-proxy" => daemon::userland_proxy(ctx),
        "seccomp-profile" => daemon::seccomp_profile(ctx),
        "no-experimental" => daemon::no_experimental(ctx),
        "legacy-registry" => daemon::legacy_registry(ctx),
        id if id.starts_with("audit-") => auditd::audit_rule(id, ctx)?,
        id if id.starts_with("perm-") => perms::permissions(id, ctx)?,
        _ => return None,
    })
}
