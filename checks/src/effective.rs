//! The effective daemon configuration: where each option is set and what
//! dockerd does with it.
//!
//! Sources, per option:
//! - the running dockerd's argv (what is in force now);
//! - the systemd unit's ExecStart, after drop-ins and environment files
//!   (what the next start runs) — shown when it differs from the running argv
//!   or when dockerd is not running;
//! - daemon.json (or the `--config-file` it names);
//! - the daemon's own answer (`/info`, `/version`), which the controls add.
//!
//! A flag beats nothing: dockerd refuses to start when an option is both a
//! flag and a daemon.json key, so that is reported as a problem, not merged.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::daemon_json::{show, DaemonJson};
use crate::facts::{Facts, StatLookup};
use crate::flags::{parse_command_line, parse_go_bool, FlagOcc, ParsedFlags};
use crate::systemd::{
    argv_from_show_exec, effective_exec_start, expand_exec, parse_env_file,
    parse_environment_assignments, parse_unit, ServiceSettings,
};

/// A dockerd option: its flag name and its daemon.json key.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub flag: &'static str,
    pub json: &'static str,
}

const fn opt(flag: &'static str, json: &'static str) -> Opt {
    Opt { flag, json }
}

pub const HOSTS: Opt = opt("host", "hosts");
pub const TLS: Opt = opt("tls", "tls");
pub const TLSVERIFY: Opt = opt("tlsverify", "tlsverify");
pub const TLSCACERT: Opt = opt("tlscacert", "tlscacert");
pub const TLSCERT: Opt = opt("tlscert", "tlscert");
pub const TLSKEY: Opt = opt("tlskey", "tlskey");
pub const INSECURE_REGISTRIES: Opt = opt("insecure-registry", "insecure-registries");
pub const STORAGE_DRIVER: Opt = opt("storage-driver", "storage-driver");
pub const STORAGE_OPTS: Opt = opt("storage-opt", "storage-opts");
pub const DEFAULT_ULIMITS: Opt = opt("default-ulimit", "default-ulimits");
pub const USERNS_REMAP: Opt = opt("userns-remap", "userns-remap");
pub const CGROUP_PARENT: Opt = opt("cgroup-parent", "cgroup-parent");
pub const AUTHZ_PLUGINS: Opt = opt("authorization-plugin", "authorization-plugins");
pub const LOG_DRIVER: Opt = opt("log-driver", "log-driver");
pub const LOG_OPTS: Opt = opt("log-opt", "log-opts");
pub const DISABLE_LEGACY_REGISTRY: Opt = opt("disable-legacy-registry", "disable-legacy-registry");
pub const LIVE_RESTORE: Opt = opt("live-restore", "live-restore");
pub const USERLAND_PROXY: Opt = opt("userland-proxy", "userland-proxy");
pub const SECCOMP_PROFILE: Opt = opt("seccomp-profile", "seccomp-profile");
pub const EXPERIMENTAL: Opt = opt("experimental", "experimental");
pub const NO_NEW_PRIVILEGES: Opt = opt("no-new-privileges", "no-new-privileges");
pub const ICC: Opt = opt("icc", "icc");
pub const LOG_LEVEL: Opt = opt("log-level", "log-level");
pub const DEBUG: Opt = opt("debug", "debug");
pub const IPTABLES: Opt = opt("iptables", "iptables");
pub const DATA_ROOT: Opt = opt("data-root", "data-root");
pub const GROUP: Opt = opt("group", "group");

/// A dockerd command line and where it was read.
#[derive(Debug, Clone)]
pub struct CmdLine {
    pub label: String,
    pub argv: Vec<String>,
    pub flags: ParsedFlags,
}

/// Everything known about the daemon's configuration, before per-option
/// resolution.
#[derive(Debug, Clone)]
pub struct Effective {
    pub running: Option<CmdLine>,
    pub unit: Option<CmdLine>,
    pub json: DaemonJson,
    /// Things worth knowing for every option (a file could not be read,
    /// daemon.json changed since dockerd started, unknown flags).
    pub notes: Vec<String>,
    /// Why dockerd would not start with this configuration (positional
    /// arguments, a flag without its value, a missing environment file).
    pub fatal: Vec<String>,
}

