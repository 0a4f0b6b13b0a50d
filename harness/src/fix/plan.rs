//! From a control id, the facts and the policy to a [`Change`]: the fix's
//! handlebars template (strict, no HTML escaping) renders a small JSON spec
//! (a `daemon.json` merge patch, extra files, a command); this module turns
//! it into concrete file edits. Every option ends up in exactly one place: a
//! key written to `daemon.json` is taken off dockerd's command line, since
//! dockerd refuses to start when both carry it.

use std::collections::BTreeMap;

use handlebars::Handlebars;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use shipshape_checks::{Facts, Fix, Policy};

use super::apply::{AttrEdit, Change, DaemonAction, FileEdit};

/// Where the command-line override goes when a flag has to leave dockerd's
/// command line. `zz-` sorts it after every other drop-in.
pub const EXEC_DROPIN: &str = "/etc/systemd/system/docker.service.d/zz-shipshape-exec.conf";

/// What a fix needs to know about where it runs, beyond the facts.
#[derive(Debug, Clone)]
pub struct FixContext {
    /// The empty disk the data-disk fix may format (the seed's `/dev/sdb`).
    pub data_disk: String,
    /// Where the client side of generated TLS material is kept on the runner.
    pub client_tls_dir: std::path::PathBuf,
    /// Names and addresses the server certificate must be valid for.
    pub names: Vec<String>,
    pub ips: Vec<std::net::IpAddr>,
}

impl From<crate::driver::HostInfo> for FixContext {
    fn from(h: crate::driver::HostInfo) -> Self {
        Self {
            data_disk: h.data_disk,
            client_tls_dir: h.client_tls_dir,
            names: h.names,
            ips: h.ips,
        }
    }
}

/// A planned fix, with TLS material to keep on the runner once applied.
pub struct Planned {
    pub change: Change,
    pub tls: Option<crate::tls::Bundle>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("control `{0}` has no automatic fix; see its remediation text")]
    NoFix(String),
    #[error("fix template for `{control}`: {reason}")]
    Template { control: String, reason: String },
    #[error("generating TLS material: {0}")]
    Tls(String),
    #[error("{path} is not a valid JSON object ({reason}); shipshape will not overwrite it: repair it by hand first")]
    BrokenDaemonJson { path: String, reason: String },
}

/// Whether shipshape can fix `control`: the checks crate names each
/// control's fix beside its verdict. `shipshape controls` derives its FIX
/// column from this.
pub fn has_fix(control: &str) -> bool {
    matches!(
        shipshape_checks::fix_of(control),
        Some(Fix::Template { .. } | Fix::Owners)
    )
}

/// The name of `control`'s fix template, shared by controls with one fix
/// (every audit-* control: the one rule file).
pub fn template_name(control: &str) -> Option<&'static str> {
    match shipshape_checks::fix_of(control)? {
        Fix::Template { name, .. } => Some(name),
        _ => None,
    }
}

/// What a template renders to.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    /// Merge patch for daemon.json: `null` removes a key.
    #[serde(default)]
    daemon_json: Option<Map<String, Value>>,
    #[serde(default)]
    files: Vec<SpecFile>,
    #[serde(default)]
    precheck: Option<String>,
    /// Lines appended to a file unless it already has them.
    #[serde(default)]
    append: Vec<SpecAppend>,
    #[serde(default)]
    after_write: Option<String>,
    #[serde(default)]
    on_rollback: Option<String>,
    #[serde(default)]
    restart: Option<bool>,
    #[serde(default)]
    notes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecAppend {
    path: String,
    line: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    path: String,
    mode: u32,
    content: String,
}

/// The daemon.json key → the dockerd flag that sets the same option.
pub fn flag_for_key(key: &str) -> String {
    match key {
        "insecure-registries" => "insecure-registry",
        "default-ulimits" => "default-ulimit",
        "log-opts" => "log-opt",
        "storage-opts" => "storage-opt",
        "authorization-plugins" => "authorization-plugin",
        "hosts" => "host",
        "registry-mirrors" => "registry-mirror",
        "labels" => "label",
        "exec-opts" => "exec-opt",
        other => other,
    }
    .to_string()
}

