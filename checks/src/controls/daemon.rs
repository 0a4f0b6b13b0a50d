//! Daemon configuration controls (CIS section 2, and C.2).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{bool_option, decide, Ctx, Outcome};
use crate::api::BUILTIN_INSECURE_CIDRS;
use crate::effective::*;
use crate::facts::StatLookup;
use crate::flags::FlagOcc;
use crate::limits::{
    limit_rank, log_total, parse_max_file, policy_log_total, show_bytes, show_limit, ulimit_within,
};
use crate::policy::{ByteSize, Policy, Ulimit};
use crate::version::EngineVersion;

pub(super) fn icc(ctx: &Ctx) -> Outcome {
    bool_option(ctx, &ICC, true, false, None)
}

pub(super) fn iptables(ctx: &Ctx) -> Outcome {
    bool_option(ctx, &IPTABLES, true, true, None)
}

pub(super) fn userland_proxy(ctx: &Ctx) -> Outcome {
    bool_option(ctx, &USERLAND_PROXY, true, false, None)
}

pub(super) fn no_experimental(ctx: &Ctx) -> Outcome {
    bool_option(ctx, &EXPERIMENTAL, false, false, ctx.api.experimental())
}

pub(super) fn no_new_privileges(ctx: &Ctx) -> Outcome {
    let mut out = bool_option(ctx, &NO_NEW_PRIVILEGES, false, true, None);
    if out.verdict.is_fail() {
        out.evidence.push(
            "note: the seed asks for \"no-new-privileges\": false; that is wrong, only true restricts containers"
                .to_string(),
        );
    }
    out
}

pub(super) fn live_restore(ctx: &Ctx) -> Outcome {
    if let Some(state) = ctx.api.swarm_state() {
        if state != "inactive" {
            return Outcome::na(
                "the node is in swarm mode, where live-restore does not apply",
                vec![format!("/info: Swarm.LocalNodeState={state}")],
            );
        }
    }
    let api = ctx
        .api
        .info_bool("LiveRestoreEnabled")
        .map(|b| (b, "/info: LiveRestoreEnabled"));
    let mut out = bool_option(ctx, &LIVE_RESTORE, false, true, api);
    if let Some(state) = ctx.api.swarm_state() {
        out.evidence
            .insert(0, format!("/info: Swarm.LocalNodeState={state}"));
    }
    out
}

pub(super) fn log_level(ctx: &Ctx) -> Outcome {
    let level = ctx.eff.string(&LOG_LEVEL);
    let debug = ctx.eff.bool(&DEBUG, false);
    let mut ev = level.evidence.clone();
    ev.extend(debug.evidence.iter().cloned());
    let mut problems = level.problems.clone();
    problems.extend(debug.problems.iter().cloned());
    let mut failures = Vec::new();
    for (label, l) in &level.values {
        let l = l.as_deref().unwrap_or("info");
        if l != "info" {
            failures.push(format!("log-level is {l} for {label} (must be info)"));
        }
    }
    for (label, d) in &debug.values {
        if *d {
            failures.push(format!(
                "debug is on for {label}: it forces log-level debug"
            ));
        }
    }
    if let Some(d) = ctx.api.info_bool("Debug") {
        ev.push(format!("/info: Debug={d}"));
        if d {
            failures.push("the running daemon reports Debug=true".to_string());
        }
    }
    if failures.is_empty() && problems.is_empty() {
        ev.push("log-level is info".to_string());
    }
    decide(ctx, ev, &problems, failures)
}

pub(super) fn insecure_registries(ctx: &Ctx) -> Outcome {
    let r = ctx.eff.list(&INSECURE_REGISTRIES);
    let mut ev = r.evidence.clone();
    let mut failures = Vec::new();
    for (label, regs) in &r.values {
        let user: Vec<&String> = regs
            .iter()
            .filter(|x| !BUILTIN_INSECURE_CIDRS.contains(&x.as_str()))
            .collect();
        if !user.is_empty() {
            failures.push(format!("insecure registries for {label}: {user:?}"));
        }
    }
    if let Some(api) = ctx.api.insecure_registries() {
        ev.push(format!(
            "/info: RegistryConfig insecure (besides 127.0.0.0/8, ::1/128): {api:?}"
        ));
        if !api.is_empty() {
            failures.push(format!(
                "the running daemon treats these as insecure: {api:?}"
            ));
        }
    }
    if failures.is_empty() && r.problems.is_empty() {
        ev.push("no insecure registry besides the built-in loopback range".to_string());
    }
    decide(ctx, ev, &r.problems, failures)
}