/// One option's value as seen by one command line plus daemon.json.
#[derive(Debug, Clone)]
pub struct Resolved<T> {
    /// (view label, value); one entry, or two when the unit's next start
    /// would differ from what runs now.
    pub values: Vec<(String, T)>,
    pub evidence: Vec<String>,
    /// Configurations dockerd refuses (flag and daemon.json both, bad type).
    pub problems: Vec<String>,
}

impl<T> Resolved<T> {
    pub fn all(&self, pred: impl Fn(&T) -> bool) -> bool {
        self.values.iter().all(|(_, v)| pred(v))
    }

    pub fn any(&self, pred: impl Fn(&T) -> bool) -> bool {
        self.values.iter().any(|(_, v)| pred(v))
    }
}

struct View<'a> {
    label: &'a str,
    flags: Vec<&'a FlagOcc>,
}

impl Effective {
    /// Builds the sources from the facts.
    pub fn from_facts(facts: &Facts) -> Effective {
        let mut notes = Vec::new();
        let mut fatal = Vec::new();
        let running = (!facts.dockerd.argv.is_empty()).then(|| {
            let label = match facts.dockerd.pid {
                Some(pid) => format!("dockerd argv (pid {pid})"),
                None => "dockerd argv".to_string(),
            };
            CmdLine {
                label,
                flags: parse_command_line(&facts.dockerd.argv),
                argv: facts.dockerd.argv.clone(),
            }
        });
        let unit = unit_cmdline(facts, &mut notes, &mut fatal);
        let json_file = facts.file(&facts.daemon_json_path);
        let json = match json_file {
            Some(f) => DaemonJson::from_content(&f.path, f.exists, f.content.as_deref()),
            None => match facts.stat(&facts.daemon_json_path) {
                StatLookup::Missing => DaemonJson::Absent {
                    path: facts.daemon_json_path.clone(),
                },
                _ => DaemonJson::Unknown,
            },
        };
        for cl in running.iter().chain(unit.iter()) {
            for p in cl.flags.fatal_problems() {
                fatal.push(format!("{}: {p}", cl.label));
            }
            if !cl.flags.unknown.is_empty() {
                notes.push(format!(
                    "{}: flags shipshape does not know (typos?): {}",
                    cl.label,
                    cl.flags.unknown.join(" ")
                ));
            }
        }
        if let (Some(started), StatLookup::Found(st)) = (
            facts.dockerd.started_at,
            facts.stat(&facts.daemon_json_path),
        ) {
            if st.mtime.is_some_and(|m| m > started) {
                notes.push(format!(
                    "{} changed after dockerd started: the running daemon may not use what it says",
                    facts.daemon_json_path
                ));
            }
        }
        Effective {
            running,
            unit,
            json,
            notes,
            fatal,
        }
    }

    /// The command line that decides now: the running one, else the unit's.
    pub fn primary(&self) -> Option<&CmdLine> {
        self.running.as_ref().or(self.unit.as_ref())
    }