fn template_context(
    facts: &Facts,
    policy: &Policy,
    current: &BTreeMap<String, Option<String>>,
) -> Value {
    let allowed = &policy.docker_group_allowed;
    let group_remove: Vec<String> = facts
        .group("docker")
        .and_then(|g| g.group.as_ref())
        .map(|g| {
            g.members
                .iter()
                .filter(|m| !allowed.contains(m))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    // Docker's data root as the audit judges it: the daemon's answer, else
    // the configured data-root, else the default; under userns-remap the
    // parent of the remapped `<root>/<uid>.<gid>`, which is what is mounted.
    let (docker_root, root_base) = shipshape_checks::data_root(facts, policy);
    let audit_paths = audit_paths(facts, &root_base, current);
    // dm-basesize: every other storage option stays (from daemon.json or
    // the command line, which the fix takes it off); none left: no key.
    let json_opts: Vec<String> = daemon_json_value(facts, "storage-opts")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    let flag_opts: Vec<String> =
        shipshape_checks::flags::parse_args(facts.dockerd.argv.get(1..).unwrap_or_default())
            .all("storage-opt")
            .into_iter()
            .map(|o| o.value.clone())
            .collect();
    let kept: Vec<String> = json_opts
        .into_iter()
        .chain(flag_opts)
        .filter(|o| !o.trim().starts_with("dm.basesize"))
        .collect();
    // Never loosen: a tighter limit or a smaller log rotation than the
    // policy's stays as it is.
    let (log_size, log_files) = {
        let cur = current_log_opts(facts);
        shipshape_checks::bounded_log_opts(
            cur.get("max-size").map(String::as_str),
            cur.get("max-file").map(String::as_str),
            policy,
        )
    };
    let nofile =
        shipshape_checks::tighter_ulimit(current_ulimit(facts, "nofile"), policy.ulimit_nofile);
    let nproc =
        shipshape_checks::tighter_ulimit(current_ulimit(facts, "nproc"), policy.ulimit_nproc);
    let storage_opts = if kept.is_empty() {
        Value::Null
    } else {
        json!(kept)
    };
    let uuid = {
        let b: [u8; 16] = rand::random();
        format!(
            "{}-{}-4{}-{:x}{}-{}",
            hex::encode(&b[0..4]),
            hex::encode(&b[4..6]),
            &hex::encode(&b[6..8])[1..],
            8 | (b[8] & 3),
            &hex::encode(&b[8..10])[1..],
            hex::encode(&b[10..16])
        )
    };
    json!({
        "disk": "/dev/sdb",
        "root": root_base,
        "uuid": uuid,
        "policy": {
            "nofile_soft": nofile.soft,
            "nofile_hard": nofile.hard,
            "nproc_soft": nproc.soft,
            "nproc_hard": nproc.hard,
            "log_driver": policy.log_driver,
            "log_max_size": log_size,
            "log_max_file": log_files,
            "cgroup_parent": policy.cgroup_parent,
            "max_user_namespaces": 15000,
            "allow_upgrade": policy.allow_docker_upgrade,
            "tls_ca": policy.tls_ca_cert,
            "tls_cert": policy.tls_server_cert,
            "tls_key": policy.tls_server_key,
        },
        "facts": {
            "group_remove": group_remove,
            "docker_root": docker_root,
            // Watches under /run cannot be loaded at boot (the folder is made
            // by containerd later, and auditd 4 does not start at all when a
            // rule fails to load): they go to a file of their own that a
            // oneshot unit loads once containerd and dockerd are up.
            "audit_paths": audit_paths.iter().filter(|p| !p.starts_with("/run/")).collect::<Vec<_>>(),
            "late_audit_paths": audit_paths.iter().filter(|p| p.starts_with("/run/")).collect::<Vec<_>>(),
            "storage_opts_without_basesize": storage_opts.to_string(),
        }
    })
}

/// The files CIS 1.1.3–1.1.18 watch, as this host has them: existing, and
/// not symlinks (a watch on a symlink does not see the file).
/// `current` also counts: a file that a fix planned before this one in the
/// same run creates (daemon.json, say) is watched from the start.
fn audit_paths(
    facts: &Facts,
    root_base: &str,
    current: &BTreeMap<String, Option<String>>,
) -> Vec<String> {
    let mut candidates: Vec<String> = Vec::new();
    for bin in [
        "dockerd",
        "containerd",
        "containerd-shim",
        "containerd-shim-runc-v1",
        "containerd-shim-runc-v2",
        "runc",
    ] {
        for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
            candidates.push(format!("{dir}/{bin}"));
        }
    }
    candidates.extend(
        [
            root_base,
            "/etc/docker",
            "/etc/default/docker",
            "/etc/containerd/config.toml",
            "/etc/sysconfig/docker",
            facts.daemon_json_path.as_str(),
        ]
        .map(String::from),
    );
    for unit in [&facts.service, &facts.socket] {
        candidates.extend(unit.fragment_real.clone().or(unit.fragment_path.clone()));
    }
    // Last: /run is empty when auditd loads the rules at boot, and auditctl
    // stops at the first rule whose path does not exist yet.
    candidates.extend(["/run/containerd", "/run/containerd/containerd.sock"].map(String::from));
    let mut out = Vec::new();
    for c in candidates {
        let exists = match facts.stat(&c) {
            shipshape_checks::facts::StatLookup::Found(e) => !e.symlink,
            _ => matches!(current.get(&c), Some(Some(_))),
        };
        if exists && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// The json-file log options dockerd has now: daemon.json's `log-opts`,
/// else the `--log-opt` flags.
fn current_log_opts(facts: &Facts) -> BTreeMap<String, String> {
    if let Some(Value::Object(m)) = daemon_json_value(facts, "log-opts") {
        return m
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
            .collect();
    }
    shipshape_checks::flags::parse_args(facts.dockerd.argv.get(1..).unwrap_or_default())
        .all("log-opt")
        .into_iter()
        .filter_map(|o| {
            o.value
                .split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// A default ulimit dockerd has now: daemon.json's `default-ulimits`, else
/// a `--default-ulimit name=soft:hard` flag.
fn current_ulimit(facts: &Facts, name: &str) -> Option<shipshape_checks::policy::Ulimit> {
    if let Some(Value::Object(m)) = daemon_json_value(facts, "default-ulimits") {
        let u = m.get(name)?;
        return Some(shipshape_checks::policy::Ulimit {
            soft: u.get("Soft")?.as_i64()?,
            hard: u.get("Hard")?.as_i64()?,
        });
    }
    shipshape_checks::flags::parse_args(facts.dockerd.argv.get(1..).unwrap_or_default())
        .all("default-ulimit")
        .into_iter()
        .find_map(|o| {
            let (n, v) = o.value.split_once('=')?;
            (n == name).then(|| shipshape_checks::policy::Ulimit::parse(v).ok())?
        })
}

/// A key of the daemon.json the probe read.
fn daemon_json_value(facts: &Facts, key: &str) -> Option<Value> {
    let text = facts.content(&facts.daemon_json_path)?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut m)) => m.remove(key),
        _ => None,
    }
}

fn render(
    control: &str,
    facts: &Facts,
    policy: &Policy,
    current: &BTreeMap<String, Option<String>>,
    extra: Option<(&str, Value)>,
) -> Result<Spec, PlanError> {
    let tpl = match shipshape_checks::fix_of(control) {
        Some(Fix::Template { text, .. }) => text,
        _ => return Err(PlanError::NoFix(control.to_string())),
    };
    let mut hb = Handlebars::new();
    hb.register_escape_fn(handlebars::no_escape);
    hb.set_strict_mode(true);
    let err = |reason: String| PlanError::Template {
        control: control.to_string(),
        reason,
    };
    let mut context = template_context(facts, policy, current);
    if let Some((k, v)) = extra {
        context[k] = v;
    }
    let text = hb
        .render_template(tpl, &context)
        .map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(format!("{e} in:\n{text}")))
}

/// dockerd's running argv without `flags` (both `--f=v` and `--f v` forms).
fn argv_without(argv: &[String], flags: &[String]) -> (Vec<String>, Vec<String>) {
    let mut kept = Vec::new();
    let mut removed = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        // `--name[=v]`, or a short form `-H`, `-Hv`, `-H=v`.
        let (name, inline) = if let Some(r) = a.strip_prefix("--") {
            (
                Some(r.split('=').next().unwrap_or(r).to_string()),
                r.contains('='),
            )
        } else if let Some(r) = a.strip_prefix('-').filter(|r| !r.is_empty()) {
            let c = r.chars().next().unwrap_or(' ');
            let long = shipshape_checks::flags::DOCKERD_FLAGS
                .iter()
                .find(|s| s.short == Some(c))
                .map(|s| s.long.to_string());
            (long, r.len() > 1)
        } else {
            (None, false)
        };
        match name {
            Some(n) if i > 0 && flags.contains(&n) => {
                let spec = shipshape_checks::flags::spec_long(&n);
                let takes_value = spec
                    .map(|s| s.kind == shipshape_checks::flags::FlagKind::Value)
                    .unwrap_or(false);
                removed.push(a.clone());
                if takes_value && !inline && i + 1 < argv.len() {
                    removed.push(argv[i + 1].clone());
                    i += 1;
                }
            }
            _ => kept.push(a.clone()),
        }
        i += 1;
    }
    (kept, removed)
}

/// Quotes one ExecStart word for systemd.
fn systemd_word(w: &str) -> String {
    if w.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
        && !w.is_empty()
    {
        w.to_string()
    } else {
        format!("\"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Plans `control`'s fix. `current` holds the present contents of
/// daemon.json and the exec drop-in (see [`paths_to_read`]), or what the
/// fixes planned before this one in the same run leave there. `flags_off`
/// gathers the options taken off dockerd's command line by every fix of the
/// run, so that the one exec drop-in written last takes them all off.
pub fn plan(
    control: &str,
    facts: &Facts,
    policy: &Policy,
    current: &BTreeMap<String, Option<String>>,
    ctx: &FixContext,
    flags_off: &mut Vec<String>,
) -> Result<Planned, PlanError> {
    if shipshape_checks::fix_of(control) == Some(Fix::Owners) {
        return Ok(Planned {
            change: perm_change(control, facts, policy),
            tls: None,
        });
    }
    // Fixes that generate material (a filesystem, keys) are no-ops once the
    // control passes: running them again would change what is there.
    if matches!(control, "docker-root-mount" | "tls-auth" | "docker-version")
        && passes(control, facts, policy)
    {
        return Ok(Planned {
            change: Change::default(),
            tls: None,
        });
    }
    let mut tls = None;
    let extra = if control == "tls-auth" {
        let bundle = crate::tls::generate(&ctx.names, &ctx.ips)
            .map_err(|e| PlanError::Tls(e.to_string()))?;
        let v = json!({
            "hosts_json": serde_json::to_string(&tls_hosts(facts)).expect("JSON"),
            "ca_json": serde_json::to_string(&bundle.ca_cert).expect("JSON"),
            "cert_json": serde_json::to_string(&bundle.server_cert).expect("JSON"),
            "key_json": serde_json::to_string(&bundle.server_key).expect("JSON"),
            "names": ctx.names.iter().cloned().chain(ctx.ips.iter().map(|i| i.to_string())).collect::<Vec<_>>().join(", "),
            "client_dir": ctx.client_tls_dir.display().to_string(),
        });
        tls = Some(bundle);
        Some(("tls", v))
    } else {
        None
    };
    let extra =
        extra.or_else(|| (control == "docker-root-mount").then(|| ("disk", json!(ctx.data_disk))));
    let spec = render(control, facts, policy, current, extra)?;
    let mut change = Change {
        notes: spec.notes,
        daemon: if spec.restart.unwrap_or(true) {
            DaemonAction::Restart
        } else {
            DaemonAction::None
        },
        precheck: spec.precheck,
        after_write: spec.after_write.filter(|s| !s.trim().is_empty()),
        on_rollback: spec.on_rollback,
        ..Default::default()
    };
    for a in spec.append {
        let cur = current.get(&a.path).cloned().flatten().unwrap_or_default();
        if !cur.lines().any(|l| l.trim() == a.line.trim()) {
            let mut new = cur.clone();
            if !new.is_empty() && !new.ends_with('\n') {
                new.push('\n');
            }
            new.push_str(&a.line);
            new.push('\n');
            change.edits.push(FileEdit {
                path: a.path,
                content: Some(new),
                mode: 0o644,
            });
        }
    }
    for f in spec.files {
        change.edits.push(FileEdit {
            path: f.path,
            content: Some(f.content),
            mode: f.mode,
        });
    }
    if let Some(patch) = spec.daemon_json {
        let path = facts.daemon_json_path.clone();
        let text = current.get(&path).cloned().flatten();
        let mut map = match text.as_deref().map(str::trim) {
            None | Some("") => Map::new(),
            Some(t) => match serde_json::from_str::<Value>(t) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(PlanError::BrokenDaemonJson {
                        path,
                        reason: "not an object".into(),
                    })
                }
                Err(e) => {
                    return Err(PlanError::BrokenDaemonJson {
                        path,
                        reason: e.to_string(),
                    })
                }
            },
        };
        let before = map.clone();
        for (k, v) in &patch {
            if v.is_null() {
                map.remove(k);
            } else {
                map.insert(k.clone(), v.clone());
            }
        }
        if map != before {
            let mut out = serde_json::to_string_pretty(&Value::Object(map)).expect("JSON");
            out.push('\n');
            change.edits.push(FileEdit {
                path,
                content: Some(out),
                mode: 0o644,
            });
        }
        // Take these options off the command line, with those of the fixes
        // planned before this one.
        let (_, removed_before) = argv_without(&facts.dockerd.argv, flags_off);
        for k in patch.keys() {
            let f = flag_for_key(k);
            if !flags_off.contains(&f) {
                flags_off.push(f);
            }
        }
        let (kept, removed) = argv_without(&facts.dockerd.argv, flags_off);
        if !removed.is_empty() {
            let exec = kept
                .iter()
                .map(|w| systemd_word(w))
                .collect::<Vec<_>>()
                .join(" ");
            let newly: Vec<&String> = removed
                .iter()
                .filter(|r| !removed_before.contains(r))
                .collect();
            if !newly.is_empty() {
                change.notes.push(format!(
                    "taking {} off dockerd's command line ({EXEC_DROPIN}): the option now lives in {} only",
                    newly.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
                    facts.daemon_json_path
                ));
            }
            change.edits.push(FileEdit {
                path: EXEC_DROPIN.into(),
                content: Some(format!(
                    "# Written by shipshape: dockerd's command line without options that daemon.json sets.\n[Service]\nExecStart=\nExecStart={exec}\n"
                )),
                mode: 0o644,
            });
        }
    }
    Ok(Planned { change, tls })
}

/// The command that validates `daemon_json` with dockerd itself, where it
/// can (Engine 23 and later have `--validate`; older ones find a bad file
/// only when they start, and the restart's rollback catches that).
pub fn validate_command(facts: &Facts) -> Option<String> {
    let major = facts
        .api
        .info
        .as_ref()
        .and_then(|i| i.get("ServerVersion"))
        .or_else(|| facts.api.version.as_ref().and_then(|v| v.get("Version")))
        .and_then(Value::as_str)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    (major >= 23).then(|| {
        format!(
            "dockerd --validate --config-file {} >/dev/null",
            crate::shell::quote(&facts.daemon_json_path)
        )
    })
}

/// Section 3: every path of `control` that is not as the control wants it
/// gets its owner set and the mode bits beyond the mask cleared. Bits are
/// only ever cleared, so a file that is stricter than CIS stays so.
fn perm_change(control: &str, facts: &Facts, policy: &Policy) -> Change {
    let mut change = Change::default();
    for t in shipshape_checks::perm_targets(control, facts, policy) {
        let shipshape_checks::facts::StatLookup::Found(st) = facts.stat(&t.path) else {
            continue;
        };
        let owner_ok = (st.owner == t.owner || (t.owner == "root" && st.uid == Some(0)))
            && (st.group == t.group || (t.group == "root" && st.gid == Some(0)));
        let bits = st.mode.0 & 0o7777;
        let mode = bits & t.mask;
        let edit = AttrEdit {
            path: t.path.clone(),
            owner: (!owner_ok).then(|| format!("{}:{}", t.owner, t.group)),
            mode: (mode != bits).then_some(mode),
        };
        if edit.owner.is_some() || edit.mode.is_some() {
            change.notes.push(format!(
                "{}: {}{}",
                t.path,
                edit.owner
                    .as_ref()
                    .map(|o| format!("owner {}:{} -> {o}; ", st.owner, st.group))
                    .unwrap_or_default(),
                edit.mode
                    .map(|m| format!("mode {bits:04o} -> {m:04o}"))
                    .unwrap_or_default()
            ));
            change.attrs.push(edit);
        }
    }
    change
}

fn passes(control: &str, facts: &Facts, policy: &Policy) -> bool {
    shipshape_checks::audit(facts, policy)
        .iter()
        .any(|f| f.id == control && matches!(f.verdict, shipshape_checks::Verdict::Pass))
}

/// The listeners after the TLS fix: every non-TCP one dockerd has now
/// (command line or daemon.json), plus the TLS port.
fn tls_hosts(facts: &Facts) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    let parsed =
        shipshape_checks::flags::parse_args(facts.dockerd.argv.get(1..).unwrap_or_default());
    for occ in parsed.all("host") {
        hosts.push(occ.value.clone());
    }
    if let Some(text) = facts.content(&facts.daemon_json_path) {
        if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) {
            if let Some(Value::Array(a)) = m.get("hosts") {
                hosts.extend(a.iter().filter_map(|h| h.as_str().map(String::from)));
            }
        }
    }
    hosts.retain(|h| !h.starts_with("tcp://"));
    if hosts.is_empty() {
        hosts.push("unix:///var/run/docker.sock".into());
    }
    hosts.push("tcp://0.0.0.0:2376".into());
    hosts.dedup();
    hosts
}

