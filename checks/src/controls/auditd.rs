//! auditd watches on Docker's files (CIS 1.1.3–1.1.18), at the paths this
//! host really uses. A rule must be loaded (`auditctl -l`) and persisted
//! (a file under /etc/audit) to pass: one without the other is either not
//! in force or lost at the next boot.

use super::{Ctx, Outcome};
use crate::auditrules::{parse_rules, rules_for, WatchRule};
use crate::facts::StatLookup;

const BIN_DIRS: &[&str] = &["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"];

/// A file to watch, with the other names of the same file (a unit's
/// symlink-resolved path) under which a rule also counts.
struct Target {
    aliases: Vec<String>,
}

fn binaries(name: &str) -> Vec<Target> {
    BIN_DIRS
        .iter()
        .map(|d| Target {
            aliases: vec![format!("{d}/{name}")],
        })
        .collect()
}

fn one(path: &str) -> Vec<Target> {
    vec![Target {
        aliases: vec![path.to_string()],
    }]
}

fn unit(path: Option<&String>, real: Option<&String>) -> Vec<Target> {
    let mut aliases: Vec<String> = path.iter().map(|p| p.to_string()).collect();
    if let Some(r) = real {
        if !aliases.contains(r) {
            aliases.push(r.clone());
        }
    }
    if aliases.is_empty() {
        Vec::new()
    } else {
        vec![Target { aliases }]
    }
}

pub(super) fn audit_rule(id: &str, ctx: &Ctx) -> Option<Outcome> {
    let f = ctx.facts;
    let (what, mut targets) = match id {
        "audit-dockerd" => ("dockerd", binaries("dockerd")),
        "audit-run-containerd" => ("/run/containerd", one("/run/containerd")),
        "audit-var-lib-docker" => {
            let base = ctx.data_root().base;
            ("Docker's root directory", one(&base))
        }
        "audit-etc-docker" => ("/etc/docker", one("/etc/docker")),
        "audit-docker-service" => (
            "docker.service",
            unit(
                f.service.fragment_path.as_ref(),
                f.service.fragment_real.as_ref(),
            ),
        ),
        "audit-containerd-sock" => ("containerd.sock", one("/run/containerd/containerd.sock")),
        "audit-docker-socket" => (
            "docker.socket",
            unit(
                f.socket.fragment_path.as_ref(),
                f.socket.fragment_real.as_ref(),
            ),
        ),
        "audit-etc-default-docker" => ("/etc/default/docker", one("/etc/default/docker")),
        "audit-daemon-json" => ("daemon.json", one(&f.daemon_json_path)),
        "audit-containerd-config" => (
            "/etc/containerd/config.toml",
            one("/etc/containerd/config.toml"),
        ),
        "audit-etc-sysconfig-docker" => ("/etc/sysconfig/docker", one("/etc/sysconfig/docker")),
        "audit-containerd" => ("containerd", binaries("containerd")),
        "audit-containerd-shim" => ("containerd-shim", binaries("containerd-shim")),
        "audit-containerd-shim-runc-v1" => (
            "containerd-shim-runc-v1",
            binaries("containerd-shim-runc-v1"),
        ),
        "audit-containerd-shim-runc-v2" => (
            "containerd-shim-runc-v2",
            binaries("containerd-shim-runc-v2"),
        ),
        "audit-runc" => ("runc", binaries("runc")),
        _ => return None,
    };
    // The binary dockerd actually runs from counts even outside the usual
    // directories.
    if id == "audit-dockerd" {
        if let Some(exe) = &f.dockerd.exe {
            if !targets.iter().any(|t| t.aliases.contains(exe)) {
                targets.push(Target {
                    aliases: vec![exe.clone()],
                });
            }
        }
    }
    Some(check(ctx, what, &targets))
}

fn check(ctx: &Ctx, what: &str, targets: &[Target]) -> Outcome {
    let f = ctx.facts;
    let mut ev = Vec::new();
    let mut existing: Vec<&Target> = Vec::new();
    let mut unknown = false;
    for t in targets {
        let found = t.aliases.iter().find_map(|a| match f.stat(a) {
            StatLookup::Found(st) => Some(st),
            _ => None,
        });
        if let Some(st) = found {
            ev.push(format!("stat {}", st.describe()));
            existing.push(t);
        } else if t.aliases.iter().any(|a| f.stat(a) == StatLookup::Unknown) {
            unknown = true;
        }
    }
    let looked: Vec<&str> = targets
        .iter()
        .flat_map(|t| t.aliases.iter().map(String::as_str))
        .collect();
    if existing.is_empty() {
        if unknown || targets.is_empty() {
            return Outcome::manual(
                format!("whether {what} exists on this host was not captured"),
                ev,
            );
        }
        return Outcome::na(
            format!("no {what} on this host (looked at {})", looked.join(", ")),
            ev,
        );
    }

    let persisted: Vec<(&str, Vec<WatchRule>)> = f
        .files
        .iter()
        .filter(|x| x.path.starts_with("/etc/audit/"))
        .filter_map(|x| {
            x.content
                .as_deref()
                .map(|c| (x.path.as_str(), parse_rules(c)))
        })
        .collect();
    if !f.audit.auditctl_available {
        ev.push("fail: auditd is not installed (no auditctl)".to_string());
        return Outcome::fail(ev);
    }
    let Some(loaded) = &f.audit.loaded else {
        return Outcome::manual(
            format!(
                "auditctl -l gave no answer: {}",
                f.audit.error.as_deref().unwrap_or("not captured")
            ),
            ev,
        );
    };
    let mut failures = Vec::new();
    for t in existing {
        let names: Vec<&str> = t.aliases.iter().map(String::as_str).collect();
        let shown = names[0];
        let live = rules_for(loaded, &names);
        for r in &live {
            ev.push(format!("auditctl -l: {}", r.line));
        }
        if live.is_empty() {
            failures.push(format!("auditctl -l has no rule for {shown}"));
            if let Some(r) = loaded
                .iter()
                .find(|r| names.iter().any(|n| n.starts_with(&format!("{}/", r.path))))
            {
                ev.push(format!(
                    "note: the watch on {} covers {shown}, but an explicit rule is what CIS asks for",
                    r.path
                ));
            }
        }
        let mut saved = false;
        for (file, rules) in &persisted {
            for r in rules_for(rules, &names) {
                ev.push(format!("{file}: {}", r.line));
                saved = true;
            }
        }
        if !saved {
            failures.push(format!(
                "no rules file under /etc/audit watches {shown}: a loaded rule would not survive a reboot"
            ));
        }
    }
    if failures.is_empty() {
        ev.push(format!("{what} is watched, now and after a reboot"));
        Outcome::pass(ev)
    } else {
        ev.extend(failures.into_iter().map(|x| format!("fail: {x}")));
        Outcome::fail(ev)
    }
}