pub(super) fn no_aufs(ctx: &Ctx) -> Outcome {
    let r = ctx.eff.string(&STORAGE_DRIVER);
    let mut ev = r.evidence.clone();
    let mut failures = Vec::new();
    let running = ctx.api.info_str("Driver");
    if let Some(d) = running {
        ev.push(format!("/info: Driver={d}"));
        if d == "aufs" {
            failures.push("the running daemon uses the aufs storage driver".to_string());
        }
    }
    for (label, d) in &r.values {
        if d.as_deref() == Some("aufs") {
            failures.push(format!("storage-driver is aufs for {label}"));
        }
    }
    let configured_any = r.values.iter().any(|(_, d)| d.is_some());
    if running.is_none() && !configured_any && failures.is_empty() {
        return Outcome::manual(
            "the storage driver is unknown: no daemon answer and none configured (dockerd picks one at start)",
            ev,
        );
    }
    if failures.is_empty() && r.problems.is_empty() {
        ev.push("the storage driver is not aufs".to_string());
    }
    decide(ctx, ev, &r.problems, failures)
}

/// Whether a `-H`/`hosts` value is a TCP listener: `tcp://…`, or no scheme
/// at all (dockerd then assumes tcp, `-H 0.0.0.0:2375`).
fn is_tcp_host(h: &str) -> bool {
    match h.split_once("://") {
        Some((scheme, _)) => scheme == "tcp",
        None => !h.is_empty() && !h.starts_with('/'),
    }
}

/// A `Listen=` / `ListenStream=` value that is a port or address rather
/// than a path or abstract socket.
fn is_tcp_listen(l: &str) -> bool {
    let addr = l.split(" (").next().unwrap_or(l).trim();
    !(addr.starts_with('/') || addr.starts_with('@') || addr.is_empty())
}

pub(super) fn tls_auth(ctx: &Ctx) -> Outcome {
    let hosts = ctx.eff.list(&HOSTS);
    let mut ev = hosts.evidence.clone();
    let mut problems = hosts.problems.clone();
    let mut tcp: Vec<String> = Vec::new();
    for (label, hs) in &hosts.values {
        for h in hs.iter().filter(|h| is_tcp_host(h)) {
            tcp.push(format!("{h} ({label})"));
        }
    }
    // fd:// hands the listeners to docker.socket, which may listen on TCP.
    let uses_fd = hosts.any(|hs| hs.iter().any(|h| h.starts_with("fd://")));
    if uses_fd {
        let mut listens: Vec<String> = ctx.facts.socket.listen.clone();
        if listens.is_empty() {
            for p in socket_unit_paths(ctx) {
                if let Some(text) = ctx.facts.content(&p) {
                    for l in text
                        .lines()
                        .filter_map(|l| l.trim().strip_prefix("ListenStream="))
                    {
                        listens.push(format!("{} (from {p})", l.trim()));
                    }
                }
            }
        }
        for l in &listens {
            ev.push(format!("docker.socket Listen={l}"));
            if is_tcp_listen(l) {
                tcp.push(format!("{l} (docker.socket)"));
            }
        }
    }
    if tcp.is_empty() {
        ev.push("no tcp:// listener: dockerd listens on unix sockets only".to_string());
        return decide(ctx, ev, &problems, Vec::new());
    }
    ev.push(format!("tcp listeners: {}", tcp.join(", ")));
    let mut failures = Vec::new();
    let verify = ctx.eff.bool(&TLSVERIFY, false);
    ev.extend(verify.evidence.iter().cloned());
    problems.extend(verify.problems.iter().cloned());
    for (label, v) in &verify.values {
        if !*v {
            failures.push(format!(
                "tlsverify is off for {label}: clients are not authenticated"
            ));
        }
    }
    // The files matter only once verification is on.
    if failures.is_empty() {
        let defaults = [
            (&TLSCACERT, "/root/.docker/ca.pem"),
            (&TLSCERT, "/root/.docker/cert.pem"),
            (&TLSKEY, "/root/.docker/key.pem"),
        ];
        for (o, default) in defaults {
            let r = ctx.eff.string(o);
            ev.extend(r.evidence.iter().cloned());
            problems.extend(r.problems.iter().cloned());
            for (label, v) in &r.values {
                match v {
                    Some(path) => match ctx.facts.stat(path) {
                        StatLookup::Found(st) => ev.push(format!("stat {}", st.describe())),
                        StatLookup::Missing => {
                            failures.push(format!("{} {path} ({label}) does not exist", o.json))
                        }
                        StatLookup::Unknown => ev.push(format!("{path}: not captured")),
                    },
                    None => failures.push(format!(
                        "{} is not set for {label} (dockerd would fall back to {default})",
                        o.json
                    )),
                }
            }
        }
    }
    decide(ctx, ev, &problems, failures)
}

