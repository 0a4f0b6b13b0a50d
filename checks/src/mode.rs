//! File modes and ownership as `stat` reports them.
//!
//! "644 or more restrictive" means: no permission bit outside 0644 is set.
//! That is a bit-mask test (`mode & !0o644 == 0`). Comparing the digits as a
//! decimal number (`[ "$(stat -c %a f)" -le 644 ]`) lets 0604 pass a 0640
//! limit and 0477 pass a 0644 limit; see the tests.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Permission bits including setuid/setgid/sticky (`0o7777`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mode(pub u32);

impl Mode {
    /// Parses `stat -c %a` output (`644`, `2755`, `0600`): octal digits.
    pub fn parse_octal(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() || s.len() > 5 {
            return None;
        }
        u32::from_str_radix(s, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(Mode)
    }

    /// True when every set bit is also set in `allowed` ("`allowed` or more
    /// restrictive").
    pub fn within(self, allowed: u32) -> bool {
        self.excess(allowed) == 0
    }

    /// The bits set beyond `allowed`.
    pub fn excess(self, allowed: u32) -> u32 {
        self.0 & !allowed & 0o7777
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Mode::parse_octal(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not an octal file mode")))
    }
}

/// One line of `stat -L -c '%n|%U|%G|%a|%F|%u|%g|%Y'`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatEntry {
    pub path: String,
    pub owner: String,
    pub group: String,
    pub mode: Mode,
    /// `regular file`, `directory`, `socket`, …
    pub kind: String,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
    /// Modification time, seconds since the epoch.
    #[serde(default)]
    pub mtime: Option<i64>,
    /// `device:inode` of the file reached (two paths with the same id are
    /// one file).
    #[serde(default)]
    pub file_id: Option<String>,
    /// The path itself is a symbolic link (the fields describe its target).
    #[serde(default)]
    pub symlink: bool,
}

impl StatEntry {
    /// Parses the probe's line (`%n|%U|%G|%a|%F|%u|%g|%Y|%d:%i`), the same
    /// without the file id, or the 5-field `%n|%U|%G|%a|%F` form people
    /// paste. Fields are taken from the right so that a `|` inside the path
    /// survives.
    pub fn parse_line(line: &str) -> Option<Self> {
        let fields: Vec<&str> = line.split('|').collect();
        let last = fields.last().copied().unwrap_or("");
        let is_id = last
            .split_once(':')
            .is_some_and(|(d, i)| d.parse::<u64>().is_ok() && i.parse::<u64>().is_ok());
        let n_tail = if fields.len() >= 9 && is_id {
            8
        } else if fields.len() >= 8 && last.parse::<i64>().is_ok() {
            7
        } else if fields.len() >= 5 {
            4
        } else {
            return None;
        };
        let split = fields.len() - n_tail;
        let path = fields[..split].join("|");
        let t = &fields[split..];
        let long = n_tail >= 7;
        Some(StatEntry {
            path,
            owner: t[0].to_string(),
            group: t[1].to_string(),
            mode: Mode::parse_octal(t[2])?,
            kind: t[3].to_string(),
            uid: if long { t[4].parse().ok() } else { None },
            gid: if long { t[5].parse().ok() } else { None },
            mtime: if long { t[6].parse().ok() } else { None },
            file_id: (n_tail == 8).then(|| t[7].to_string()),
            symlink: false,
        })
    }

    /// `path root:root 0644 (regular file)`, the evidence form.
    pub fn describe(&self) -> String {
        format!(
            "{} {}:{} {} ({})",
            self.path, self.owner, self.group, self.mode, self.kind
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal_le(mode: &str, limit: &str) -> bool {
        mode.parse::<u32>().unwrap() <= limit.parse::<u32>().unwrap()
    }

    #[test]
    fn masks_decide_more_restrictive() {
        let m = |s| Mode::parse_octal(s).unwrap();
        assert!(m("644").within(0o644));
        assert!(m("600").within(0o644));
        assert!(m("400").within(0o644));
        assert!(!m("664").within(0o644), "group write is not allowed by 644");
        assert!(!m("755").within(0o644), "exec bits are not allowed by 644");
        assert!(m("755").within(0o755));
        assert!(!m("2755").within(0o755), "setgid is beyond 755");
        assert!(m("660").within(0o660));
        assert!(!m("666").within(0o660));
        assert_eq!(m("664").excess(0o644), 0o020);
    }

    #[test]
    fn decimal_comparison_is_wrong_where_masks_are_right() {
        // 0604 grants others read, which a 0640 limit forbids; 604 <= 640
        // as numbers, so a decimal test passes it.
        assert!(decimal_le("604", "640"));
        assert!(!Mode::parse_octal("604").unwrap().within(0o640));
        // 0477 grants group and others write and exec; 477 <= 644.
        assert!(decimal_le("477", "644"));
        assert!(!Mode::parse_octal("477").unwrap().within(0o644));
        // Where both agree, for contrast.
        assert!(!decimal_le("664", "644"));
        assert!(!Mode::parse_octal("664").unwrap().within(0o644));
    }

    #[test]
    fn parses_octal_not_decimal() {
        assert_eq!(Mode::parse_octal("644"), Some(Mode(0o644)));
        assert_eq!(Mode::parse_octal("0600"), Some(Mode(0o600)));
        assert_eq!(Mode::parse_octal("1777"), Some(Mode(0o1777)));
        assert_eq!(Mode::parse_octal("8"), None);
        assert_eq!(Mode::parse_octal(""), None);
        assert_eq!(Mode(0o644).to_string(), "0644");
    }

    #[test]
    fn stat_lines_parse() {
        let e =
            StatEntry::parse_line("/var/run/docker.sock|root|docker|660|socket|0|994|1700000000")
                .unwrap();
        assert_eq!(e.path, "/var/run/docker.sock");
        assert_eq!((e.owner.as_str(), e.group.as_str()), ("root", "docker"));
        assert_eq!(e.mode, Mode(0o660));
        assert_eq!(e.kind, "socket");
        assert_eq!(
            (e.uid, e.gid, e.mtime),
            (Some(0), Some(994), Some(1_700_000_000))
        );
        let short = StatEntry::parse_line("/etc/docker|root|root|755|directory").unwrap();
        assert_eq!(short.mode, Mode(0o755));
        assert_eq!(short.uid, None);
        let piped = StatEntry::parse_line("/odd|name|root|root|644|regular file|0|0|1").unwrap();
        assert_eq!(piped.path, "/odd|name");
        let id = StatEntry::parse_line(
            "/usr/bin/runc|root|root|755|regular file|0|0|1706881985|2048:4972",
        )
        .unwrap();
        assert_eq!(id.file_id.as_deref(), Some("2048:4972"));
        assert_eq!(id.mtime, Some(1_706_881_985));
        assert!(StatEntry::parse_line("garbage").is_none());
    }
}
