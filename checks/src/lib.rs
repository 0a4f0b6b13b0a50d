//! shipshape-checks: the Docker host baseline as code.
//!
//! - [`PROBE_SH`] runs on the target (POSIX sh, read-only) and prints one
//!   JSON document;
//! - [`parse_facts`] turns that into typed [`Facts`];
//! - [`audit`] decides one [`Finding`] per control of the [`catalogue`],
//!   against a [`Policy`].

pub mod accounts;
pub mod api;
pub mod auditrules;
pub mod benchmark;
pub mod catalogue;
mod controls;
pub mod daemon_json;
pub mod docker_info_text;
pub mod effective;
pub mod facts;
pub mod flags;
pub mod limits;
pub mod mode;
pub mod mounts;
pub mod packages;
pub mod pasted;
pub mod policy;
pub mod systemd;
pub mod verdict;
pub mod version;

pub use benchmark::Benchmark;
pub use catalogue::{catalogue, find_control, ControlMeta, Severity};
pub use facts::{parse_facts, Facts, FactsError};
pub use limits::{bounded_log_opts, tighter_ulimit};
pub use policy::{Policy, PolicyError};
pub use verdict::{Finding, Verdict};

/// The probe: POSIX sh, run as root on the target, prints one JSON document.
pub const PROBE_SH: &str = include_str!("probe.sh");

pub use controls::perms::PermTarget;
pub use controls::Fix;

/// How control `id` is fixed; `None` for an unknown id.
pub fn fix_of(id: &str) -> Option<Fix> {
    controls::def(id).map(|d| d.fix)
}

/// What section 3 control `id` wants of each path it judges on this host
/// (owner, group, the mode mask): what its fix sets.
pub fn perm_targets(id: &str, facts: &Facts, policy: &Policy) -> Vec<PermTarget> {
    let ctx = controls::Ctx::new(facts, policy);
    controls::perms::targets(id, &ctx)
}

/// Docker's data root on this host, as the controls judge it: the daemon's
/// `DockerRootDir`, else the configured `data-root`, else the default; and
/// the folder that must be a mount (its parent under userns-remap).
pub fn data_root(facts: &Facts, policy: &Policy) -> (String, String) {
    let ctx = controls::Ctx::new(facts, policy);
    let d = ctx.data_root();
    (d.root, d.base)
}

/// Audits every control of the catalogue, in catalogue order.
pub fn audit(facts: &Facts, policy: &Policy) -> Vec<Finding> {
    let ctx = controls::Ctx::new(facts, policy);
    catalogue()
        .iter()
        .map(|c| {
            let out = controls::run(c.id, &ctx).unwrap_or_else(|| controls::Outcome {
                verdict: Verdict::Manual {
                    why: "no verdict logic for this control".to_string(),
                },
                evidence: Vec::new(),
            });
            Finding {
                id: c.id,
                verdict: out.verdict,
                evidence: out.evidence,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_and_the_catalogue_hold_the_same_controls_in_order() {
        let registry: Vec<&str> = controls::CONTROLS.iter().map(|d| d.id).collect();
        let catalogue: Vec<&str> = catalogue().iter().map(|c| c.id).collect();
        assert_eq!(registry, catalogue);
    }

    #[test]
    fn every_control_has_verdict_logic() {
        let facts = Facts::default();
        let policy = Policy::default();
        let ctx = controls::Ctx::new(&facts, &policy);
        for c in catalogue() {
            assert!(
                controls::run(c.id, &ctx).is_some(),
                "{} has no verdict function",
                c.id
            );
        }
    }

    #[test]
    fn empty_facts_never_pass_silently() {
        // With nothing known, a control may be manual, not-applicable or
        // fail, but every verdict must say something.
        let findings = audit(&Facts::default(), &Policy::default());
        assert_eq!(findings.len(), catalogue().len());
        for f in &findings {
            if let Verdict::Manual { why } | Verdict::NotApplicable { why } = &f.verdict {
                assert!(!why.is_empty(), "{}", f.id);
            }
        }
    }
}