fn socket_unit_paths(ctx: &Ctx) -> Vec<String> {
    let s = &ctx.facts.socket;
    s.fragment_path
        .iter()
        .chain(s.drop_in_paths.iter())
        .cloned()
        .collect()
}

/// `nofile=20480:40960` → ("nofile", 20480:40960); one number sets both.
fn parse_ulimit_flag(f: &FlagOcc) -> Result<(String, Ulimit), String> {
    let (name, val) = f
        .value
        .split_once('=')
        .ok_or_else(|| format!("{}: expected NAME=SOFT[:HARD]", f.raw))?;
    Ulimit::parse(val)
        .map(|u| (name.to_string(), u))
        .map_err(|e| format!("{}: {e}", f.raw))
}

fn parse_ulimit_json(v: &Value) -> Result<BTreeMap<String, Ulimit>, String> {
    let m = v
        .as_object()
        .ok_or_else(|| format!("{v} is not an object"))?;
    m.iter()
        .map(|(k, u)| {
            let num = |f: &str| {
                u.get(f)
                    .and_then(Value::as_i64)
                    .ok_or_else(|| format!("\"{k}\" lacks a numeric {f}"))
            };
            Ok((
                k.clone(),
                Ulimit {
                    soft: num("Soft")?,
                    hard: num("Hard")?,
                },
            ))
        })
        .collect()
}

/// Which side of `u` is looser than the policy's, for the evidence.
fn looser_parts(u: Ulimit, policy: Ulimit) -> Vec<String> {
    [("soft", u.soft, policy.soft), ("hard", u.hard, policy.hard)]
        .into_iter()
        .filter(|(_, v, p)| limit_rank(*v) > limit_rank(*p))
        .map(|(side, v, p)| format!("{side} {} > {}", show_limit(v), show_limit(p)))
        .collect()
}

pub(super) fn default_ulimits(ctx: &Ctx) -> Outcome {
    let r = ctx.eff.resolve(
        &DEFAULT_ULIMITS,
        BTreeMap::new,
        |fl| {
            fl.iter()
                .map(|f| parse_ulimit_flag(f))
                .collect::<Result<BTreeMap<_, _>, _>>()
        },
        parse_ulimit_json,
    );
    let mut ev = r.evidence.clone();
    let want = [
        ("nofile", ctx.policy.ulimit_nofile),
        ("nproc", ctx.policy.ulimit_nproc),
    ];
    ev.push(format!(
        "policy: nofile={} nproc={} (or tighter)",
        want[0].1, want[1].1
    ));
    let mut failures = Vec::new();
    for (label, m) in &r.values {
        for (name, policy) in want {
            match m.get(name) {
                None => failures.push(format!("no default {name} ulimit for {label}")),
                Some(u) if ulimit_within(*u, policy) => ev.push(if *u == policy {
                    format!("default {name} ulimit is {u} for {label}, equal to the policy's")
                } else {
                    format!(
                        "default {name} ulimit is {u} for {label}, tighter than the policy's {policy}"
                    )
                }),
                Some(u) => failures.push(format!(
                    "default {name} ulimit is {u} for {label}, looser than the policy's {policy}: {}",
                    looser_parts(*u, policy).join(", ")
                )),
            }
        }
    }
    for k in ["LimitNOFILE", "LimitNPROC"] {
        if let Some(v) = ctx.facts.service.properties.get(k) {
            ev.push(format!(
                "systemd {k}={v} (limits dockerd itself; containers inherit it only when no default ulimit is set)"
            ));
        }
    }
    if failures.is_empty() && r.problems.is_empty() {
        ev.push("default ulimits are the policy's or tighter".to_string());
    }
    decide(ctx, ev, &r.problems, failures)
}