/// The files a plan reads before deciding.
pub fn paths_to_read(facts: &Facts) -> Vec<String> {
    vec![
        facts.daemon_json_path.clone(),
        EXEC_DROPIN.to_string(),
        "/etc/fstab".to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh debian-12 host as the probe captured it.
    fn debian12() -> Facts {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../checks/tests/fixtures/debian-12/probe.json"
        ))
        .expect("fixture");
        shipshape_checks::parse_facts(&text).expect("fixture parses")
    }

    fn ctx() -> FixContext {
        FixContext {
            data_disk: "/dev/sdb".into(),
            client_tls_dir: std::env::temp_dir(),
            names: vec!["localhost".into()],
            ips: vec![],
        }
    }

    fn with_daemon_json(mut facts: Facts, text: &str) -> Facts {
        let path = facts.daemon_json_path.clone();
        facts.files.retain(|f| f.path != path);
        facts.files.push(shipshape_checks::facts::FileFact {
            path,
            exists: true,
            content: Some(text.into()),
            error: None,
        });
        facts
    }

    fn planned_daemon_json(control: &str, facts: &Facts) -> Value {
        let mut cur = BTreeMap::new();
        cur.insert(
            facts.daemon_json_path.clone(),
            facts.content(&facts.daemon_json_path).map(String::from),
        );
        let p = plan(
            control,
            facts,
            &Policy::default(),
            &cur,
            &ctx(),
            &mut Vec::new(),
        )
        .unwrap_or_else(|e| panic!("{control}: {e}"));
        let e = p
            .change
            .edits
            .iter()
            .find(|e| e.path == facts.daemon_json_path)
            .unwrap_or_else(|| panic!("{control} does not edit daemon.json"));
        serde_json::from_str(e.content.as_deref().unwrap()).unwrap()
    }

    /// The FIX column of `shipshape controls` is `has_fix`: every control it
    /// claims must plan without "no fix", and every control that fails on a
    /// fresh debian-12 and claims a fix must change something there.
    #[test]
    fn every_claimed_fix_exists_and_changes_a_failing_host() {
        let facts = debian12();
        let findings = shipshape_checks::audit(&facts, &Policy::default());
        let mut without = Vec::new();
        for c in shipshape_checks::catalogue() {
            if !has_fix(c.id) {
                without.push(c.id);
                continue;
            }
            let cur = BTreeMap::new();
            let p = plan(
                c.id,
                &facts,
                &Policy::default(),
                &cur,
                &ctx(),
                &mut Vec::new(),
            )
            .unwrap_or_else(|e| panic!("{} claims a fix: {e}", c.id));
            let failing = findings
                .iter()
                .any(|f| f.id == c.id && matches!(f.verdict, shipshape_checks::Verdict::Fail));
            if failing {
                let ch = &p.change;
                assert!(
                    !ch.edits.is_empty() || !ch.attrs.is_empty() || ch.after_write.is_some(),
                    "{} fails on debian-12 and claims a fix, but its plan changes nothing",
                    c.id
                );
            }
        }
        assert_eq!(
            without,
            [
                "host-hardening",
                "rootless",
                "no-aufs",
                "no-devicemapper",
                "authz-plugin",
                "legacy-registry"
            ],
            "the controls without a fix changed: update the README's list"
        );
        assert!(!has_fix("no-such-control"));
    }

    #[test]
    fn log_rotation_stricter_than_the_policy_is_kept() {
        // 200m x 1 is above the policy's 50m x 3 in total: the fix bounds
        // the size but does not raise the number of files.
        let facts = with_daemon_json(
            debian12(),
            r#"{"log-driver": "json-file", "log-opts": {"max-size": "200m", "max-file": "1"}}"#,
        );
        let j = planned_daemon_json("log-config", &facts);
        assert_eq!(j["log-opts"]["max-size"], "50m");
        assert_eq!(j["log-opts"]["max-file"], "1");
    }

    #[test]
    fn tighter_ulimits_are_kept() {
        let facts = with_daemon_json(
            debian12(),
            r#"{"default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}}"#,
        );
        let j = planned_daemon_json("default-ulimits", &facts);
        assert_eq!(j["default-ulimits"]["nofile"]["Soft"], 1024);
        assert_eq!(j["default-ulimits"]["nofile"]["Hard"], 2048);
        let p = Policy::default();
        assert_eq!(j["default-ulimits"]["nproc"]["Soft"], p.ulimit_nproc.soft);
    }

    #[test]
    fn dm_basesize_goes_and_other_storage_options_stay() {
        let facts = with_daemon_json(
            debian12(),
            r#"{"storage-opts": ["dm.basesize=20G", "overlay2.size=10G"]}"#,
        );
        let j = planned_daemon_json("dm-basesize", &facts);
        assert_eq!(j["storage-opts"], json!(["overlay2.size=10G"]));
        let facts = with_daemon_json(debian12(), r#"{"storage-opts": ["dm.basesize=20G"]}"#);
        let j = planned_daemon_json("dm-basesize", &facts);
        assert!(j.get("storage-opts").is_none(), "{j}");
    }

    #[test]
    fn modes_are_only_tightened_and_owners_set() {
        let mut facts = debian12();
        let e = facts
            .stat
            .entries
            .iter_mut()
            .find(|e| e.path == "/etc/docker")
            .expect("/etc/docker in the fixture");
        // 0777 and owned by someone else: the fix clears to 0755 and sets root.
        e.mode = shipshape_checks::mode::Mode(0o777);
        e.owner = "mallory".into();
        e.uid = Some(1000);
        let p = plan(
            "perm-etc-docker",
            &facts,
            &Policy::default(),
            &BTreeMap::new(),
            &ctx(),
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(
            p.change.attrs,
            [AttrEdit {
                path: "/etc/docker".into(),
                owner: Some("root:root".into()),
                mode: Some(0o755),
            }]
        );
        // 0700 is stricter than 0755: nothing to change.
        let e = facts
            .stat
            .entries
            .iter_mut()
            .find(|e| e.path == "/etc/docker")
            .unwrap();
        e.mode = shipshape_checks::mode::Mode(0o700);
        e.owner = "root".into();
        e.uid = Some(0);
        let p = plan(
            "perm-etc-docker",
            &facts,
            &Policy::default(),
            &BTreeMap::new(),
            &ctx(),
            &mut Vec::new(),
        )
        .unwrap();
        assert!(p.change.attrs.is_empty(), "{:?}", p.change.attrs);
        // 0750 with group write and other read (0774): only the extra bits go.
        let e = facts
            .stat
            .entries
            .iter_mut()
            .find(|e| e.path == "/etc/docker")
            .unwrap();
        e.mode = shipshape_checks::mode::Mode(0o774);
        let p = plan(
            "perm-etc-docker",
            &facts,
            &Policy::default(),
            &BTreeMap::new(),
            &ctx(),
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(p.change.attrs[0].mode, Some(0o754));
    }

    #[test]
    fn flags_taken_off_by_earlier_fixes_stay_off() {
        let mut facts = debian12();
        facts.dockerd.argv = [
            "/usr/sbin/dockerd",
            "-H",
            "fd://",
            "--icc=true",
            "--live-restore=false",
        ]
        .map(String::from)
        .to_vec();
        let mut off = Vec::new();
        let cur = BTreeMap::new();
        plan("icc", &facts, &Policy::default(), &cur, &ctx(), &mut off).unwrap();
        let p = plan(
            "live-restore",
            &facts,
            &Policy::default(),
            &cur,
            &ctx(),
            &mut off,
        )
        .unwrap();
        let dropin = p
            .change
            .edits
            .iter()
            .find(|e| e.path == EXEC_DROPIN)
            .unwrap();
        let text = dropin.content.as_deref().unwrap();
        assert!(
            text.contains("ExecStart=/usr/sbin/dockerd -H fd://\n"),
            "{text}"
        );
    }

    #[test]
    fn every_template_renders_with_default_policy() {
        let facts: Facts = serde_json::from_value(json!({})).unwrap_or_default();
        for id in shipshape_checks::catalogue().iter().map(|c| c.id) {
            if template_name(id).is_none() {
                continue;
            }
            let extra = (id == "tls-auth").then(|| ("tls", json!({"hosts_json": "[]", "ca_json": "\"x\"", "cert_json": "\"x\"", "key_json": "\"x\"", "names": "n", "client_dir": "/d"})));
            render(id, &facts, &Policy::default(), &BTreeMap::new(), extra)
                .unwrap_or_else(|e| panic!("{id}: {e}"));
        }
    }

    #[test]
    fn flags_come_off_the_command_line() {
        let argv: Vec<String> = [
            "/usr/sbin/dockerd",
            "-H",
            "fd://",
            "--live-restore=false",
            "--insecure-registry",
            "r:5000",
            "--containerd=/run/containerd/containerd.sock",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (kept, removed) =
            argv_without(&argv, &["live-restore".into(), "insecure-registry".into()]);
        assert_eq!(
            kept,
            [
                "/usr/sbin/dockerd",
                "-H",
                "fd://",
                "--containerd=/run/containerd/containerd.sock"
            ]
        );
        assert_eq!(
            removed,
            ["--live-restore=false", "--insecure-registry", "r:5000"]
        );
    }
}
