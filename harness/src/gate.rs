//! The image-pipeline gate: which failing controls fail the gate. A waiver
//! accepts one control's failure until a date (InSpec's waivers); `--fail-on`
//! lets controls below a severity be reported without failing the exit code.
//! Pure: the audit's findings, the waivers and today's date in, a decision
//! per control out.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use shipshape_checks::{find_control, Finding, Severity, Verdict};

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl std::str::FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a date (YYYY-MM-DD)");
        let mut it = s.trim().splitn(3, '-');
        let (y, m, d) = (
            it.next().ok_or_else(bad)?,
            it.next().ok_or_else(bad)?,
            it.next().ok_or_else(bad)?,
        );
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let (year, month, day): (i32, u32, u32) = (
            y.parse().map_err(|_| bad())?,
            m.parse().map_err(|_| bad())?,
            d.parse().map_err(|_| bad())?,
        );
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err(format!("`{s}`: there is no month {month}")),
        };
        if day == 0 || day > days {
            return Err(format!("`{s}`: month {month} has no day {day}"));
        }
        Ok(Date { year, month, day })
    }
}

impl Date {
    /// Today, in UTC.
    pub fn today() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self::from_days((secs / 86_400) as i64)
    }

    /// The civil date `days` after 1970-01-01 (Howard Hinnant's algorithm).
    pub fn from_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

/// One accepted risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiver {
    pub control: String,
    pub reason: String,
    pub expires: Date,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    control: Spanned<String>,
    reason: String,
    expires: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    waivers: Vec<RawWaiver>,
}

/// A waivers file that cannot be used: the message starts with
/// `path:line:col`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WaiverError(pub String);

/// Reads a waivers file:
///
/// ```yaml
/// waivers:
///   - control: icc
///     reason: the build network needs it until the proxy lands (OPS-12)
///     expires: 2027-03-31
/// ```
pub fn load_waivers(path: &Path) -> Result<Vec<Waiver>, WaiverError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| WaiverError(format!("{}: {e}", path.display())))?;
    let raw: RawFile =
        serde_saphyr::from_str(&text).map_err(|e| WaiverError(crate::yaml::error_at(path, &e)))?;
    let at = |s: &Spanned<String>| {
        format!(
            "{}:{}:{}",
            path.display(),
            s.referenced.line(),
            s.referenced.column()
        )
    };
    let mut out = Vec::new();
    for w in raw.waivers {
        if find_control(&w.control.value).is_none() {
            return Err(WaiverError(format!(
                "{}: control: unknown control `{}` (see `shipshape controls`)",
                at(&w.control),
                w.control.value
            )));
        }
        let expires: Date = w
            .expires
            .value
            .parse()
            .map_err(|e| WaiverError(format!("{}: expires: {e}", at(&w.expires))))?;
        if out.iter().any(|x: &Waiver| x.control == w.control.value) {
            return Err(WaiverError(format!(
                "{}: control: `{}` is waived twice",
                at(&w.control),
                w.control.value
            )));
        }
        out.push(Waiver {
            control: w.control.value,
            reason: w.reason,
            expires,
        });
    }
    Ok(out)
}

/// `--fail-on`: the lowest severity that fails the gate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Any failing control (the default).
    #[default]
    Any,
    Low,
    Medium,
    High,
}

impl FailOn {
    fn counts(self, s: Severity) -> bool {
        let rank = |s: Severity| match s {
            Severity::Low => 1,
            Severity::Medium => 2,
            Severity::High => 3,
            Severity::Critical => 4,
        };
        match self {
            FailOn::Any => true,
            FailOn::Low => rank(s) >= 1,
            FailOn::Medium => rank(s) >= 2,
            FailOn::High => rank(s) >= 3,
        }
    }
}

/// What the gate makes of one control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "gate", rename_all = "kebab-case")]
pub enum Decision {
    /// Passes, or is not applicable or manual: nothing for the gate.
    Clear,
    /// Fails, and fails the gate.
    Fails,
    /// Fails, below `--fail-on`: reported, not counted.
    BelowThreshold,
    /// Fails, and a waiver in force accepts it.
    Waived { reason: String, expires: Date },
    /// Fails, and its waiver has expired: fails the gate, and says so.
    WaiverExpired { reason: String, expired: Date },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gate {
    pub fail_on: FailOn,
    pub today: Date,
    /// Per finding, in the audit's order.
    pub decisions: Vec<(String, Decision)>,
    /// Waivers for controls that do not fail: not needed any more.
    pub unnecessary: Vec<Waiver>,
}

impl Gate {
    pub fn judge(findings: &[Finding], waivers: &[Waiver], fail_on: FailOn, today: Date) -> Self {
        let mut decisions = Vec::new();
        let mut unnecessary = Vec::new();
        for f in findings {
            let waiver = waivers.iter().find(|w| w.control == f.id);
            let d = match (&f.verdict, waiver) {
                (Verdict::Fail, Some(w)) if w.expires >= today => Decision::Waived {
                    reason: w.reason.clone(),
                    expires: w.expires,
                },
                (Verdict::Fail, Some(w)) => Decision::WaiverExpired {
                    reason: w.reason.clone(),
                    expired: w.expires,
                },
                (Verdict::Fail, None) => {
                    let sev = find_control(f.id)
                        .map(|m| m.severity)
                        .unwrap_or(Severity::Critical);
                    if fail_on.counts(sev) {
                        Decision::Fails
                    } else {
                        Decision::BelowThreshold
                    }
                }
                (_, w) => {
                    if let Some(w) = w {
                        unnecessary.push(w.clone());
                    }
                    Decision::Clear
                }
            };
            decisions.push((f.id.to_string(), d));
        }
        Self {
            fail_on,
            today,
            decisions,
            unnecessary,
        }
    }

