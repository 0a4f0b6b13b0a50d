//! Owners and modes of Docker's files (CIS section 3). Modes are compared
//! as bit masks: "0644 or more restrictive" is `mode & !0o644 == 0`.
//!
//! Deviation from CIS: the server key may be 0600 (CIS: 0400). For a
//! root-owned file the owner bits restrict nobody (root bypasses them), so
//! both mean "no access for anyone else", and 0600 is what the TLS fix writes.

use super::{Ctx, Outcome};
use crate::effective::{Opt, GROUP, HOSTS, TLS, TLSCACERT, TLSCERT, TLSKEY, TLSVERIFY};
use crate::facts::StatLookup;

struct Expect<'a> {
    owner: &'a str,
    group: std::borrow::Cow<'a, str>,
    mask: u32,
}

/// A path a section 3 control wants owned by `owner:group` with no mode
/// bits beyond `mask`: what its fix sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermTarget {
    pub path: String,
    pub owner: String,
    pub group: String,
    pub mask: u32,
}

/// The paths control `id` judges and what it wants of each; empty for a
/// control that is not applicable here.
pub(crate) fn targets(id: &str, ctx: &Ctx) -> Vec<PermTarget> {
    match selection(id, ctx) {
        Some(Ok((_, paths, e))) => paths
            .into_iter()
            .map(|path| PermTarget {
                path,
                owner: e.owner.to_string(),
                group: e.group.to_string(),
                mask: e.mask,
            })
            .collect(),
        _ => Vec::new(),
    }
}

pub(super) fn permissions(id: &str, ctx: &Ctx) -> Option<Outcome> {
    Some(match selection(id, ctx)? {
        Ok((what, paths, expect)) => check(ctx, &what, &paths, &expect),
        Err(outcome) => outcome,
    })
}

