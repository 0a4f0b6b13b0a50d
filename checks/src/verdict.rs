//! What an audit says about one control.

use serde::Serialize;

/// pass, fail, not-applicable (with why), manual (a person must judge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    NotApplicable { why: String },
    Manual { why: String },
}

impl Verdict {
    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass)
    }

    pub fn is_fail(&self) -> bool {
        matches!(self, Verdict::Fail)
    }
}

/// One control's verdict and the lines it was decided on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub verdict: Verdict,
    pub evidence: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_shape() {
        let f = Finding {
            id: "live-restore",
            verdict: Verdict::NotApplicable {
                why: "swarm".into(),
            },
            evidence: vec!["/info: Swarm.LocalNodeState=active".into()],
        };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"id":"live-restore","verdict":{"status":"not-applicable","why":"swarm"},"evidence":["/info: Swarm.LocalNodeState=active"]}"#
        );
        assert_eq!(
            serde_json::to_string(&Verdict::Pass).unwrap(),
            r#"{"status":"pass"}"#
        );
    }
}
