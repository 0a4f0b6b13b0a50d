//! `*` and `?` globs, for scenario and control names.

/// `*` and `?` globbing for scenario filters.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*", "live-restore"));
        assert!(glob_match("live-*", "live-restore"));
        assert!(glob_match("*proxy", "userland-proxy"));
        assert!(glob_match("us?rns-remap", "userns-remap"));
        assert!(!glob_match("live", "live-restore"));
    }
}
