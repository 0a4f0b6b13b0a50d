//! Quoting for the POSIX shell on the far side of an SSH exec.

/// Quotes `s` as one word for `sh`.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Joins argv into one shell command line.
pub fn join<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Waits until systemd has finished starting up and prints its state
/// (`running`, `degraded`, …). `is-system-running --wait` needs systemd 240
/// or later; on older ones (CentOS 7 has 219) it fails at once, so the
/// state is polled until it is no longer starting.
pub const WAIT_FOR_BOOT: &str = "s=$(systemctl is-system-running --wait 2>/dev/null); case $s in initializing|starting|'') i=0; while [ $i -lt 600 ]; do s=$(systemctl is-system-running 2>/dev/null); case $s in initializing|starting|'') sleep 1 ;; *) break ;; esac; i=$((i+1)); done ;; esac; echo \"$s\"";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("abc-1.2"), "abc-1.2");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(join(&["echo", "a;b"]), "echo 'a;b'");
    }

    #[test]
    fn boot_wait_prints_the_state_old_and_new_systemd() {
        use std::os::unix::fs::PermissionsExt;
        let run = |systemctl: &str| {
            let dir = tempfile::tempdir().unwrap();
            for (name, body) in [("systemctl", systemctl), ("sleep", "exit 0")] {
                let p = dir.path().join(name);
                std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(WAIT_FOR_BOOT)
                .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
                .env("STATE", dir.path().join("n"))
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        // systemd 240+: --wait blocks, then prints the state.
        assert_eq!(run("echo degraded; exit 1"), "degraded\n");
        // systemd 219: --wait is unknown; `starting` twice, then `running`.
        let old = r#"case "$*" in *--wait*) echo "unknown option" >&2; exit 1;; esac
n=$(cat "$STATE" 2>/dev/null || echo 0); echo $((n+1)) > "$STATE"
if [ "$n" -lt 2 ]; then echo starting; else echo running; fi"#;
        assert_eq!(run(old), "running\n");
    }
}
