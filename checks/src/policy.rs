//! What the user expects, where a control needs a value to compare with.
//! Defaults are the seed's values; the seed is silent on some, and those
//! choices are documented per field.
//!
//! Every field is validated while deserializing, and the error names the
//! field: `ulimit_nofile: soft limit 20480 is above hard limit 100`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::version::EngineVersion;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("policy field `{field}`: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Who may be in the docker group (listed or as primary group). Default
    /// `["root"]`: the seed lists no one, and root reaches the socket
    /// anyway, so nobody else belongs there unless the user says so.
    #[serde(deserialize_with = "de_users")]
    pub docker_group_allowed: Vec<String>,
    /// `nofile` default ulimit, `SOFT:HARD`. Seed: 20480:40960.
    #[serde(deserialize_with = "de_ulimit_nofile")]
    pub ulimit_nofile: Ulimit,
    /// `nproc` default ulimit, `SOFT:HARD`. Seed: 1024:2048.
    #[serde(deserialize_with = "de_ulimit_nproc")]
    pub ulimit_nproc: Ulimit,
    /// The log driver the fix configures. Remote drivers pass the audit
    /// whatever this says. Seed: json-file.
    #[serde(deserialize_with = "de_log_driver")]
    pub log_driver: String,
    /// Upper bound for json-file `max-size`. Seed: 50m.
    #[serde(deserialize_with = "de_log_max_size")]
    pub log_max_size: ByteSize,
    /// Upper bound for json-file `max-file`. Seed: 3.
    #[serde(deserialize_with = "de_log_max_file")]
    pub log_max_file: u32,
    /// TLS files the fix writes and the permission controls check when the
    /// daemon config names none.
    #[serde(deserialize_with = "de_tls_ca")]
    pub tls_ca_cert: String,
    #[serde(deserialize_with = "de_tls_cert")]
    pub tls_server_cert: String,
    #[serde(deserialize_with = "de_tls_key")]
    pub tls_server_key: String,
    /// Oldest acceptable engine. Default 20.10.0: the oldest line still
    /// shipped by a supported distribution (Debian 12's docker.io); the
    /// seed's 19.03 is out of upstream support.
    pub min_engine_version: EngineVersion,
    /// A cgroup parent the user declared on purpose (`None`: must be unset).
    #[serde(deserialize_with = "de_cgroup_parent")]
    pub cgroup_parent: Option<String>,
    /// Whether the fix may upgrade the engine. Default false: the seed
    /// warns that upgrades can break e.g. kubeadm compatibility.
    pub allow_docker_upgrade: bool,
    /// Whether a fix may install missing packages with the host's package
    /// manager (auditd for the audit rules). Default false: installing
    /// software is a bigger change than editing configuration.
    pub install_packages: bool,
    /// Whether a daemon that does not run rootless fails CIS 2.1 (true) or
    /// is left for review (false, the default: CIS says "where possible",
    /// and whether it is possible depends on the workloads).
    pub rootless_required: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            docker_group_allowed: vec!["root".to_string()],
            ulimit_nofile: Ulimit {
                soft: 20480,
                hard: 40960,
            },
            ulimit_nproc: Ulimit {
                soft: 1024,
                hard: 2048,
            },
            log_driver: "json-file".to_string(),
            log_max_size: ByteSize::parse("50m").expect("valid default"),
            log_max_file: 3,
            tls_ca_cert: "/etc/docker/tls/ca.pem".to_string(),
            tls_server_cert: "/etc/docker/tls/server-cert.pem".to_string(),
            tls_server_key: "/etc/docker/tls/server-key.pem".to_string(),
            min_engine_version: EngineVersion::new(20, 10, 0),
            cgroup_parent: None,
            allow_docker_upgrade: false,
            install_packages: false,
            rootless_required: false,
        }
    }
}

impl Policy {
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Checks a policy built in code the way deserializing checks one.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |field, message: String| Err(PolicyError::Invalid { field, message });
        for (field, u) in [
            ("ulimit_nofile", self.ulimit_nofile),
            ("ulimit_nproc", self.ulimit_nproc),
        ] {
            if let Err(m) = Ulimit::check(u.soft, u.hard) {
                return bad(field, m);
            }
        }
        if let Err(m) = check_users(&self.docker_group_allowed) {
            return bad("docker_group_allowed", m);
        }
        if let Err(m) = check_log_driver(&self.log_driver) {
            return bad("log_driver", m);
        }
        if let Err(m) = check_max_file(self.log_max_file) {
            return bad("log_max_file", m);
        }
        for (field, p) in [
            ("tls_ca_cert", &self.tls_ca_cert),
            ("tls_server_cert", &self.tls_server_cert),
            ("tls_server_key", &self.tls_server_key),
        ] {
            if let Err(m) = check_abs_path(p) {
                return bad(field, m);
            }
        }
        if let Some(c) = &self.cgroup_parent {
            if let Err(m) = check_cgroup_parent(c) {
                return bad("cgroup_parent", m);
            }
        }
        Ok(())
    }
}