pub(super) fn userns_remap(ctx: &Ctx) -> Outcome {
    let r = ctx.eff.string(&USERNS_REMAP);
    let mut ev = r.evidence.clone();
    let mut failures = Vec::new();
    for (label, v) in &r.values {
        if v.is_none() {
            failures.push(format!("userns-remap is not set for {label}"));
        }
    }
    if let Some(on) = ctx.api.has_security_option("userns") {
        ev.push(format!("/info: SecurityOptions has name=userns: {on}"));
        if !on {
            failures.push("the running daemon does not remap user namespaces".to_string());
        }
    }
    if let Some(n) = ctx.facts.max_user_namespaces {
        ev.push(format!("sysctl user.max_user_namespaces={n}"));
        if n == 0 {
            failures.push("user.max_user_namespaces is 0: remapping cannot work".to_string());
        } else if n < 1000 {
            // Each container takes a user namespace under remapping.
            ev.push(format!(
                "note: at most {n} user namespaces, so about as many containers; the seed sets 15000"
            ));
        }
    }
    if failures.is_empty() && r.problems.is_empty() {
        ev.push("user namespace remapping is on".to_string());
    }
    decide(ctx, ev, &r.problems, failures)
}

pub(super) fn cgroup_parent(ctx: &Ctx) -> Outcome {
    let r = ctx.eff.string(&CGROUP_PARENT);
    let mut ev = r.evidence.clone();
    let declared = ctx.policy.cgroup_parent.as_deref();
    ev.push(format!(
        "policy cgroup_parent: {}",
        declared.unwrap_or("(none: must be unset)")
    ));
    let mut failures = Vec::new();
    for (label, v) in &r.values {
        if let Some(v) = v {
            if Some(v.as_str()) != declared {
                failures.push(format!(
                    "cgroup-parent is {v} for {label}, not declared in the policy"
                ));
            }
        }
    }
    if failures.is_empty() && r.problems.is_empty() {
        ev.push("cgroup-parent is unset or the declared value".to_string());
    }
    decide(ctx, ev, &r.problems, failures)
}

pub(super) fn dm_basesize(ctx: &Ctx) -> Outcome {
    let r = ctx.eff.list(&STORAGE_OPTS);
    let mut ev = r.evidence.clone();
    let mut failures = Vec::new();
    for (label, opts) in &r.values {
        for o in opts.iter().filter(|o| o.trim().starts_with("dm.basesize")) {
            failures.push(format!("storage option {o} for {label}"));
        }
    }
    if failures.is_empty() && r.problems.is_empty() {
        ev.push("no dm.basesize storage option".to_string());
    }
    decide(ctx, ev, &r.problems, failures)
}

pub(super) fn authz_plugin(ctx: &Ctx) -> Outcome {
    let r = ctx.eff.list(&AUTHZ_PLUGINS);
    let mut ev = r.evidence.clone();
    let mut plugins: Vec<String> = Vec::new();
    for (_, ps) in &r.values {
        for p in ps {
            if p.trim().is_empty() {
                ev.push("an empty authorization plugin name is no plugin".to_string());
            } else if !plugins.contains(p) {
                plugins.push(p.clone());
            }
        }
    }
    if let Some(api) = ctx.api.authorization_plugins() {
        ev.push(format!("/info: Plugins.Authorization={api:?}"));
        for p in api {
            if !plugins.contains(&p) {
                plugins.push(p);
            }
        }
    }
    for n in &ctx.eff.notes {
        ev.push(format!("note: {n}"));
    }
    for p in &r.problems {
        ev.push(format!("problem: {p}"));
    }
    let why = if plugins.is_empty() {
        "no authorization plugin is configured: every client that reaches the socket may run every command; \
         decide whether that is acceptable"
            .to_string()
    } else {
        format!(
            "authorization plugins configured: {}; review their policy",
            plugins.join(", ")
        )
    };
    Outcome::manual(why, ev)
}