    fn views<'a>(&'a self, o: &Opt, evidence: &mut Vec<String>) -> Vec<View<'a>> {
        let mut views = Vec::new();
        let describe = |cl: &CmdLine, fl: &[&FlagOcc], ev: &mut Vec<String>| {
            if fl.is_empty() {
                ev.push(format!("{}: no --{}", cl.label, o.flag));
            }
            for f in fl {
                ev.push(format!("{}: {}", cl.label, f.raw));
            }
        };
        match (&self.running, &self.unit) {
            (Some(r), unit) => {
                let rf = r.flags.all(o.flag);
                describe(r, &rf, evidence);
                if let Some(u) = unit {
                    let uf = u.flags.all(o.flag);
                    let same =
                        rf.len() == uf.len() && rf.iter().zip(&uf).all(|(a, b)| a.value == b.value);
                    if !same {
                        describe(u, &uf, evidence);
                        evidence.push(format!(
                            "the unit's ExecStart differs from the running dockerd for --{}: it takes effect at the next restart",
                            o.flag
                        ));
                        views.push(View {
                            label: &r.label,
                            flags: rf,
                        });
                        views.push(View {
                            label: &u.label,
                            flags: uf,
                        });
                        return views;
                    }
                }
                views.push(View {
                    label: &r.label,
                    flags: rf,
                });
            }
            (None, Some(u)) => {
                let uf = u.flags.all(o.flag);
                describe(u, &uf, evidence);
                views.push(View {
                    label: &u.label,
                    flags: uf,
                });
            }
            (None, None) => {
                evidence
                    .push("no dockerd command line known (not running, no unit read)".to_string());
                views.push(View {
                    label: "configuration",
                    flags: Vec::new(),
                });
            }
        }
        views
    }

    fn json_evidence(&self, o: &Opt, evidence: &mut Vec<String>) {
        let p = self.json.path();
        match &self.json {
            DaemonJson::Parsed { .. } => match self.json.get(o.json) {
                Some((k, v)) => evidence.push(format!("daemon.json ({p}): {}", show(k, v))),
                None => evidence.push(format!("daemon.json ({p}): no \"{}\"", o.json)),
            },
            DaemonJson::Absent { .. } => evidence.push(format!("daemon.json ({p}): absent")),
            DaemonJson::Invalid { error, .. } => {
                evidence.push(format!("daemon.json ({p}): does not parse: {error}"))
            }
            DaemonJson::Unknown => evidence.push("daemon.json: not captured".to_string()),
        }
    }

    /// Resolves one option for every view: flags if given, else daemon.json,
    /// else `default`.
    pub fn resolve<T>(
        &self,
        o: &Opt,
        default: impl Fn() -> T,
        from_flags: impl Fn(&[&FlagOcc]) -> Result<T, String>,
        from_json: impl Fn(&Value) -> Result<T, String>,
    ) -> Resolved<T> {
        let mut evidence = Vec::new();
        let mut problems = Vec::new();
        let views = self.views(o, &mut evidence);
        self.json_evidence(o, &mut evidence);
        let json_val = self.json.get(o.json).map(|(_, v)| v);
        if matches!(self.json, DaemonJson::Invalid { .. }) {
            problems.push(format!(
                "{} does not parse: dockerd will refuse to start",
                self.json.path()
            ));
        }
        let mut values = Vec::new();
        for v in views {
            let value = if !v.flags.is_empty() {
                if json_val.is_some() {
                    problems.push(format!(
                        "--{} ({}) and \"{}\" in daemon.json: dockerd refuses to start when an option is set in both places",
                        o.flag, v.label, o.json
                    ));
                }
                from_flags(&v.flags)
            } else if let Some(j) = json_val {
                from_json(j).map_err(|e| format!("daemon.json \"{}\": {e}", o.json))
            } else {
                Ok(default())
            };
            match value {
                Ok(val) => values.push((v.label.to_string(), val)),
                Err(e) => problems.push(e),
            }
        }
        Resolved {
            values,
            evidence,
            problems,
        }
    }

    pub fn bool(&self, o: &Opt, default: bool) -> Resolved<bool> {
        self.resolve(
            o,
            || default,
            |fl| {
                let last = fl.last().expect("non-empty");
                parse_go_bool(&last.value).ok_or_else(|| format!("{}: not a boolean", last.raw))
            },
            |j| {
                j.as_bool()
                    .ok_or_else(|| format!("{j} is not a JSON boolean"))
            },
        )
    }

    /// A single-valued string option (`None` when unset or empty).
    pub fn string(&self, o: &Opt) -> Resolved<Option<String>> {
        self.resolve(
            o,
            || None,
            |fl| Ok(Some(fl.last().expect("non-empty").value.clone()).filter(|s| !s.is_empty())),
            |j| match j {
                Value::String(s) => Ok(Some(s.clone()).filter(|s| !s.is_empty())),
                other => Err(format!("{other} is not a string")),
            },
        )
    }

    /// A repeatable option (every flag occurrence / a JSON array of strings).
    pub fn list(&self, o: &Opt) -> Resolved<Vec<String>> {
        self.resolve(
            o,
            Vec::new,
            |fl| Ok(fl.iter().map(|f| f.value.clone()).collect()),
            |j| match j {
                Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("{x} is not a string"))
                    })
                    .collect(),
                other => Err(format!("{other} is not an array")),
            },
        )
    }

    /// A `key=value` option (`--log-opt max-size=50m` / `"log-opts": {…}`).
    pub fn map(&self, o: &Opt) -> Resolved<BTreeMap<String, String>> {
        self.resolve(
            o,
            BTreeMap::new,
            |fl| {
                fl.iter()
                    .map(|f| {
                        f.value
                            .split_once('=')
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .ok_or_else(|| format!("{}: expected key=value", f.raw))
                    })
                    .collect()
            },
            |j| match j {
                Value::Object(m) => Ok(m
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_string),
                        )
                    })
                    .collect()),
                other => Err(format!("{other} is not an object")),
            },
        )
    }
}