    pub fn of(&self, id: &str) -> Option<&Decision> {
        self.decisions.iter().find(|(c, _)| c == id).map(|(_, d)| d)
    }

    /// The controls that fail the gate.
    pub fn failing(&self) -> impl Iterator<Item = &str> {
        self.decisions
            .iter()
            .filter(|(_, d)| matches!(d, Decision::Fails | Decision::WaiverExpired { .. }))
            .map(|(c, _)| c.as_str())
    }

    pub fn passed(&self) -> bool {
        self.failing().next().is_none()
    }

    pub fn exit_code(&self) -> u8 {
        u8::from(!self.passed())
    }

    /// One line for the end of a report.
    pub fn summary(&self) -> String {
        let count = |f: fn(&Decision) -> bool| self.decisions.iter().filter(|(_, d)| f(d)).count();
        let mut s = format!(
            "gate: {} ({} failing, {} waived, {} expired waiver(s), {} below --fail-on {:?})",
            if self.passed() { "passed" } else { "FAILED" },
            count(|d| matches!(d, Decision::Fails)),
            count(|d| matches!(d, Decision::Waived { .. })),
            count(|d| matches!(d, Decision::WaiverExpired { .. })),
            count(|d| matches!(d, Decision::BelowThreshold)),
            self.fail_on
        );
        for w in &self.unnecessary {
            s.push_str(&format!(
                "\nwaiver for {} is unnecessary: the control does not fail",
                w.control
            ));
        }
        s
    }
}

/// What a report judged, so that it can be traced back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// The image file's sha256, or the host and its boot id.
    pub judged: Judged,
    pub shipshape_version: String,
    pub benchmark: String,
    /// The benchmark version the control ids come from.
    pub benchmark_version: String,
    /// sha256 of the policy file; `None`: the default policy.
    pub policy_sha256: Option<String>,
    /// When, RFC 3339 in UTC.
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Judged {
    Image { path: String, sha256: String },
    Host { host: String, boot_id: String },
}

impl std::fmt::Display for Judged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Judged::Image { path, sha256 } => write!(f, "image {path} (sha256 {sha256})"),
            Judged::Host { host, boot_id } => write!(f, "host {host} (boot {boot_id})"),
        }
    }
}

/// What a report says beyond the verdicts: the gate's decisions and what
/// was judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judgement {
    pub gate: Gate,
    pub subject: Subject,
}

impl Judgement {
    /// The words a report shows for a control's gate decision, if any.
    pub fn note(&self, id: &str) -> Option<String> {
        match self.gate.of(id)? {
            Decision::Clear | Decision::Fails => None,
            Decision::BelowThreshold => Some(
                format!(
                    "below --fail-on {:?}: reported, not counted",
                    self.gate.fail_on
                )
                .to_lowercase(),
            ),
            Decision::Waived { reason, expires } => {
                Some(format!("waived until {expires}: {reason}"))
            }
            Decision::WaiverExpired { reason, expired } => {
                Some(format!("waiver EXPIRED on {expired}: {reason}"))
            }
        }
    }

    /// Name, value pairs for JUnit properties and the HTML header.
    pub fn properties(&self) -> Vec<(String, String)> {
        let s = &self.subject;
        let mut v = Vec::new();
        match &s.judged {
            Judged::Image { path, sha256 } => {
                v.push(("image".into(), path.clone()));
                v.push(("image.sha256".into(), sha256.clone()));
            }
            Judged::Host { host, boot_id } => {
                v.push(("host".into(), host.clone()));
                v.push(("host.boot_id".into(), boot_id.clone()));
            }
        }
        v.push(("shipshape.version".into(), s.shipshape_version.clone()));
        v.push(("benchmark".into(), s.benchmark.clone()));
        v.push(("benchmark.version".into(), s.benchmark_version.clone()));
        v.push((
            "policy.sha256".into(),
            s.policy_sha256.clone().unwrap_or_else(|| "default".into()),
        ));
        v.push(("time".into(), s.time.clone()));
        v.push((
            "gate.fail_on".into(),
            format!("{:?}", self.gate.fail_on).to_lowercase(),
        ));
        v.push((
            "gate.result".into(),
            if self.gate.passed() {
                "passed"
            } else {
                "failed"
            }
            .into(),
        ));
        v
    }
}