/// Log drivers that ship logs off the host.
const REMOTE_LOG_DRIVERS: &[&str] = &[
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
];

/// The `local` driver's rotation when its options are not given.
const LOCAL_MAX_SIZE: &str = "20m";
const LOCAL_MAX_FILE: u32 = 5;

fn push_once(ev: &mut Vec<String>, line: String) {
    if !ev.contains(&line) {
        ev.push(line);
    }
}

/// The rotation a json-file or local driver applies with these log-opts:
/// (max-size, max-file, what was assumed), or why it does not rotate.
fn log_rotation(
    label: &str,
    driver: &str,
    o: &BTreeMap<String, String>,
) -> Result<(ByteSize, u32, &'static str), String> {
    let local = driver == "local";
    let size = match o.get("max-size") {
        Some(s) => ByteSize::parse(s).map_err(|e| format!("log-opts max-size: {e}"))?,
        None if local => ByteSize::parse(LOCAL_MAX_SIZE).expect("valid default"),
        None => {
            return Err(format!(
                "json-file without max-size for {label}: logs grow without bound"
            ))
        }
    };
    match o.get("max-file") {
        Some(f) => Ok((
            size,
            parse_max_file(f).map_err(|e| format!("log-opts {e}"))?,
            "",
        )),
        None if local => Ok((size, LOCAL_MAX_FILE, " (max-file absent: local's default)")),
        // dockerd's json-file keeps a single file when max-file is absent.
        None => Ok((size, 1, " (max-file absent: json-file keeps one file)")),
    }
}

/// Judges what one driver keeps on disk per container, against the
/// policy's total (`log_max_size` × `log_max_file`): more, smaller files
/// (or fewer, larger ones) within that total are as good as the policy's.
fn judge_log_driver(
    label: &str,
    driver: &str,
    opt_views: &[&BTreeMap<String, String>],
    policy: &Policy,
    ev: &mut Vec<String>,
    failures: &mut Vec<String>,
) {
    let limit = policy_log_total(policy);
    match driver {
        "none" => failures.push(format!("log driver none for {label}: no logs are kept")),
        "json-file" | "local" => {
            for o in opt_views {
                // local rotates by itself; only options the user set can loosen it.
                if driver == "local" && !o.contains_key("max-size") && !o.contains_key("max-file") {
                    let d = ByteSize::parse(LOCAL_MAX_SIZE).expect("valid default");
                    let total = log_total(&d, LOCAL_MAX_FILE);
                    push_once(ev, format!(
                        "local for {label}: default rotation {LOCAL_MAX_SIZE} x {LOCAL_MAX_FILE} = {} per container",
                        show_bytes(total)
                    ));
                    if total > limit {
                        push_once(ev, format!(
                            "note: local's defaults keep more than the policy's {}; set max-size/max-file to bound it",
                            show_bytes(limit)
                        ));
                    }
                    continue;
                }
                let (size, file, assumed) = match log_rotation(label, driver, o) {
                    Ok(r) => r,
                    Err(e) => {
                        failures.push(e);
                        continue;
                    }
                };
                let total = log_total(&size, file);
                push_once(ev, format!(
                    "{driver} for {label}: max-size {size} x max-file {file}{assumed} = {} ({total} bytes) per container; the policy allows {} ({limit} bytes)",
                    show_bytes(total),
                    show_bytes(limit)
                ));
                if total > limit {
                    failures.push(format!(
                        "{driver} for {label} keeps up to {} per container ({size} x {file}), above the policy's {} ({} x {})",
                        show_bytes(total),
                        show_bytes(limit),
                        policy.log_max_size,
                        policy.log_max_file
                    ));
                }
            }
        }
        d if REMOTE_LOG_DRIVERS.contains(&d) => {}
        // Plugin drivers ship logs off the host.
        _ => {}
    }
}

