//! The Docker engine package: what is installed and what the host's
//! configured package source would install (apt, dpkg, rpm, yum/dnf).

use serde::{Deserialize, Serialize};

use crate::version::compare_package;

/// The engine packages, in the order they are preferred when several exist.
pub const ENGINE_PACKAGES: &[&str] = &["docker-ce", "docker.io", "moby-engine", "docker"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageState {
    pub name: String,
    pub installed: Option<String>,
    /// The version the package source offers (apt's Candidate, yum's update).
    pub candidate: Option<String>,
    /// Where the facts came from, for evidence.
    pub source: String,
}

impl PackageState {
    /// The candidate, when it is newer than the installed version.
    pub fn newer_candidate(&self) -> Option<&str> {
        match (&self.installed, &self.candidate) {
            (Some(i), Some(c)) if compare_package(c, i).is_gt() => Some(c),
            _ => None,
        }
    }
}

/// `apt-cache policy docker.io docker-ce` → one state per package listed.
pub fn parse_apt_policy(text: &str) -> Vec<PackageState> {
    let mut out: Vec<PackageState> = Vec::new();
    for line in text.lines() {
        if !line.starts_with(' ') && line.trim_end().ends_with(':') {
            out.push(PackageState {
                name: line.trim().trim_end_matches(':').to_string(),
                source: "apt-cache policy".to_string(),
                ..PackageState::default()
            });
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        let t = line.trim();
        let value = |v: &str| {
            let v = v.trim();
            (v != "(none)" && !v.is_empty()).then(|| v.to_string())
        };
        if let Some(v) = t.strip_prefix("Installed:") {
            cur.installed = value(v);
        } else if let Some(v) = t.strip_prefix("Candidate:") {
            cur.candidate = value(v);
        }
    }
    out
}

/// `dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\n'` lines;
/// only packages whose status is installed (`ii`, `hi`) count.
pub fn parse_dpkg_query(text: &str) -> Vec<PackageState> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (name, version, status) = (f.next()?, f.next()?, f.next().unwrap_or(""));
            let installed = status.len() >= 2 && &status[1..2] == "i";
            Some(PackageState {
                name: name.to_string(),
                installed: installed.then(|| version.to_string()),
                candidate: None,
                source: "dpkg-query".to_string(),
            })
        })
        .collect()
}

/// `rpm -q --qf '%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE}\n'` lines
/// (`package X is not installed` lines are skipped; a `(none)` epoch dropped).
pub fn parse_rpm_query(text: &str) -> Vec<PackageState> {
    text.lines()
        .filter(|l| !l.contains(" is not installed"))
        .filter_map(|l| {
            let (name, ver) = l.trim().split_once(' ')?;
            let ver = ver.trim().strip_prefix("(none):").unwrap_or(ver.trim());
            Some(PackageState {
                name: name.to_string(),
                installed: Some(ver.to_string()),
                candidate: None,
                source: "rpm -q".to_string(),
            })
        })
        .collect()
}

/// `yum list updates` / `dnf list --upgrades` lines
/// (`docker-ce.x86_64   3:20.10.9-3.el7   docker-ce-stable`) → name, version.
pub fn parse_yum_updates(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (na, ver, _repo) = (f.next()?, f.next()?, f.next()?);
            let name = na.rsplit_once('.').map_or(na, |(n, _arch)| n);
            ver.chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
                .then(|| (name.to_string(), ver.to_string()))
        })
        .collect()
}

