//! Audit rules as `auditctl -l` prints them and as rules files hold them:
//! which paths are watched.

use serde::{Deserialize, Serialize};

/// One file-system rule: `-w PATH …` or `-a … -F path=PATH` / `-F dir=PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRule {
    pub path: String,
    pub perms: Option<String>,
    pub key: Option<String>,
    /// The rule line as read.
    pub line: String,
}

/// Extracts the watch rules from rules text; other lines (syscall rules
/// without a path, `-D`, `-b`, `-e`, comments, `No rules`) are skipped.
pub fn parse_rules(text: &str) -> Vec<WatchRule> {
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let tok: Vec<&str> = t.split_whitespace().collect();
        let mut path = None;
        let mut perms = None;
        let mut key = None;
        let mut i = 0;
        while i < tok.len() {
            let next = tok.get(i + 1).copied();
            match tok[i] {
                "-w" => path = next.map(str::to_string),
                "-p" => perms = next.map(str::to_string),
                "-k" => key = next.map(str::to_string),
                "-F" => {
                    if let Some(f) = next {
                        if let Some(p) = f.strip_prefix("path=").or_else(|| f.strip_prefix("dir="))
                        {
                            path = Some(p.to_string());
                        } else if let Some(p) = f.strip_prefix("perm=") {
                            perms = Some(p.to_string());
                        } else if let Some(k) = f.strip_prefix("key=") {
                            key = Some(k.to_string());
                        }
                    }
                }
                _ => {
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        if let Some(path) = path {
            out.push(WatchRule {
                path: path.trim_end_matches('/').to_string().replace("//", "/"),
                perms,
                key,
                line: t.to_string(),
            });
        }
    }
    out
}

/// The rules watching exactly one of `paths`.
pub fn rules_for<'a>(rules: &'a [WatchRule], paths: &[&str]) -> Vec<&'a WatchRule> {
    rules
        .iter()
        .filter(|r| paths.iter().any(|p| r.path == p.trim_end_matches('/')))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_rule_forms() {
        let text = "\
-w /usr/sbin/dockerd -p rwxa -k docker
-a always,exit -F arch=b64 -S all -F path=/usr/bin/containerd -F perm=rwxa -F key=docker
-a always,exit -F dir=/etc/docker/ -F perm=wa -F key=docker
-a always,exit -F arch=b64 -S execve -k exec
# -w /etc/default/docker -k docker
No rules
";
        let r = parse_rules(text);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].path, "/usr/sbin/dockerd");
        assert_eq!(r[0].perms.as_deref(), Some("rwxa"));
        assert_eq!(r[1].path, "/usr/bin/containerd");
        assert_eq!(r[1].key.as_deref(), Some("docker"));
        assert_eq!(r[2].path, "/etc/docker");
    }

    #[test]
    fn exact_paths_only() {
        let r =
            parse_rules("-w /etc/docker/daemon.json -p wa\n-w /usr/bin/dockerd-rootless.sh -p x\n");
        assert!(
            rules_for(&r, &["/etc/docker"]).is_empty(),
            "a rule on daemon.json is not one on /etc/docker"
        );
        assert!(rules_for(&r, &["/usr/bin/dockerd"]).is_empty());
        assert_eq!(rules_for(&r, &["/etc/docker/daemon.json"]).len(), 1);
    }
}