/// The sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Now as RFC 3339 in UTC, to the second.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let d = Date::from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!("{d}T{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &'static str, verdict: Verdict) -> Finding {
        Finding {
            id,
            verdict,
            evidence: vec![],
        }
    }

    #[test]
    fn dates_parse_strictly_and_count_from_the_epoch() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(20_788).to_string(), "2026-12-01");
        assert_eq!(Date::from_days(11_016).to_string(), "2000-02-29");
        assert_eq!(
            "2027-03-31".parse::<Date>().unwrap().to_string(),
            "2027-03-31"
        );
        for bad in [
            "2027-02-29",
            "2027-13-01",
            "2027-1-01",
            "tomorrow",
            "2027-04-31",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert!("2028-02-29".parse::<Date>().is_ok());
    }

    #[test]
    fn waivers_expire_and_unneeded_ones_are_named() {
        let today: Date = "2026-12-01".parse().unwrap();
        let w = |c: &str, e: &str| Waiver {
            control: c.into(),
            reason: format!("because {c}"),
            expires: e.parse().unwrap(),
        };
        let findings = vec![
            finding("icc", Verdict::Fail),
            finding("live-restore", Verdict::Fail),
            finding("userland-proxy", Verdict::Fail),
            finding("no-new-privileges", Verdict::Pass),
        ];
        let waivers = vec![
            w("icc", "2026-12-01"),
            w("live-restore", "2026-11-30"),
            w("no-new-privileges", "2027-01-01"),
        ];
        let g = Gate::judge(&findings, &waivers, FailOn::Any, today);
        assert!(
            matches!(g.of("icc"), Some(Decision::Waived { .. })),
            "valid through its day"
        );
        assert!(matches!(
            g.of("live-restore"),
            Some(Decision::WaiverExpired { .. })
        ));
        assert_eq!(g.of("userland-proxy"), Some(&Decision::Fails));
        assert_eq!(g.unnecessary.len(), 1);
        assert_eq!(
            g.failing().collect::<Vec<_>>(),
            ["live-restore", "userland-proxy"]
        );
        assert_eq!(g.exit_code(), 1);
        assert!(g.summary().contains("unnecessary"));
        let only_waived = Gate::judge(&findings[..1], &waivers, FailOn::Any, today);
        assert!(only_waived.passed());
    }

    #[test]
    fn fail_on_counts_only_what_is_at_or_above_it() {
        let today = Date::today();
        // Every failing control of the catalogue, judged at each threshold.
        let cat = shipshape_checks::catalogue();
        let findings: Vec<Finding> = cat.iter().map(|c| finding(c.id, Verdict::Fail)).collect();
        let mut last = usize::MAX;
        for t in [FailOn::Any, FailOn::Low, FailOn::Medium, FailOn::High] {
            let g = Gate::judge(&findings, &[], t, today);
            let n = g.failing().count();
            assert!(n <= last, "{t:?} counts more than a lower threshold");
            last = n;
            for c in cat {
                let counted = g.of(c.id) == Some(&Decision::Fails);
                let want = match t {
                    FailOn::Any | FailOn::Low => true,
                    FailOn::Medium => !matches!(c.severity, Severity::Low),
                    FailOn::High => matches!(c.severity, Severity::High | Severity::Critical),
                };
                assert_eq!(counted, want, "{} ({:?}) at {t:?}", c.id, c.severity);
            }
        }
        assert!(last < cat.len(), "--fail-on high leaves some controls out");
    }

    #[test]
    fn a_bad_waiver_file_points_at_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.yaml");
        std::fs::write(
            &p,
            "waivers:\n  - control: icc\n    reason: ok\n    expires: 2027-01-01\n  - control: no-such-thing\n    reason: x\n    expires: 2027-01-01\n",
        )
        .unwrap();
        let e = load_waivers(&p).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:5:", p.display())), "{e}");
        assert!(e.contains("no-such-thing"), "{e}");
        std::fs::write(
            &p,
            "waivers:\n  - control: icc\n    reason: ok\n    expires: 2027-02-30\n",
        )
        .unwrap();
        let e = load_waivers(&p).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:4:", p.display())), "{e}");
        assert!(e.contains("expires"), "{e}");
        std::fs::write(
            &p,
            "waivers:\n  - control: icc\n    reason: ok\n    until: 2027-01-01\n",
        )
        .unwrap();
        let e = load_waivers(&p).unwrap_err().to_string();
        assert!(
            e.contains(&format!("{}:", p.display())) && e.contains("until"),
            "{e}"
        );
        std::fs::write(
            &p,
            "waivers:\n  - control: icc\n    reason: ok\n    expires: 2027-01-01\n",
        )
        .unwrap();
        assert_eq!(
            load_waivers(&p).unwrap()[0].expires.to_string(),
            "2027-01-01"
        );
    }
}