/// Merges what the probe found into one state per engine package that is
/// installed (or offered, when nothing is installed).
pub fn engine_packages(
    dpkg: Option<&str>,
    apt_policy: Option<&str>,
    rpm: Option<&str>,
    yum_updates: Option<&str>,
) -> Vec<PackageState> {
    let mut states: Vec<PackageState> = Vec::new();
    let mut merge = |s: PackageState| {
        if !ENGINE_PACKAGES.contains(&s.name.as_str()) {
            return;
        }
        match states.iter_mut().find(|x| x.name == s.name) {
            Some(x) => {
                if x.installed.is_none() {
                    x.installed = s.installed;
                }
                if s.candidate.is_some() {
                    x.candidate = s.candidate;
                }
                x.source = format!("{}, {}", x.source, s.source);
            }
            None => states.push(s),
        }
    };
    dpkg.map(parse_dpkg_query)
        .unwrap_or_default()
        .into_iter()
        .for_each(&mut merge);
    apt_policy
        .map(parse_apt_policy)
        .unwrap_or_default()
        .into_iter()
        .for_each(&mut merge);
    rpm.map(parse_rpm_query)
        .unwrap_or_default()
        .into_iter()
        .for_each(&mut merge);
    for (name, ver) in yum_updates.map(parse_yum_updates).unwrap_or_default() {
        merge(PackageState {
            name,
            installed: None,
            candidate: Some(ver),
            source: "yum/dnf updates".to_string(),
        });
    }
    // A yum update line names no installed version: the package's own
    // rpm line does; a package only offered and not installed is dropped
    // when another is installed.
    let any_installed = states.iter().any(|s| s.installed.is_some());
    states.retain(|s| s.installed.is_some() || (!any_installed && s.candidate.is_some()));
    states.sort_by_key(|s| ENGINE_PACKAGES.iter().position(|p| *p == s.name));
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    const APT: &str = "docker.io:
  Installed: 20.10.24+dfsg1-1+b3
  Candidate: 20.10.24+dfsg1-1+deb12u1
  Version table:
     20.10.24+dfsg1-1+deb12u1 500
        500 http://security.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 20.10.24+dfsg1-1+b3 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
docker-ce:
  Installed: (none)
  Candidate: (none)
  Version table:
";

    #[test]
    fn apt_policy_candidate_newer() {
        let s = parse_apt_policy(APT);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "docker.io");
        assert_eq!(s[0].installed.as_deref(), Some("20.10.24+dfsg1-1+b3"));
        assert_eq!(s[0].newer_candidate(), Some("20.10.24+dfsg1-1+deb12u1"));
        assert_eq!(s[1].installed, None);
        let merged = engine_packages(None, Some(APT), None, None);
        assert_eq!(
            merged.len(),
            1,
            "docker-ce is neither installed nor offered"
        );
    }

    #[test]
    fn apt_policy_up_to_date() {
        let s = parse_apt_policy("docker.io:\n  Installed: 20.10.24+dfsg1-1+deb12u1\n  Candidate: 20.10.24+dfsg1-1+deb12u1\n");
        assert_eq!(s[0].newer_candidate(), None);
    }

    #[test]
    fn dpkg_and_rpm_and_yum() {
        let d = parse_dpkg_query("docker.io 20.10.24+dfsg1-1+deb12u1 ii \ndocker-ce  un \ncontainerd 1.6.20~ds1-1+b1 ii ");
        assert_eq!(d[0].installed.as_deref(), Some("20.10.24+dfsg1-1+deb12u1"));
        assert_eq!(
            d.iter()
                .find(|x| x.name == "docker-ce")
                .and_then(|x| x.installed.clone()),
            None
        );
        let r = parse_rpm_query("docker-ce 3:19.03.8-3.el7\npackage docker is not installed\nmoby-engine (none):20.10.1-1.fc33");
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].installed.as_deref(), Some("20.10.1-1.fc33"));
        let y = parse_yum_updates(
            "docker-ce.x86_64    3:20.10.9-3.el7    docker-ce-stable\nUpdated Packages",
        );
        assert_eq!(
            y,
            [("docker-ce".to_string(), "3:20.10.9-3.el7".to_string())]
        );
        let m = engine_packages(
            None,
            None,
            Some("docker-ce 3:19.03.8-3.el7"),
            Some("docker-ce.x86_64 3:20.10.9-3.el7 docker-ce-stable"),
        );
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].newer_candidate(), Some("3:20.10.9-3.el7"));
    }
}
