//! Versions compared as versions, in two flavours:
//! - [`EngineVersion`]: the Docker engine's `major.minor.patch`, whatever the
//!   packaging wrapped around it (`1:20.10.24+dfsg1-1+deb12u1`, `17.06.2-ce`,
//!   `5:24.0.7-1~debian.12~bookworm`, `3:19.03.8-3.el7`), for "at least X";
//! - [`compare_package`]: full package versions in dpkg order (epoch,
//!   upstream, revision, `~` before everything), for "is the candidate newer
//!   than what is installed". rpm's order agrees with dpkg's on the versions
//!   Docker packages use.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `major.minor.patch` of a Docker engine. Missing parts count as 0 and
/// leading zeros are insignificant (`19.03.8` == `19.3.8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EngineVersion {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl EngineVersion {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// Reads the leading numeric `a.b.c` after an optional epoch (`N:`) and
    /// `v`; everything after it (`+dfsg1`, `-ce`, `-1~debian…`) is packaging.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let s = match s.split_once(':') {
            Some((epoch, rest))
                if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) =>
            {
                rest
            }
            _ => s,
        };
        let s = s.strip_prefix('v').unwrap_or(s);
        let end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let mut parts = s[..end].split('.').filter(|p| !p.is_empty());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        Some(Self::new(major, minor, patch))
    }
}

impl fmt::Display for EngineVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for EngineVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| format!("`{s}` is not a version like 20.10.0"))
    }
}

impl Serialize for EngineVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EngineVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// dpkg's ordering of two package versions (`[epoch:]upstream[-revision]`).
pub fn compare_package(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split_package(a.trim());
    let (eb, ub, rb) = split_package(b.trim());
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

fn split_package(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) && !e.is_empty() => {
            (e.parse().unwrap_or(0), rest)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((up, rev)) => (epoch, up, rev),
        None => (epoch, rest, ""),
    }
}

/// Weight of one non-digit character in dpkg's order: `~` sorts before the
/// end of the string, letters before other symbols.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_versions_parse_through_packaging() {
        let cases = [
            ("19.03.8", (19, 3, 8)),
            ("20.10.24+dfsg1", (20, 10, 24)),
            ("26.1.5", (26, 1, 5)),
            ("1:20.10.24+dfsg1-1+deb12u1", (20, 10, 24)),
            ("17.06.2-ce", (17, 6, 2)),
            ("17.12.0-ce", (17, 12, 0)),
            ("5:24.0.7-1~debian.12~bookworm", (24, 0, 7)),
            ("3:19.03.8-3.el7", (19, 3, 8)),
            ("v1.13.1", (1, 13, 1)),
            ("20.10", (20, 10, 0)),
        ];
        for (s, (a, b, c)) in cases {
            assert_eq!(
                EngineVersion::parse(s),
                Some(EngineVersion::new(a, b, c)),
                "{s}"
            );
        }
        assert_eq!(EngineVersion::parse("latest"), None);
        assert_eq!(EngineVersion::parse(""), None);
    }

    #[test]
    fn engine_versions_order_numerically_not_as_text() {
        let v = |s| EngineVersion::parse(s).unwrap();
        assert!(v("19.03.8") < v("20.10.0"));
        assert!(
            v("20.10.24+dfsg1") > v("20.10.9"),
            "24 > 9, though \"24\" < \"9\" as text"
        );
        assert!(v("26.1.5") > v("20.10.24"));
        assert!(v("17.06.2-ce") < v("17.12.0"));
        assert!(v("17.12.1-ce") >= v("17.12.0"));
        assert_eq!(v("19.03.8"), v("19.3.8"));
    }

    #[test]
    fn package_versions_follow_dpkg() {
        use Ordering::*;
        let cases = [
            ("20.10.24+dfsg1-1+deb12u1", "20.10.24+dfsg1-1+b3", Greater),
            ("1:20.10.24+dfsg1-1", "26.1.5+dfsg1-1", Greater),
            ("26.1.5+dfsg1-9", "20.10.24+dfsg1-1+deb12u1", Greater),
            ("5:24.0.7-1~debian.12~bookworm", "5:24.0.7-1", Less),
            ("1.0~rc1", "1.0", Less),
            ("19.03.8", "19.03.8", Equal),
            ("19.03.8", "19.03.10", Less),
            ("17.06.2-ce", "17.06.2", Greater),
            (
                "20.10.24+dfsg1-1+deb12u1+b6",
                "20.10.24+dfsg1-1+deb12u1",
                Greater,
            ),
            ("3:19.03.8-3.el7", "3:20.10.9-3.el7", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_package(a, b), want, "{a} vs {b}");
            assert_eq!(compare_package(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