pub(super) fn log_config(ctx: &Ctx) -> Outcome {
    let driver = ctx.eff.string(&LOG_DRIVER);
    let opts = ctx.eff.map(&LOG_OPTS);
    let mut ev = driver.evidence.clone();
    ev.extend(opts.evidence.iter().cloned());
    let mut problems = driver.problems.clone();
    problems.extend(opts.problems.iter().cloned());
    let p = ctx.policy;
    ev.push(format!(
        "policy: a container may keep max-size x max-file <= {} x {} = {} on disk",
        p.log_max_size,
        p.log_max_file,
        show_bytes(policy_log_total(p))
    ));
    let mut failures = Vec::new();
    let opt_views: Vec<&BTreeMap<String, String>> = opts.values.iter().map(|(_, m)| m).collect();
    for (label, d) in &driver.values {
        let d = d.as_deref().unwrap_or("json-file");
        judge_log_driver(label, d, &opt_views, p, &mut ev, &mut failures);
    }
    if let Some(d) = ctx.api.info_str("LoggingDriver") {
        ev.push(format!("/info: LoggingDriver={d}"));
        if !driver
            .values
            .iter()
            .any(|(_, c)| c.as_deref().unwrap_or("json-file") == d)
        {
            judge_log_driver(
                "the running daemon",
                d,
                &opt_views,
                p,
                &mut ev,
                &mut failures,
            );
        }
    }
    failures.dedup();
    if failures.is_empty() && problems.is_empty() {
        ev.push("logging is remote or bounded".to_string());
    }
    decide(ctx, ev, &problems, failures)
}

