//! Parsers for the text outputs the seed shows and users paste: `ps -ef`,
//! `systemctl status` cgroup lines, `/proc/PID/limits`, `ps -o pid,user`,
//! `lsblk`. (`docker info` text: [`crate::docker_info_text`]; `getent
//! group`: [`crate::accounts`].)

use std::collections::BTreeMap;

/// A process line: pid and command words (quoting is lost by `ps`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcLine {
    pub user: Option<String>,
    pub pid: u32,
    pub argv: Vec<String>,
}

/// Reads `ps -ef` output (header optional) and returns the dockerd lines,
/// skipping the `grep dockerd` line itself.
pub fn dockerd_from_ps_ef(text: &str) -> Vec<ProcLine> {
    text.lines()
        .filter_map(parse_ps_ef_line)
        .filter(|p| {
            p.argv
                .first()
                .is_some_and(|a| a.rsplit('/').next() == Some("dockerd"))
        })
        .collect()
}

/// One `ps -ef` line: UID PID PPID C STIME TTY TIME CMD…
pub fn parse_ps_ef_line(line: &str) -> Option<ProcLine> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 8 {
        return None;
    }
    Some(ProcLine {
        user: Some(f[0].to_string()),
        pid: f[1].parse().ok()?,
        argv: f[7..].iter().map(|s| s.to_string()).collect(),
    })
}

/// A `systemctl status docker` cgroup line: `├─1061 /usr/bin/dockerd -H …`.
pub fn parse_systemctl_cgroup_line(line: &str) -> Option<ProcLine> {
    let t = line.trim_start_matches(|c: char| c.is_whitespace() || "├└│─`|-".contains(c));
    let (pid, cmd) = t.split_once(char::is_whitespace)?;
    Some(ProcLine {
        user: None,
        pid: pid.parse().ok()?,
        argv: cmd.split_whitespace().map(str::to_string).collect(),
    })
}

/// One row of `/proc/PID/limits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub soft: String,
    pub hard: String,
    pub units: String,
}

impl Limit {
    /// Numeric soft/hard; `unlimited` is -1 (how dockerd writes it).
    pub fn numbers(&self) -> Option<(i64, i64)> {
        let n = |s: &str| {
            if s == "unlimited" {
                Some(-1)
            } else {
                s.parse().ok()
            }
        };
        Some((n(&self.soft)?, n(&self.hard)?))
    }
}

/// `/proc/PID/limits` → name (`Max open files`) → limit. Columns are found
/// from the header, since names contain spaces.
pub fn parse_proc_limits(text: &str) -> BTreeMap<String, Limit> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return BTreeMap::new();
    };
    let (Some(soft_at), Some(hard_at), units_at) = (
        header.find("Soft Limit"),
        header.find("Hard Limit"),
        header.find("Units"),
    ) else {
        return BTreeMap::new();
    };
    let col = |l: &str, a: usize, b: Option<usize>| -> String {
        let end = b.unwrap_or(l.len()).min(l.len());
        l.get(a.min(end)..end).unwrap_or("").trim().to_string()
    };
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            (
                col(l, 0, Some(soft_at)),
                Limit {
                    soft: col(l, soft_at, Some(hard_at)),
                    hard: col(l, hard_at, units_at),
                    units: units_at.map(|u| col(l, u, None)).unwrap_or_default(),
                },
            )
        })
        .collect()
}

/// `ps -o pid,user` rows (header skipped).
pub fn parse_ps_pid_user(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let pid = f.next()?.parse().ok()?;
            Some((pid, f.next()?.to_string()))
        })
        .collect()
}

/// One `lsblk` row; tree drawing removed from the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDev {
    pub name: String,
    pub size: String,
    pub kind: String,
    pub mountpoint: Option<String>,
    /// Tree depth (0 for disks).
    pub depth: usize,
}

/// `lsblk` (default columns NAME MAJ:MIN RM SIZE RO TYPE MOUNTPOINT[S]).
pub fn parse_lsblk(text: &str) -> Vec<BlockDev> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    if !header.contains("NAME") {
        return Vec::new();
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let prefix_len = l
                .char_indices()
                .find(|(_, c)| !(c.is_whitespace() || "├└│─|`-".contains(*c)))
                .map(|(i, _)| i)?;
            // Each tree level is two columns wide (`├─`, `│ ` or blanks).
            let depth = l[..prefix_len].chars().count() / 2;
            let rest = &l[prefix_len..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            Some(BlockDev {
                name: f[0].to_string(),
                size: f[3].to_string(),
                kind: f[5].to_string(),
                mountpoint: (f.len() > 6).then(|| f[6..].join(" ")),
                depth,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_ef_line() {
        let p = parse_ps_ef_line("root      65353      1  0 03:02 ?        00:00:00 /usr/bin/dockerd -H unix:///var/run/docker.sock").unwrap();
        assert_eq!(p.pid, 65353);
        assert_eq!(
            p.argv,
            ["/usr/bin/dockerd", "-H", "unix:///var/run/docker.sock"]
        );
    }

    #[test]
    fn cgroup_line() {
        let p =
            parse_systemctl_cgroup_line("           ├─1061 /usr/bin/dockerd -H tcp://0.0.0.0:2375")
                .unwrap();
        assert_eq!(p.pid, 1061);
        assert_eq!(p.argv[2], "tcp://0.0.0.0:2375");
    }

    #[test]
    fn limits_units_may_be_empty() {
        let t = "Limit                     Soft Limit           Hard Limit           Units     \nMax nice priority         0                    0                    \nMax open files            1024                 4096                 files     \n";
        let l = parse_proc_limits(t);
        assert_eq!(l["Max nice priority"].units, "");
        assert_eq!(l["Max open files"].numbers(), Some((1024, 4096)));
    }
}
