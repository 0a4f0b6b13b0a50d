//! Which mount holds a path: `findmnt -rno TARGET,SOURCE,FSTYPE -T path`
//! lines, or `/proc/self/mountinfo` where findmnt is missing (busybox).

use serde::{Deserialize, Serialize};

/// The mount a path lives on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub target: String,
    pub source: String,
    pub fstype: String,
}

/// Parses one `findmnt -r` line; `-r` escapes blanks as `\x20`.
pub fn parse_findmnt_raw(line: &str) -> Option<Mount> {
    let mut f = line.split_whitespace().map(unescape_hex);
    Some(Mount {
        target: f.next()?,
        source: f.next().unwrap_or_default(),
        fstype: f.next().unwrap_or_default(),
    })
}

fn unescape_hex(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        match rest
            .get(i + 2..i + 4)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            Some(b) => {
                out.push(char::from(b));
                rest = &rest[i + 4..];
            }
            None => {
                out.push_str("\\x");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes the kernel's octal escapes in mount tables (`\040` for a space).
pub fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount holding `path` according to mountinfo: the last-mounted entry
/// whose mount point is `path` or its longest ancestor.
pub fn mount_of_from_mountinfo(mountinfo: &str, path: &str) -> Option<Mount> {
    let mut best: Option<Mount> = None;
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(sep) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        if f.len() < 5 || f.len() < sep + 3 {
            continue;
        }
        let target = unescape_octal(f[4]);
        if !is_under(path, &target) {
            continue;
        }
        let better = best.as_ref().is_none_or(|b| target.len() >= b.target.len());
        if better {
            best = Some(Mount {
                target,
                source: unescape_octal(f[sep + 2]),
                fstype: f[sep + 1].to_string(),
            });
        }
    }
    best
}

fn is_under(path: &str, mountpoint: &str) -> bool {
    mountpoint == "/"
        || path == mountpoint
        || path
            .strip_prefix(mountpoint)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findmnt_raw_lines() {
        let m = parse_findmnt_raw("/var/lib/docker /dev/vdb ext4").unwrap();
        assert_eq!(m.target, "/var/lib/docker");
        assert_eq!(m.source, "/dev/vdb");
        assert_eq!(m.fstype, "ext4");
        let m = parse_findmnt_raw("/mnt/my\\x20disk /dev/sdb1 xfs").unwrap();
        assert_eq!(m.target, "/mnt/my disk");
    }

    #[test]
    fn mountinfo_longest_prefix() {
        let mi = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
30 22 254:16 / /var/lib/docker rw,relatime shared:9 - ext4 /dev/vdb rw
31 22 0:25 / /var/lib/dockerx rw - tmpfs tmpfs rw
32 22 0:26 / /mnt/a\\040b rw - tmpfs tmpfs rw
";
        assert_eq!(
            mount_of_from_mountinfo(mi, "/var/lib/docker")
                .unwrap()
                .source,
            "/dev/vdb"
        );
        assert_eq!(
            mount_of_from_mountinfo(mi, "/var/lib/docker/100000.100000")
                .unwrap()
                .target,
            "/var/lib/docker"
        );
        assert_eq!(mount_of_from_mountinfo(mi, "/var/lib").unwrap().target, "/");
        assert_eq!(
            mount_of_from_mountinfo(mi, "/var/lib/dockerxy")
                .unwrap()
                .target,
            "/"
        );
        assert_eq!(
            mount_of_from_mountinfo(mi, "/mnt/a b/c").unwrap().target,
            "/mnt/a b"
        );
    }
}