/// A `SOFT:HARD` resource limit (`-1` is unlimited, as dockerd writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

impl Ulimit {
    fn check(soft: i64, hard: i64) -> Result<(), String> {
        if soft < -1 || hard < -1 {
            return Err("limits must be -1 (unlimited) or a non-negative number".to_string());
        }
        let as_u = |v: i64| if v == -1 { u64::MAX } else { v as u64 };
        if as_u(soft) > as_u(hard) {
            return Err(format!("soft limit {soft} is above hard limit {hard}"));
        }
        Ok(())
    }

    /// Parses `SOFT:HARD` or a single `N` (soft = hard), as dockerd does.
    pub fn parse(s: &str) -> Result<Ulimit, String> {
        let num = |p: &str| {
            p.trim()
                .parse::<i64>()
                .map_err(|_| format!("`{s}` is not SOFT:HARD (numbers, e.g. 20480:40960)"))
        };
        let (soft, hard) = match s.split_once(':') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(s)?;
                (n, n)
            }
        };
        Ulimit::check(soft, hard)?;
        Ok(Ulimit { soft, hard })
    }
}

impl fmt::Display for Ulimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.soft, self.hard)
    }
}

impl Serialize for Ulimit {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ulimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ulimit::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A size as Docker's log options write it (`50m`, `1g`, `512k`, `100`),
/// binary multiples like Docker's own parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteSize {
    pub text: String,
    pub bytes: u64,
}

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        let lower = lower.strip_suffix('b').unwrap_or(&lower);
        let lower = lower.strip_suffix('i').unwrap_or(lower);
        let (digits, mult) = match lower.chars().last() {
            Some('k') => (&lower[..lower.len() - 1], 1u64 << 10),
            Some('m') => (&lower[..lower.len() - 1], 1 << 20),
            Some('g') => (&lower[..lower.len() - 1], 1 << 30),
            Some('t') => (&lower[..lower.len() - 1], 1 << 40),
            _ => (lower, 1),
        };
        let n: u64 = digits
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a size like 50m"))?;
        if n == 0 {
            return Err(format!(
                "`{s}`: a size of 0 disables nothing and rotates constantly"
            ));
        }
        Ok(ByteSize {
            text: t.to_string(),
            bytes: n
                .checked_mul(mult)
                .ok_or_else(|| format!("`{s}` is too large"))?,
        })
    }
}

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ByteSize::parse(s)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

// ------------------------------------------------------------ field checks
// One deserializer per field so the error names the field; serde's own
// messages only say "invalid value" with a position.

fn field_err<E: serde::de::Error>(field: &str, msg: impl fmt::Display) -> E {
    E::custom(format!("policy field `{field}`: {msg}"))
}

fn de_ulimit<'de, D: Deserializer<'de>>(d: D, field: &str) -> Result<Ulimit, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    let s = match &v {
        serde_json::Value::String(s) => s.clone(),
        other => {
            return Err(field_err(
                field,
                format!("expected \"SOFT:HARD\", got {other}"),
            ))
        }
    };
    Ulimit::parse(&s).map_err(|m| field_err(field, m))
}
fn de_ulimit_nofile<'de, D: Deserializer<'de>>(d: D) -> Result<Ulimit, D::Error> {
    de_ulimit(d, "ulimit_nofile")
}
fn de_ulimit_nproc<'de, D: Deserializer<'de>>(d: D) -> Result<Ulimit, D::Error> {
    de_ulimit(d, "ulimit_nproc")
}

fn check_users(users: &[String]) -> Result<(), String> {
    for u in users {
        let ok = !u.is_empty()
            && u.len() <= 32
            && u.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'));
        if !ok {
            return Err(format!("`{u}` is not a user name"));
        }
    }
    Ok(())
}
fn de_users<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    check_users(&v).map_err(|m| field_err("docker_group_allowed", m))?;
    Ok(v)
}

fn check_log_driver(d: &str) -> Result<(), String> {
    if d.is_empty() || d == "none" {
        return Err(format!("`{d}` keeps no logs at all"));
    }
    Ok(())
}
fn de_log_driver<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = String::deserialize(d)?;
    check_log_driver(&v).map_err(|m| field_err("log_driver", m))?;
    Ok(v)
}

fn de_log_max_size<'de, D: Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    let s = match &v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        other => {
            return Err(field_err(
                "log_max_size",
                format!("expected a size like \"50m\", got {other}"),
            ))
        }
    };
    ByteSize::parse(&s).map_err(|m| field_err("log_max_size", m))
}