type Selection = Result<(String, Vec<String>, Expect<'static>), Outcome>;

/// What control `id` looks at, or its verdict when there is nothing to look at.
fn selection(id: &str, ctx: &Ctx) -> Option<Selection> {
    let f = ctx.facts;
    let root = |mask| Expect {
        owner: "root",
        group: "root".into(),
        mask,
    };
    let unit_files = |u: &crate::facts::UnitFacts| -> Vec<String> {
        u.fragment_path
            .iter()
            .chain(u.drop_in_paths.iter())
            .cloned()
            .collect()
    };
    let (what, paths, expect) = match id {
        "perm-docker-service" => (
            "docker.service unit files",
            unit_files(&f.service),
            root(0o644),
        ),
        "perm-docker-socket-unit" => (
            "docker.socket unit files",
            unit_files(&f.socket),
            root(0o644),
        ),
        "perm-etc-docker" => ("/etc/docker", vec!["/etc/docker".to_string()], root(0o755)),
        "perm-registry-certs" => {
            let certs: Vec<String> = f
                .stat
                .entries
                .iter()
                .filter(|e| {
                    e.path.starts_with("/etc/docker/certs.d/") && e.kind.contains("regular")
                })
                .map(|e| e.path.clone())
                .collect();
            if certs.is_empty() {
                return Some(Err(Outcome::na(
                    "no registry certificates under /etc/docker/certs.d",
                    Vec::new(),
                )));
            }
            ("registry certificates", certs, root(0o444))
        }
        "perm-tls-ca" => {
            return Some(tls_selection(
                ctx,
                "TLS CA certificate",
                &TLSCACERT,
                &ctx.policy.tls_ca_cert,
                "/root/.docker/ca.pem",
                0o444,
            ))
        }
        "perm-tls-cert" => {
            return Some(tls_selection(
                ctx,
                "server certificate",
                &TLSCERT,
                &ctx.policy.tls_server_cert,
                "/root/.docker/cert.pem",
                0o444,
            ))
        }
        "perm-tls-key" => {
            return Some(tls_selection(
                ctx,
                "server key",
                &TLSKEY,
                &ctx.policy.tls_server_key,
                "/root/.docker/key.pem",
                0o600,
            ))
        }
        "perm-docker-sock" => {
            let sock_group = ctx
                .eff
                .string(&GROUP)
                .values
                .first()
                .and_then(|(_, v)| v.clone())
                .unwrap_or_else(|| "docker".to_string());
            let mut socks = vec!["/var/run/docker.sock".to_string()];
            for (_, hosts) in &ctx.eff.list(&HOSTS).values {
                for h in hosts {
                    if let Some(p) = h.strip_prefix("unix://") {
                        // unix://var/run/x.sock (two slashes, as in the seed) is relative to /.
                        let p = if p.starts_with('/') {
                            p.to_string()
                        } else {
                            format!("/{p}")
                        };
                        if !socks.contains(&p) && p != "/run/docker.sock" {
                            socks.push(p);
                        }
                    }
                }
            }
            (
                "Docker socket",
                socks,
                Expect {
                    owner: "root",
                    group: sock_group.into(),
                    mask: 0o660,
                },
            )
        }
        "perm-daemon-json" => ("daemon.json", vec![f.daemon_json_path.clone()], root(0o644)),
        "perm-etc-default-docker" => (
            "/etc/default/docker",
            vec!["/etc/default/docker".to_string()],
            root(0o644),
        ),
        "perm-etc-sysconfig-docker" => (
            "/etc/sysconfig/docker",
            vec!["/etc/sysconfig/docker".to_string()],
            root(0o644),
        ),
        "perm-containerd-sock" => (
            "containerd socket",
            vec![
                "/run/containerd/containerd.sock".to_string(),
                "/var/run/docker/containerd/containerd.sock".to_string(),
            ],
            root(0o660),
        ),
        _ => return None,
    };
    if paths.is_empty() {
        return Some(Err(Outcome::na(
            format!("no {what} on this host"),
            Vec::new(),
        )));
    }
    Some(Ok((what.to_string(), paths, expect)))
}

/// The TLS file dockerd is configured with; the default under ~/.docker
/// when TLS is on without a path; the policy's path when it exists.
fn tls_selection(
    ctx: &Ctx,
    what: &str,
    opt: &Opt,
    policy_path: &str,
    default: &str,
    mask: u32,
) -> Selection {
    let configured = ctx.eff.string(opt).values.into_iter().find_map(|(_, v)| v);
    let tls_on =
        ctx.eff.bool(&TLSVERIFY, false).any(|v| *v) || ctx.eff.bool(&TLS, false).any(|v| *v);
    let path = match configured {
        Some(p) => p,
        None if tls_on => default.to_string(),
        None if matches!(ctx.facts.stat(policy_path), StatLookup::Found(_)) => {
            policy_path.to_string()
        }
        None => {
            return Err(Outcome::na(
                format!(
                    "TLS is not configured: no {} and no {policy_path}",
                    opt.json
                ),
                vec![format!("no --{} / \"{}\"", opt.flag, opt.json)],
            ))
        }
    };
    Ok((
        what.to_string(),
        vec![path],
        Expect {
            owner: "root",
            group: "root".into(),
            mask,
        },
    ))
}

fn check(ctx: &Ctx, what: &str, paths: &[String], expect: &Expect) -> Outcome {
    let mut ev = Vec::new();
    let mut failures = Vec::new();
    let mut found = 0;
    let mut unknown = 0;
    for p in paths {
        match ctx.facts.stat(p) {
            StatLookup::Found(st) => {
                found += 1;
                ev.push(format!("stat {}", st.describe()));
                let owner_ok =
                    st.owner == expect.owner || (expect.owner == "root" && st.uid == Some(0));
                let group_ok =
                    st.group == *expect.group || (expect.group == "root" && st.gid == Some(0));
                if !owner_ok || !group_ok {
                    failures.push(format!(
                        "{p} is owned by {}:{}, expected {}:{}",
                        st.owner, st.group, expect.owner, expect.group
                    ));
                }
                let excess = st.mode.excess(expect.mask);
                if excess != 0 {
                    failures.push(format!(
                        "{p} has mode {}: bits {excess:04o} beyond {:04o}",
                        st.mode, expect.mask
                    ));
                }
            }
            StatLookup::Missing => ev.push(format!("{p}: does not exist")),
            StatLookup::Unknown => {
                unknown += 1;
                ev.push(format!("{p}: not captured"));
            }
        }
    }
    if found == 0 {
        return if unknown > 0 {
            Outcome::manual(format!("the {what} were not captured by stat"), ev)
        } else {
            Outcome::na(format!("no {what} on this host ({})", paths.join(", ")), ev)
        };
    }
    if failures.is_empty() {
        ev.push(format!(
            "{}:{} and {:04o} or more restrictive",
            expect.owner, expect.group, expect.mask
        ));
        Outcome::pass(ev)
    } else {
        ev.extend(failures.into_iter().map(|x| format!("fail: {x}")));
        Outcome::fail(ev)
    }
}
