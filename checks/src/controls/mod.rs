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
        DataRoot {
            root,
            base,
            evidence,
        }
    }
}

pub(crate) struct DataRoot {
    /// What dockerd works in (the remapped root under userns-remap).
    pub root: String,
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

/// How a control is fixed. Every control's fix is named here, beside its
/// verdict function, in [`CONTROLS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// No automatic fix: the remediation is manual.
    None,
    /// A handlebars template (rendered strict, without escaping) that gives
    /// the harness's planner a small JSON spec: a daemon.json merge patch,
    /// files, commands. Controls that share a fix share its `name`.
    Template {
        name: &'static str,
        text: &'static str,
    },
    /// Owners and modes (section 3): what [`crate::perm_targets`] says.
    Owners,
}

macro_rules! template {
    ($name:literal) => {
        Fix::Template {
            name: $name,
            text: include_str!(concat!("../fixes/", $name, ".json.hbs")),
        }
    };
}

/// One control: its id (its metadata is the catalogue entry of that id),
/// its verdict function and its fix.
pub(crate) struct Def {
    pub id: &'static str,
    pub verdict: fn(&str, &Ctx) -> Option<Outcome>,
    pub fix: Fix,
}

/// Every control, in catalogue order (a test holds the two together).
#[rustfmt::skip]
pub(crate) const CONTROLS: &[Def] = &[
    Def { id: "docker-root-mount", verdict: |_, c| Some(host::docker_root_mount(c)), fix: template!("docker-root-mount") },
    Def { id: "docker-group", verdict: |_, c| Some(host::docker_group(c)), fix: template!("docker-group") },
    Def { id: "audit-dockerd", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-run-containerd", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-var-lib-docker", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-etc-docker", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-docker-service", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-containerd-sock", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-docker-socket", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-etc-default-docker", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-daemon-json", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-containerd-config", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-etc-sysconfig-docker", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-containerd", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-containerd-shim", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-containerd-shim-runc-v1", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-containerd-shim-runc-v2", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "audit-runc", verdict: auditd::audit_rule, fix: template!("auditd-rules") },
    Def { id: "host-hardening", verdict: |_, c| Some(host::host_hardening(c)), fix: Fix::None },
    Def { id: "docker-version", verdict: |_, c| Some(host::docker_version(c)), fix: template!("docker-version") },
    Def { id: "rootless", verdict: |_, c| Some(daemon::rootless(c)), fix: Fix::None },
    Def { id: "icc", verdict: |_, c| Some(daemon::icc(c)), fix: template!("icc") },
    Def { id: "log-level", verdict: |_, c| Some(daemon::log_level(c)), fix: template!("log-level") },
    Def { id: "iptables", verdict: |_, c| Some(daemon::iptables(c)), fix: template!("iptables") },
    Def { id: "insecure-registries", verdict: |_, c| Some(daemon::insecure_registries(c)), fix: template!("insecure-registries") },
    Def { id: "no-aufs", verdict: |_, c| Some(daemon::no_aufs(c)), fix: Fix::None },
    Def { id: "no-devicemapper", verdict: |_, c| Some(daemon::no_devicemapper(c)), fix: Fix::None },
    Def { id: "tls-auth", verdict: |_, c| Some(daemon::tls_auth(c)), fix: template!("tls-auth") },
    Def { id: "default-ulimits", verdict: |_, c| Some(daemon::default_ulimits(c)), fix: template!("default-ulimits") },
    Def { id: "userns-remap", verdict: |_, c| Some(daemon::userns_remap(c)), fix: template!("userns-remap") },
    Def { id: "cgroup-parent", verdict: |_, c| Some(daemon::cgroup_parent(c)), fix: template!("cgroup-parent") },
    Def { id: "dm-basesize", verdict: |_, c| Some(daemon::dm_basesize(c)), fix: template!("dm-basesize") },
    Def { id: "authz-plugin", verdict: |_, c| Some(daemon::authz_plugin(c)), fix: Fix::None },
    Def { id: "log-config", verdict: |_, c| Some(daemon::log_config(c)), fix: template!("log-config") },
    Def { id: "no-new-privileges", verdict: |_, c| Some(daemon::no_new_privileges(c)), fix: template!("no-new-privileges") },
    Def { id: "live-restore", verdict: |_, c| Some(daemon::live_restore(c)), fix: template!("live-restore") },
    Def { id: "userland-proxy", verdict: |_, c| Some(daemon::userland_proxy(c)), fix: template!("userland-proxy") },
    Def { id: "seccomp-profile", verdict: |_, c| Some(daemon::seccomp_profile(c)), fix: template!("seccomp-profile") },
    Def { id: "no-experimental", verdict: |_, c| Some(daemon::no_experimental(c)), fix: template!("no-experimental") },
    Def { id: "legacy-registry", verdict: |_, c| Some(daemon::legacy_registry(c)), fix: Fix::None },
    Def { id: "perm-docker-service", verdict: perms::permissions, fix: Fix::Owners },
    Def { id: "perm-docker-socket-unit", verdict: perms::permissions, fix: Fix::Owners },
    Def { id: "perm-etc-docker", verdict: perms::permissions, fix: Fix::Owners },
    Def { id: "perm-registry-certs", verdict: perms::permissions, fix: Fix::Owners },
    Def { id: "perm-tls-ca", verdict: perms::permissions, fix: Fix::Owners },
    Def { id: "perm-tls-cert", verdict: perms::permissions, fix: Fix::Owners },
    Def { id: "perm-tls-key", verdict: perms::permissions, fix: Fix::Owners },
    Def { id: "perm-docker-sock", verdict: perms::permissions, fix: Fix::Owners },
    Def { id: "perm-daemon-json", verdict: perms::permissions, fix: Fix::Owners },
    Def { id: "perm-etc-default-docker", verdict: perms::permissions, fix: Fix::Owners },
    Def { id: "perm-etc-sysconfig-docker", verdict: perms::permissions, fix: Fix::Owners },
    Def { id: "perm-containerd-sock", verdict: perms::permissions, fix: Fix::Owners },
];

pub(crate) fn def(id: &str) -> Option<&'static Def> {
    CONTROLS.iter().find(|d| d.id == id)
}

/// Runs the verdict function of control `id`.
pub(crate) fn run(id: &str, ctx: &Ctx) -> Option<Outcome> {
    (def(id)?.verdict)(id, ctx)
}
