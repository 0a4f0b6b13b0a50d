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

/// Waits until systemd has finished starting up. `is-system-running --wait`
/// needs systemd 240 or later; on older ones (CentOS 7 has 219) it fails at
/// once, so the state is polled until it is no longer starting.
pub const WAIT_FOR_BOOT: &str = "systemctl is-system-running --wait >/dev/null 2>&1 || { i=0; while [ $i -lt 300 ]; do case $(systemctl is-system-running 2>/dev/null) in initializing|starting) sleep 1 ;; *) break ;; esac; i=$((i+1)); done; }";

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
}
