//! One audit: send the probe in a single exec, parse its facts, compute every
//! verdict locally.

use std::time::{Duration, Instant};

use shipshape_checks::{Facts, Finding, Policy};

use crate::transport::Conn;
use crate::transport::SshError;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("running the probe on {target}: {source}")]
    Transport {
        target: String,
        #[source]
        source: SshError,
    },
    #[error("the probe failed on {target} (exit {status}): {stderr}")]
    Probe {
        target: String,
        status: u32,
        stderr: String,
    },
    #[error("the probe's output from {target} is not valid: {reason}")]
    Facts { target: String, reason: String },
    /// The controls judge dockerd; Podman's compat API would pass or fail
    /// them on answers that mean something else.
    #[error(
        "not a Docker engine: the socket {socket} is served by Podman ({evidence}; on {target})"
    )]
    Podman {
        target: String,
        socket: String,
        evidence: String,
    },
}

/// The result of auditing one target.
#[derive(Debug, Clone)]
pub struct AuditRun {
    pub target: String,
    pub findings: Vec<Finding>,
    pub facts: Facts,
    pub duration: Duration,
    /// Commands sent to the target: the probe is one.
    pub round_trips: u32,
    /// The probe's JSON as the target printed it (fixtures are captured from it).
    pub probe_output: String,
}

impl AuditRun {
    pub fn failed(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| matches!(f.verdict, shipshape_checks::Verdict::Fail))
            .count()
    }

    pub fn verdict_of(&self, id: &str) -> Option<&shipshape_checks::Verdict> {
        self.findings
            .iter()
            .find(|f| f.id == id)
            .map(|f| &f.verdict)
    }
}

/// Runs the probe on `conn` (read-only) and computes the verdicts.
pub async fn run(conn: &Conn<'_>, policy: &Policy) -> Result<AuditRun, AuditError> {
    let started = Instant::now();
    let target = conn.describe();
    // The script on stdin, `sh -s`: the probe is one brace group with
    // </dev/null, so nothing it runs can read the script, and under bash it
    // reads the rest of the pipe in blocks (see the top of probe.sh).
    // `sh -c 'eval "$(cat)"'` would do the same at two more execs under
    // `timeout` (a shell to run the quoted command, then cat).
    let out = conn
        .exec(
            "sh -s",
            Some(shipshape_checks::PROBE_SH.as_bytes()),
            Duration::from_secs(60),
        )
        .await
        .map_err(|source| AuditError::Transport {
            target: target.clone(),
            source,
        })?;
    if !out.success() {
        return Err(AuditError::Probe {
            target,
            status: out.status,
            stderr: out.stderr.trim().to_string(),
        });
    }
    let facts = shipshape_checks::parse_facts(&out.stdout).map_err(|e| AuditError::Facts {
        target: target.clone(),
        reason: e.to_string(),
    })?;
    if let Some(evidence) = facts.podman() {
        return Err(AuditError::Podman {
            target,
            socket: facts.docker_socket().to_string(),
            evidence,
        });
    }
    let findings = shipshape_checks::audit(&facts, policy);
    Ok(AuditRun {
        target,
        findings,
        facts,
        duration: started.elapsed(),
        round_trips: 1,
        probe_output: out.stdout,
    })
}
