//! The control catalogue: metadata per control, kept as data in
//! `catalogue.json` (titles, rationale and remediation are prose, easier to
//! review there than in Rust string literals).
//!
//! The public type holds `&'static str`, so the parsed strings are leaked
//! once, on first use: the catalogue lives for the whole program anyway.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::benchmark::Benchmark;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlMeta {
    /// Stable kebab-case id.
    pub id: &'static str,
    /// The CIS item(s) per benchmark version, e.g. `2.14` or `3.1, 3.2`;
    /// `None`: the control is not an item of that version.
    pub cis: BTreeMap<Benchmark, Option<&'static str>>,
    /// The public sources behind each version's id (the abbreviations are
    /// resolved in `benchmarks.md`), or why there is none.
    pub cis_sources: BTreeMap<Benchmark, &'static str>,
    /// The seed's (Chinese) section title, verbatim; "" beyond the seed.
    pub seed_section: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub rationale: &'static str,
    pub remediation: &'static str,
    pub in_seed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    id: String,
    cis: BTreeMap<Benchmark, Option<String>>,
    cis_sources: BTreeMap<Benchmark, String>,
    seed_section: String,
    title: String,
    severity: Severity,
    rationale: String,
    remediation: String,
    in_seed: bool,
}

const DATA: &str = include_str!("catalogue.json");

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn load() -> Vec<ControlMeta> {
    let raw: Vec<RawMeta> = serde_json::from_str(DATA).expect("catalogue.json is valid (tested)");
    raw.into_iter()
        .map(|r| ControlMeta {
            id: leak(r.id),
            cis: r.cis.into_iter().map(|(b, v)| (b, v.map(leak))).collect(),
            cis_sources: r
                .cis_sources
                .into_iter()
                .map(|(b, v)| (b, leak(v)))
                .collect(),
            seed_section: leak(r.seed_section),
            title: leak(r.title),
            severity: r.severity,
            rationale: leak(r.rationale),
            remediation: leak(r.remediation),
            in_seed: r.in_seed,
        })
        .collect()
}

impl ControlMeta {
    /// The control's CIS id in `benchmark`, if it is an item there.
    pub fn cis_id(&self, benchmark: Benchmark) -> Option<&'static str> {
        self.cis.get(&benchmark).copied().flatten()
    }

    /// The id as reports print it: `-` where the version has no such item.
    pub fn cis_label(&self, benchmark: Benchmark) -> &'static str {
        self.cis_id(benchmark).unwrap_or("-")
    }
}

/// Every control, in report order (CIS order).
pub fn catalogue() -> &'static [ControlMeta] {
    static CATALOGUE: OnceLock<Vec<ControlMeta>> = OnceLock::new();
    CATALOGUE.get_or_init(load)
}

