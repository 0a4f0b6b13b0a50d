//! auditd watches on Docker's files (CIS 1.1.3–1.1.18), at the paths this
//! host really uses. A rule must be loaded (`auditctl -l`) and persisted
//! (a file under /etc/audit) to pass: one without the other is either not
//! in force or lost at the next boot.

use super::{Ctx, Outcome};
use crate::auditrules::{parse_rules, rules_for, WatchRule};
use crate::facts::StatLookup;
use crate::mode::StatEntry;

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

/// One file on the host, under all the names the candidates give it.
struct Found<'a> {
    /// Names whose last component is not a symlink: a watch on one of them
    /// sees the file.
    real: Vec<&'a str>,
    /// Symlinks to it: a watch on a symlink does not see the file.
    links: Vec<&'a str>,
}

/// Which candidates exist, merged into files: the aliases of a target, and
/// paths that stat shows to be the same file (`/usr/bin/runc` → `../sbin/runc`).
fn existing<'a>(
    ctx: &'a Ctx,
    targets: &'a [Target],
    ev: &mut Vec<String>,
) -> (Vec<Found<'a>>, bool) {
    let f = ctx.facts;
    let mut groups: Vec<(Vec<&'a StatEntry>, Option<&'a str>)> = Vec::new();
    let mut unknown = false;
    for t in targets {
        let stats: Vec<&StatEntry> = t
            .aliases
            .iter()
            .filter_map(|a| match f.stat(a) {
                StatLookup::Found(st) => Some(st),
                StatLookup::Unknown => {
                    unknown = true;
                    None
                }
                StatLookup::Missing => None,
            })
            .collect();
        let Some(first) = stats.first() else { continue };
        let id = first.file_id.as_deref();
        match groups
            .iter_mut()
            .find(|(_, gid)| id.is_some() && *gid == id)
        {
            Some((g, _)) => g.extend(stats),
            None => groups.push((stats, id)),
        }
    }
    let found = groups
        .into_iter()
        .map(|(stats, _)| {
            for st in &stats {
                let link = if st.symlink { " (symlink)" } else { "" };
                ev.push(format!("stat {}{link}", st.describe()));
            }
            let (links, real): (Vec<&StatEntry>, Vec<&StatEntry>) =
                stats.into_iter().partition(|s| s.symlink);
            Found {
                real: real.iter().map(|s| s.path.as_str()).collect(),
                links: links.iter().map(|s| s.path.as_str()).collect(),
            }
        })
        .collect();
    (found, unknown)
}

fn check(ctx: &Ctx, what: &str, targets: &[Target]) -> Outcome {
    let f = ctx.facts;
    let mut ev = Vec::new();
    let (existing, unknown) = existing(ctx, targets, &mut ev);
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
    for file in &existing {
        // With only symlinks known, their target is elsewhere: accept them.
        let names: Vec<&str> = if file.real.is_empty() {
            file.links.clone()
        } else {
            file.real.clone()
        };
        let shown = names[0];
        let live = rules_for(loaded, &names);
        for r in &live {
            ev.push(format!("auditctl -l: {}", r.line));
        }
        if live.is_empty() {
            failures.push(format!("auditctl -l has no rule for {shown}"));
            for r in rules_for(loaded, &file.links) {
                ev.push(format!(
                    "note: the rule on the symlink {} does not see {shown}: {}",
                    r.path, r.line
                ));
            }
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
        for (file_path, rules) in &persisted {
            for r in rules_for(rules, &names) {
                ev.push(format!("{file_path}: {}", r.line));
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
