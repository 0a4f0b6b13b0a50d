//! Host controls: root-dir mount (1.1.1), docker group (1.1.2), host
//! hardening (1.2.1), engine version (1.2.2).

use super::{Ctx, Outcome};
use crate::effective::GROUP;
use crate::facts::StatLookup;

pub(super) fn docker_root_mount(ctx: &Ctx) -> Outcome {
    let dr = ctx.data_root();
    let mut ev = dr.evidence;
    let path = dr.base;
    let mf = ctx.facts.mount_holding(&path);
    // A root dir reached through a symlink is judged where it really is.
    let real = match mf.real.as_deref() {
        Some(r) if r != path => {
            ev.push(format!("{path} resolves to {r}"));
            r.to_string()
        }
        _ => path.clone(),
    };
    let Some(m) = mf.mount else {
        ev.push(format!(
            "{} {path}: {}",
            mf.via,
            mf.error.as_deref().unwrap_or("no answer")
        ));
        return Outcome::manual(format!("the mount holding {path} was not captured"), ev);
    };
    let how = mf.via;
    ev.push(format!(
        "{how} {path}: TARGET={} SOURCE={} FSTYPE={}",
        m.target, m.source, m.fstype
    ));
    if m.target == real {
        ev.push(format!("{real} is its own mount point"));
        Outcome::pass(ev)
    } else {
        ev.push(format!(
            "fail: {path} is on the file system mounted at {} ({}), not on its own mount",
            m.target, m.source
        ));
        Outcome::fail(ev)
    }
}

pub(super) fn docker_group(ctx: &Ctx) -> Outcome {
    let mut ev = Vec::new();
    // The socket's group is whatever dockerd was told (-G) or docker; the
    // socket itself says which group really holds it.
    let mut names: Vec<String> = Vec::new();
    let configured = ctx.eff.string(&GROUP);
    for (_, v) in &configured.values {
        names.push(v.clone().unwrap_or_else(|| "docker".to_string()));
    }
    if names.is_empty() {
        names.push("docker".to_string());
    }
    if let StatLookup::Found(st) = ctx.facts.stat("/var/run/docker.sock") {
        ev.push(format!("stat {}", st.describe()));
        if st.group != "root" && !names.contains(&st.group) {
            names.push(st.group.clone());
        }
    }
    names.dedup();
    let mut bad: Vec<String> = Vec::new();
    let mut known = false;
    for name in &names {
        let Some(gf) = ctx.facts.group(name) else {
            ev.push(format!("getent group {name}: not captured"));
            continue;
        };
        known = true;
        let Some(g) = &gf.group else {
            ev.push(format!(
                "getent group {name}: {}",
                gf.error.as_deref().unwrap_or("no such group")
            ));
            continue;
        };
        ev.push(format!(
            "getent group {name}: {}:x:{}:{}",
            g.name,
            g.gid.map_or_else(String::new, |n| n.to_string()),
            g.members.join(",")
        ));
        for p in &g.primary_members {
            ev.push(format!("passwd: {p} has {name} as primary group"));
        }
        for m in g.all_members() {
            if !ctx.policy.docker_group_allowed.iter().any(|a| a == m)
                && !bad.contains(&m.to_string())
            {
                bad.push(m.to_string());
            }
        }
    }
    if !known {
        return Outcome::manual("the docker group was not captured", ev);
    }
    ev.push(format!(
        "policy docker_group_allowed: {:?}",
        ctx.policy.docker_group_allowed
    ));
    if bad.is_empty() {
        ev.push("every member is on the allow list".to_string());
        Outcome::pass(ev)
    } else {
        ev.push(format!("fail: not on the allow list: {}", bad.join(", ")));
        Outcome::fail(ev)
    }
}

pub(super) fn host_hardening(ctx: &Ctx) -> Outcome {
    let f = ctx.facts;
    let mut ev = Vec::new();
    if let Some(p) = &f.os.pretty_name {
        ev.push(format!("os-release: {p}"));
    }
    if let Some(k) = &f.kernel {
        ev.push(format!("kernel: {k}"));
    }
    if let Some(opts) = ctx.api.security_options() {
        ev.push(format!("/info: SecurityOptions={opts:?}"));
    }
    match &f.audit.loaded {
        Some(r) => ev.push(format!("auditctl -l: {} watch rules loaded", r.len())),
        None => ev.push(format!(
            "auditctl: {}",
            f.audit.error.as_deref().unwrap_or("not captured")
        )),
    }
    Outcome::manual(
        "ask which host hardening standard applies and verify the host meets it; \
         shipshape checks the Docker-specific parts (auditd rules, file permissions) separately",
        ev,
    )
}

pub(super) fn docker_version(ctx: &Ctx) -> Outcome {
    let mut ev = Vec::new();
    let engine = ctx.engine_version();
    if let Some((_, line)) = &engine {
        ev.push(line.clone());
    }
    for p in &ctx.facts.packages {
        ev.push(format!(
            "{}: {} installed {}, candidate {}",
            p.source,
            p.name,
            p.installed.as_deref().unwrap_or("(none)"),
            p.candidate.as_deref().unwrap_or("(none)")
        ));
    }
    let min = ctx.policy.min_engine_version;
    ev.push(format!("policy min_engine_version: {min}"));
    let Some((engine, _)) = engine else {
        return Outcome::manual(
            "the engine version is unknown (no daemon answer, no package)",
            ev,
        );
    };
    let mut failures = Vec::new();
    if engine < min {
        failures.push(format!(
            "engine {engine} is older than the policy minimum {min}"
        ));
    }
    let installed: Vec<_> = ctx
        .facts
        .packages
        .iter()
        .filter(|p| p.installed.is_some())
        .collect();
    for p in &installed {
        if let Some(c) = p.newer_candidate() {
            failures.push(format!(
                "the package source offers {} {c}, newer than the installed {}",
                p.name,
                p.installed.as_deref().unwrap_or("")
            ));
        }
    }
    if !failures.is_empty() {
        if !ctx.policy.allow_docker_upgrade {
            ev.push("policy allow_docker_upgrade=false: the fix will not upgrade; check compatibility (e.g. kubeadm) and upgrade by hand or allow it".to_string());
        }
        ev.extend(failures.into_iter().map(|f| format!("fail: {f}")));
        return Outcome::fail(ev);
    }
    if installed.is_empty() || installed.iter().all(|p| p.candidate.is_none()) {
        return Outcome::manual(
            format!("engine {engine} meets the minimum {min}, but no package source tells whether a newer build exists"),
            ev,
        );
    }
    ev.push(format!(
        "engine {engine} meets the minimum and is the newest the package source offers"
    ));
    Outcome::pass(ev)
}