pub fn find_control(id: &str) -> Option<&'static ControlMeta> {
    catalogue().iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 19 controls of the seed, with the ids the harness uses.
    const SEED_IDS: &[(&str, &str)] = &[
        ("docker-root-mount", "1.1.1"),
        ("host-hardening", "1.2.1"),
        ("docker-version", "1.2.2"),
        ("docker-group", "1.1.2"),
        ("insecure-registries", "2.5"),
        ("no-aufs", "2.6"),
        ("tls-auth", "2.7"),
        ("default-ulimits", "2.8"),
        ("userns-remap", "2.9"),
        ("cgroup-parent", "2.10"),
        ("dm-basesize", "2.11"),
        ("authz-plugin", "2.12"),
        ("log-config", "2.13"),
        ("live-restore", "2.15"),
        ("userland-proxy", "2.16"),
        ("seccomp-profile", "2.17"),
        ("no-experimental", "2.18"),
        ("no-new-privileges", "2.14"),
    ];

    #[test]
    fn seed_controls_have_their_ids_and_titles() {
        for (id, cis) in SEED_IDS {
            let c = find_control(id).unwrap_or_else(|| panic!("{id} missing"));
            assert_eq!(c.cis_id(Benchmark::Cis160), Some(*cis), "{id}");
            assert!(c.in_seed && !c.seed_section.is_empty(), "{id}");
        }
        // legacy-registry is the seed's too, but no CIS version since 1.2.0
        // has the item.
        let legacy = find_control("legacy-registry").unwrap();
        assert!(legacy.in_seed && legacy.cis_id(Benchmark::Cis160).is_none());
        assert_eq!(
            catalogue().iter().filter(|c| c.in_seed).count(),
            SEED_IDS.len() + 1
        );
    }

    #[test]
    fn seed_titles_are_verbatim_from_the_seed() {
        // Kept in sync with the seed file by hand; these are its headings.
        assert_eq!(
            find_control("no-new-privileges").unwrap().seed_section,
            "限制容器获取新的权限"
        );
        assert_eq!(
            find_control("legacy-registry").unwrap().seed_section,
            "禁用旧仓库版本（v1）上的操作"
        );
    }

    #[test]
    fn ids_are_unique_kebab_case_and_complete() {
        let c = catalogue();
        for (i, a) in c.iter().enumerate() {
            assert!(
                a.id.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'),
                "{}",
                a.id
            );
            assert!(
                !a.title.is_empty() && !a.rationale.is_empty() && !a.remediation.is_empty(),
                "{}",
                a.id
            );
            assert!(
                c[i + 1..].iter().all(|b| b.id != a.id),
                "duplicate {}",
                a.id
            );
            assert_eq!(a.in_seed, !a.seed_section.is_empty(), "{}", a.id);
        }
        for n in 3..=18 {
            let cis = format!("1.1.{n}");
            for b in Benchmark::ALL {
                assert_eq!(
                    c.iter()
                        .filter(|x| x.cis_id(b) == Some(cis.as_str()))
                        .count(),
                    1,
                    "CIS {cis} in {b}"
                );
            }
        }
        for id in ["icc", "log-level", "iptables"] {
            assert!(find_control(id).is_some());
        }
    }

    /// Every control says, for every benchmark version, its id there or
    /// that it has none (with the sources either way); no two controls share
    /// an id within one version; each version's ids are the catalogue's.
    #[test]
    fn every_control_has_an_id_or_a_reason_in_every_version_and_ids_are_unique() {
        for b in Benchmark::ALL {
            let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
            for c in catalogue() {
                assert!(c.cis.contains_key(&b), "{}: no entry for {b}", c.id);
                let sources = c.cis_sources.get(&b).copied().unwrap_or("");
                assert!(!sources.is_empty(), "{}: no sources for {b}", c.id);
                match c.cis_id(b) {
                    Some(ids) => {
                        for id in ids.split(',').map(str::trim) {
                            assert!(
                                id.split('.').all(|p| !p.is_empty() && p.bytes().all(|x| x.is_ascii_digit())),
                                "{}: `{id}` in {b}",
                                c.id
                            );
                            if let Some(other) = seen.insert(id, c.id) {
                                panic!("{b}: {id} is both {other} and {}", c.id);
                            }
                        }
                    }
                    None => assert!(
                        sources.starts_with("none"),
                        "{}: no id in {b} and no reason",
                        c.id
                    ),
                }
            }
        }
    }

    #[test]
    fn cis_1_8_0_moved_the_daemon_items_after_devicemapper() {
        let id = |c: &str, b| find_control(c).unwrap().cis_id(b);
        assert_eq!(id("no-devicemapper", Benchmark::Cis180), Some("2.7"));
        assert_eq!(id("no-devicemapper", Benchmark::Cis160), None);
        assert_eq!(id("tls-auth", Benchmark::Cis160), Some("2.7"));
        assert_eq!(id("tls-auth", Benchmark::Cis180), Some("2.8"));
        assert_eq!(id("no-experimental", Benchmark::Cis180), Some("2.19"));
        assert_eq!(id("rootless", Benchmark::Cis160), Some("2.1"));
        assert_eq!(id("rootless", Benchmark::Cis180), Some("2.1"));
        assert_eq!(id("no-aufs", Benchmark::Cis180), Some("2.6"));
        assert_eq!(
            id("perm-etc-default-docker", Benchmark::Cis160),
            Some("3.19, 3.20")
        );
    }

    #[test]
    fn severity_serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&Severity::Critical).unwrap(),
            "\"critical\""
        );
    }
}