fn check_max_file(n: u32) -> Result<(), String> {
    if n == 0 {
        return Err("max-file must be at least 1".to_string());
    }
    Ok(())
}
fn de_log_max_file<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    let n = match &v {
        serde_json::Value::Number(n) => n.as_u64(),
        // Docker itself writes it as a string in log-opts.
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u32::try_from(n).ok())
    .ok_or_else(|| {
        field_err(
            "log_max_file",
            format!("expected a positive number, got {v}"),
        )
    })?;
    check_max_file(n).map_err(|m| field_err("log_max_file", m))?;
    Ok(n)
}

fn check_abs_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("`{p}` is not an absolute path"));
    }
    Ok(())
}
fn de_path<'de, D: Deserializer<'de>>(d: D, field: &str) -> Result<String, D::Error> {
    let v = String::deserialize(d)?;
    check_abs_path(&v).map_err(|m| field_err(field, m))?;
    Ok(v)
}
fn de_tls_ca<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    de_path(d, "tls_ca_cert")
}
fn de_tls_cert<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    de_path(d, "tls_server_cert")
}
fn de_tls_key<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    de_path(d, "tls_server_key")
}

fn check_cgroup_parent(c: &str) -> Result<(), String> {
    if c.trim().is_empty() {
        return Err("use null for \"must be unset\", not an empty string".to_string());
    }
    Ok(())
}
fn de_cgroup_parent<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<String>::deserialize(d)?;
    if let Some(c) = &v {
        check_cgroup_parent(c).map_err(|m| field_err("cgroup_parent", m))?;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seed_values() {
        let p = Policy::default();
        assert_eq!(p.ulimit_nofile.to_string(), "20480:40960");
        assert_eq!(p.ulimit_nproc.to_string(), "1024:2048");
        assert_eq!(p.log_max_size.bytes, 50 << 20);
        assert_eq!(p.log_max_file, 3);
        assert_eq!(p.docker_group_allowed, ["root"]);
        assert!(!p.allow_docker_upgrade);
        assert!(!p.install_packages);
        assert!(p.validate().is_ok());
        assert_eq!(Policy::from_json("{}").unwrap(), p);
    }

    #[test]
    fn round_trips() {
        let p = Policy::default();
        let text = serde_json::to_string(&p).unwrap();
        assert!(text.contains("\"ulimit_nofile\":\"20480:40960\""), "{text}");
        assert!(text.contains("\"install_packages\":false"), "{text}");
        assert_eq!(Policy::from_json(&text).unwrap(), p);
        let on = Policy::from_json(r#"{"install_packages":true}"#).unwrap();
        assert!(on.install_packages);
        assert_eq!(
            Policy::from_json(&serde_json::to_string(&on).unwrap()).unwrap(),
            on
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases = [
            (
                r#"{"ulimit_nofile":"20480:100"}"#,
                "ulimit_nofile",
                "above hard limit",
            ),
            (r#"{"ulimit_nproc":"abc"}"#, "ulimit_nproc", "SOFT:HARD"),
            (r#"{"ulimit_nproc":1024}"#, "ulimit_nproc", "SOFT:HARD"),
            (r#"{"log_max_size":"fifty"}"#, "log_max_size", "size"),
            (r#"{"log_max_file":0}"#, "log_max_file", "at least 1"),
            (r#"{"tls_ca_cert":"ca.pem"}"#, "tls_ca_cert", "absolute"),
            (r#"{"min_engine_version":"latest"}"#, "", "20.10.0"),
            (
                r#"{"docker_group_allowed":["bob smith"]}"#,
                "docker_group_allowed",
                "user name",
            ),
            (r#"{"cgroup_parent":""}"#, "cgroup_parent", "null"),
            (r#"{"install_packages":"yes"}"#, "", "expected a boolean"),
        ];
        for (json, field, needle) in cases {
            let e = Policy::from_json(json).unwrap_err().to_string();
            assert!(e.contains(field) && e.contains(needle), "{json}: {e}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = Policy::from_json(r#"{"ulimit_nofiles":"1:2"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn ulimit_forms() {
        assert_eq!(
            Ulimit::parse("1024").unwrap(),
            Ulimit {
                soft: 1024,
                hard: 1024
            }
        );
        assert_eq!(
            Ulimit::parse("-1:-1").unwrap(),
            Ulimit { soft: -1, hard: -1 }
        );
        assert!(
            Ulimit::parse("100:-1").is_ok(),
            "unlimited hard limit is above any soft limit"
        );
        assert!(Ulimit::parse("-1:100").is_err());
        assert!(Ulimit::parse("1:2:3").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("50m").unwrap().bytes, 50 << 20);
        assert_eq!(ByteSize::parse("50M").unwrap().bytes, 50 << 20);
        assert_eq!(ByteSize::parse("1g").unwrap().bytes, 1 << 30);
        assert_eq!(ByteSize::parse("10mb").unwrap().bytes, 10 << 20);
        assert_eq!(ByteSize::parse("100").unwrap().bytes, 100);
        assert!(ByteSize::parse("0").is_err());
        assert!(ByteSize::parse("m").is_err());
    }
}