/// Reads the unit fragment and drop-ins from the facts and builds the
/// command line the next start would run.
fn unit_cmdline(
    facts: &Facts,
    notes: &mut Vec<String>,
    fatal: &mut Vec<String>,
) -> Option<CmdLine> {
    let svc = &facts.service;
    let mut files: Vec<(String, ServiceSettings)> = Vec::new();
    let mut paths: Vec<&str> = svc.fragment_path.iter().map(String::as_str).collect();
    paths.extend(svc.drop_in_paths.iter().map(String::as_str));
    let mut missing_text = false;
    for p in &paths {
        match facts.content(p) {
            Some(text) => files.push((p.to_string(), parse_unit(text))),
            None => missing_text = true,
        }
    }
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for (_, s) in &files {
        for e in &s.environment {
            env.extend(parse_environment_assignments(e));
        }
    }
    let mut env_files: Vec<String> = files
        .iter()
        .flat_map(|(_, s)| s.environment_files.iter().cloned())
        .collect();
    if env_files.is_empty() {
        env_files = svc.environment_files.clone();
    }
    for ef in &env_files {
        let (optional, path) = match ef.strip_prefix('-') {
            Some(p) => (true, p),
            None => (false, ef.as_str()),
        };
        match facts.file(path) {
            Some(f) if f.exists => match &f.content {
                Some(text) => env.extend(parse_env_file(text)),
                None => notes.push(format!("EnvironmentFile {path} could not be read")),
            },
            Some(_) if !optional => fatal.push(format!(
                "EnvironmentFile {path} is missing and not optional: systemd will not start docker.service"
            )),
            Some(_) => {}
            None => notes.push(format!("EnvironmentFile {path} was not captured")),
        }
    }
    let refs: Vec<(&str, &ServiceSettings)> = files.iter().map(|(p, s)| (p.as_str(), s)).collect();
    let (label, exec) = match effective_exec_start(&refs) {
        Some((path, exec)) => (format!("ExecStart in {path}"), exec),
        None => {
            let show = svc.exec_start.as_deref()?;
            let argv = argv_from_show_exec(show)?;
            if missing_text {
                notes.push(
                    "unit files not captured: ExecStart taken from systemctl show (quoting lost)"
                        .to_string(),
                );
            }
            ("ExecStart (systemctl show)".to_string(), argv.join(" "))
        }
    };
    match expand_exec(&exec, &env) {
        Ok(argv) => Some(CmdLine {
            label,
            flags: parse_command_line(&argv),
            argv,
        }),
        Err(e) => {
            fatal.push(format!("{label}: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::FileFact;

    fn file(path: &str, content: &str) -> FileFact {
        FileFact {
            path: path.to_string(),
            exists: true,
            content: Some(content.to_string()),
            error: None,
        }
    }

    fn facts(argv: &[&str], json: Option<&str>) -> Facts {
        let mut f = Facts {
            daemon_json_path: "/etc/docker/daemon.json".to_string(),
            ..Facts::default()
        };
        f.dockerd.argv = argv.iter().map(|s| s.to_string()).collect();
        f.dockerd.pid = Some(42);
        f.files.push(match json {
            Some(j) => file("/etc/docker/daemon.json", j),
            None => FileFact {
                path: "/etc/docker/daemon.json".to_string(),
                ..FileFact::default()
            },
        });
        f
    }

    #[test]
    fn flag_beats_default_and_json_is_read() {
        let e = Effective::from_facts(&facts(&["dockerd", "--live-restore"], None));
        let r = e.bool(&LIVE_RESTORE, false);
        assert_eq!(r.values, [("dockerd argv (pid 42)".to_string(), true)]);
        assert!(r
            .evidence
            .contains(&"dockerd argv (pid 42): --live-restore".to_string()));
        assert!(r
            .evidence
            .contains(&"daemon.json (/etc/docker/daemon.json): absent".to_string()));

        let e = Effective::from_facts(&facts(&["dockerd"], Some(r#"{"live-restore": true}"#)));
        let r = e.bool(&LIVE_RESTORE, false);
        assert!(r.all(|v| *v));
        assert!(r.evidence.contains(
            &"daemon.json (/etc/docker/daemon.json): \"live-restore\": true".to_string()
        ));
    }

    #[test]
    fn flag_and_json_both_is_a_problem() {
        let e = Effective::from_facts(&facts(
            &["dockerd", "--live-restore"],
            Some(r#"{"live-restore": true}"#),
        ));
        let r = e.bool(&LIVE_RESTORE, false);
        assert!(
            r.problems[0].contains("refuses to start"),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn wrong_json_type_is_a_problem() {
        let e = Effective::from_facts(&facts(&["dockerd"], Some(r#"{"live-restore": "true"}"#)));
        let r = e.bool(&LIVE_RESTORE, false);
        assert!(r.values.is_empty());
        assert!(r.problems[0].contains("not a JSON boolean"));
    }

    #[test]
    fn unit_with_env_file_and_drop_in() {
        let mut f = facts(&[], None);
        f.dockerd.pid = None;
        f.service.fragment_path = Some("/lib/systemd/system/docker.service".to_string());
        f.service.drop_in_paths =
            vec!["/etc/systemd/system/docker.service.d/override.conf".to_string()];
        f.files.push(file(
            "/lib/systemd/system/docker.service",
            "[Service]\nEnvironmentFile=-/etc/default/docker\nExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS\n",
        ));
        f.files.push(file(
            "/etc/systemd/system/docker.service.d/override.conf",
            "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2375 $DOCKER_OPTS\n",
        ));
        f.files.push(file(
            "/etc/default/docker",
            "DOCKER_OPTS=\"--icc=false --insecure-registry r.example\"\n",
        ));
        let e = Effective::from_facts(&f);
        assert!(e.running.is_none());
        let u = e.unit.as_ref().unwrap();
        assert_eq!(
            u.label,
            "ExecStart in /etc/systemd/system/docker.service.d/override.conf"
        );
        let hosts = e.list(&HOSTS);
        assert_eq!(hosts.values[0].1, ["fd://", "tcp://0.0.0.0:2375"]);
        assert!(e.bool(&ICC, true).all(|v| !*v));
        assert_eq!(e.list(&INSECURE_REGISTRIES).values[0].1, ["r.example"]);
    }

    #[test]
    fn running_and_unit_disagree() {
        let mut f = facts(&["/usr/sbin/dockerd", "-H", "fd://"], None);
        f.service.fragment_path = Some("/lib/systemd/system/docker.service".to_string());
        f.files.push(file(
            "/lib/systemd/system/docker.service",
            "[Service]\nExecStart=/usr/sbin/dockerd -H fd:// --userland-proxy=false\n",
        ));
        let e = Effective::from_facts(&f);
        let r = e.bool(&USERLAND_PROXY, true);
        assert_eq!(r.values.len(), 2);
        assert!(r.values[0].1 && !r.values[1].1);
        assert!(r.evidence.iter().any(|l| l.contains("next restart")));
    }

    #[test]
    fn positional_args_are_noted() {
        let e = Effective::from_facts(&facts(&["dockerd", "--live-restore", "false"], None));
        assert!(e.fatal.iter().any(|n| n.contains("accepts no arguments")));
    }
}