/// How a seccomp profile setting behaves: Ok(()) when syscalls are
/// filtered, Err(reason) when not, None when the file was not captured.
fn seccomp_effect(ctx: &Ctx, profile: &str, ev: &mut Vec<String>) -> Option<Result<(), String>> {
    match profile {
        "" | "builtin" | "default" => Some(Ok(())),
        "unconfined" => Some(Err(
            "seccomp profile unconfined: no syscall filtering".to_string()
        )),
        path => {
            let text = ctx.facts.content(path)?;
            let action = serde_json::from_str::<Value>(text).ok().and_then(|v| {
                v.get("defaultAction")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            ev.push(format!(
                "{path}: defaultAction={}",
                action.as_deref().unwrap_or("(unreadable)")
            ));
            Some(match action.as_deref() {
                Some("SCMP_ACT_ALLOW") => Err(format!(
                    "{path} allows every syscall by default (defaultAction SCMP_ACT_ALLOW)"
                )),
                Some(_) => Ok(()),
                None => Err(format!("{path} is not a seccomp profile dockerd can load")),
            })
        }
    }
}

pub(super) fn seccomp_profile(ctx: &Ctx) -> Outcome {
    let r = ctx.eff.string(&SECCOMP_PROFILE);
    let mut ev = r.evidence.clone();
    let mut failures = Vec::new();
    let mut unknown = Vec::new();
    for (label, p) in &r.values {
        let p = p.as_deref().unwrap_or("builtin");
        match seccomp_effect(ctx, p, &mut ev) {
            Some(Ok(())) => {}
            Some(Err(e)) => failures.push(format!("{e} ({label})")),
            None => unknown.push(p.to_string()),
        }
    }
    match ctx.api.seccomp_profile() {
        Some(Some(p)) => {
            ev.push(format!("/info: SecurityOptions name=seccomp,profile={p}"));
            match seccomp_effect(ctx, &p, &mut ev) {
                Some(Err(e)) => failures.push(format!("the running daemon: {e}")),
                Some(Ok(())) => {}
                None => unknown.push(p),
            }
        }
        Some(None) => {
            ev.push("/info: SecurityOptions lists no seccomp".to_string());
            failures.push(
                "the running daemon applies no seccomp profile (kernel or build without seccomp)"
                    .to_string(),
            );
        }
        None => {}
    }
    if failures.is_empty() && r.problems.is_empty() && !unknown.is_empty() {
        for n in &ctx.eff.notes {
            ev.push(format!("note: {n}"));
        }
        return Outcome::manual(
            format!("the profile file(s) {unknown:?} were not captured"),
            ev,
        );
    }
    if failures.is_empty() && r.problems.is_empty() {
        ev.push("a seccomp profile that filters syscalls is in force".to_string());
    }
    decide(ctx, ev, &r.problems, failures)
}

pub(super) fn legacy_registry(ctx: &Ctx) -> Outcome {
    let removed_in = EngineVersion::new(17, 12, 0);
    let r = ctx.eff.bool(&DISABLE_LEGACY_REGISTRY, false);
    let mut ev = Vec::new();
    let Some((engine, line)) = ctx.engine_version() else {
        ev.extend(r.evidence.iter().cloned());
        return Outcome::manual(
            "the engine version is unknown: the option exists only before 17.12",
            ev,
        );
    };
    ev.push(line);
    if engine >= removed_in {
        let set = ctx
            .eff
            .primary()
            .is_some_and(|c| c.flags.is_set(DISABLE_LEGACY_REGISTRY.flag))
            || ctx.eff.json.get(DISABLE_LEGACY_REGISTRY.json).is_some();
        if set && engine >= EngineVersion::new(19, 3, 0) {
            ev.extend(r.evidence.iter().cloned());
            ev.push(
                "note: disable-legacy-registry is set, and dockerd 19.03+ no longer accepts it"
                    .to_string(),
            );
        }
        return Outcome::na(
            format!("Docker {engine} has no v1 registry support: --disable-legacy-registry was removed in 17.12"),
            ev,
        );
    }
    ev.extend(r.evidence.iter().cloned());
    let mut failures = Vec::new();
    for (label, v) in &r.values {
        if !*v {
            failures.push(format!(
                "disable-legacy-registry is not set for {label} on Docker {engine} (< 17.12)"
            ));
        }
    }
    if failures.is_empty() && r.problems.is_empty() {
        ev.push("v1 registry operations are disabled".to_string());
    }
    decide(ctx, ev, &r.problems, failures)
}

/// CIS 2.1: dockerd runs as a non-root user (rootless) where possible.
/// Rootless dockerd lists `name=rootless` in `/info` SecurityOptions (Engine
/// 20.10 and later) and runs under rootlesskit as its user.
pub(super) fn rootless(ctx: &Ctx) -> Outcome {
    let mut ev = Vec::new();
    let f = ctx.facts;
    if let Some(pid) = f.dockerd.pid {
        ev.push(format!(
            "dockerd pid {pid}{}",
            f.dockerd
                .exe
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ));
    }
    if let Some(u) = f.service.properties.get("User").filter(|u| !u.is_empty()) {
        ev.push(format!("docker.service User={u}"));
    }
    match ctx.api.has_security_option("rootless") {
        Some(true) => {
            ev.push(format!(
                "/info on {}: SecurityOptions name=rootless (dockerd runs in rootlesskit's user namespace, as its user)",
                f.docker_socket()
            ));
            Outcome::pass(ev)
        }
        Some(false) => {
            let opts = ctx.api.security_options().unwrap_or_default().join(", ");
            ev.push(format!(
                "/info SecurityOptions: [{opts}]: no name=rootless, so the daemon runs as root"
            ));
            if ctx.policy.rootless_required {
                ev.push("fail: the policy requires a rootless daemon (rootless_required)".into());
                Outcome::fail(ev)
            } else {
                Outcome::manual(
                    "the daemon runs as root; whether rootless mode is possible depends on the workloads (privileged containers, ports below 1024): set rootless_required in the policy to make this a failure",
                    ev,
                )
            }
        }
        None => Outcome::manual(
            "the daemon did not answer /info, so whether it runs rootless is unknown",
            ev,
        ),
    }
}

/// CIS 1.8.0 2.7: the devicemapper storage driver is not used. Engine 25
/// removed the driver, so there it cannot be.
pub(super) fn no_devicemapper(ctx: &Ctx) -> Outcome {
    let r = ctx.eff.string(&STORAGE_DRIVER);
    let mut ev = r.evidence.clone();
    if let Some((v, cited)) = ctx.engine_version() {
        if v.major >= 25 {
            ev.push(cited);
            return Outcome::na(
                "Docker 25 and later have no devicemapper storage driver",
                ev,
            );
        }
    }
    let mut failures = Vec::new();
    if let Some(d) = ctx.api.info_str("Driver") {
        ev.push(format!("/info: Driver={d}"));
        if d == "devicemapper" {
            failures.push("the running daemon uses the devicemapper storage driver".to_string());
        }
    }
    for (label, d) in &r.values {
        if d.as_deref() == Some("devicemapper") {
            failures.push(format!("storage-driver is devicemapper for {label}"));
        }
    }
    if failures.is_empty() && r.problems.is_empty() {
        ev.push("the storage driver is not devicemapper".to_string());
    }
    decide(ctx, ev, &r.problems, failures)
}
