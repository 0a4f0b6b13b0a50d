//! `getent group` / `getent passwd` lines and group membership by exact name.
//!
//! Membership is decided on whole names: `grep docker /etc/group` style
//! substring tests confuse `dockerx` with `docker` and `bob` with `bobby`.

use serde::{Deserialize, Serialize};

/// A group and everyone who holds it: listed members and users whose
/// primary group it is (those do not appear in the member list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub gid: Option<u32>,
    /// The member list of the group line.
    pub members: Vec<String>,
    /// Users whose passwd entry has this gid as primary group.
    #[serde(default)]
    pub primary_members: Vec<String>,
}

impl Group {
    /// Parses `docker:x:994:alice,bob`.
    pub fn parse_line(line: &str) -> Option<Self> {
        let line = line.trim();
        let mut f = line.splitn(4, ':');
        let name = f.next().filter(|n| !n.is_empty())?.to_string();
        let _password = f.next()?;
        let gid = f.next()?.trim().parse().ok();
        let members = f
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        Some(Group {
            name,
            gid,
            members,
            primary_members: Vec::new(),
        })
    }

    /// Adds the users from passwd `lines` whose primary gid is this group's.
    pub fn add_primary_from_passwd<'a>(&mut self, lines: impl IntoIterator<Item = &'a str>) {
        let Some(gid) = self.gid else { return };
        for p in lines.into_iter().filter_map(PasswdEntry::parse_line) {
            if p.gid == gid && !self.primary_members.contains(&p.name) {
                self.primary_members.push(p.name);
            }
        }
    }

    /// Everyone who gets the group's rights, each name once, listed members first.
    pub fn all_members(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for m in self.members.iter().chain(&self.primary_members) {
            if !out.contains(&m.as_str()) {
                out.push(m);
            }
        }
        out
    }

    /// Exact-name membership, primary group included.
    pub fn has_member(&self, user: &str) -> bool {
        self.members
            .iter()
            .chain(&self.primary_members)
            .any(|m| m == user)
    }
}

/// The parts of a passwd line the controls need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl PasswdEntry {
    /// Parses `alice:x:1000:994:Alice:/home/alice:/bin/bash`.
    pub fn parse_line(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.trim().split(':').collect();
        if f.len() < 4 || f[0].is_empty() {
            return None;
        }
        Some(PasswdEntry {
            name: f[0].to_string(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_getent_group_docker_has_no_members() {
        // Verbatim from the seed (CentOS 7).
        let g = Group::parse_line("docker:x:994:").unwrap();
        assert_eq!(g.name, "docker");
        assert_eq!(g.gid, Some(994));
        assert!(g.members.is_empty());
        assert!(g.all_members().is_empty());
    }

    #[test]
    fn membership_is_by_exact_name() {
        let g = Group::parse_line("docker:x:994:bobby,dockerx,alice").unwrap();
        assert!(g.has_member("bobby"));
        assert!(!g.has_member("bob"), "bob is not bobby");
        assert!(!g.has_member("docker"), "dockerx is not docker");
        assert!(g.has_member("alice"));
        assert!(!g.has_member("ali"));
    }

    #[test]
    fn primary_group_counts_as_membership() {
        let mut g = Group::parse_line("docker:x:994:alice").unwrap();
        g.add_primary_from_passwd([
            "mallory:x:1001:994::/home/mallory:/bin/sh",
            "bob:x:1002:1002::/home/bob:/bin/sh",
            "alice:x:1000:994::/home/alice:/bin/sh",
        ]);
        assert_eq!(g.primary_members, ["mallory", "alice"]);
        assert!(g.has_member("mallory"));
        assert!(!g.has_member("bob"));
        assert_eq!(g.all_members(), ["alice", "mallory"]);
    }

    #[test]
    fn rejects_malformed_lines() {
        assert!(Group::parse_line("").is_none());
        assert!(Group::parse_line("docker").is_none());
        assert!(PasswdEntry::parse_line("x:y").is_none());
        assert!(PasswdEntry::parse_line("a:x:notanumber:1::/:/bin/sh").is_none());
    }
}
