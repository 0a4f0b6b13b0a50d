//! The package mirror, taken from the host's own apt sources, never
//! hard-coded. `None` leaves the choice to debootstrap's default.

use std::path::Path;

/// `SHIPSHAPE_MIRROR`, else the first Debian archive URI in the host's apt
/// sources (one-line or deb822 format), skipping security archives.
pub fn host_mirror() -> Option<String> {
    if let Ok(m) = std::env::var("SHIPSHAPE_MIRROR") {
        if !m.is_empty() {
            return Some(m);
        }
    }
    let mut files = vec![Path::new("/etc/apt/sources.list").to_path_buf()];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    files.iter().find_map(|f| {
        let text = std::fs::read_to_string(f).ok()?;
        let name = f.to_string_lossy();
        if name.ends_with(".sources") {
            from_deb822(&text)
        } else if name.ends_with(".list") {
            from_one_line(&text)
        } else {
            None
        }
    })
}

fn is_debian_archive(uri: &str, suites: &str) -> bool {
    let uri_ok =
        (uri.starts_with("http://") || uri.starts_with("https://") || uri.starts_with("file:"))
            && !uri.contains("security");
    let suite_ok = suites.split_whitespace().any(|s| {
        matches!(
            s,
            "bookworm"
                | "trixie"
                | "bullseye"
                | "sid"
                | "stable"
                | "testing"
                | "unstable"
                | "oldstable"
        )
    });
    uri_ok && suite_ok
}

pub fn from_one_line(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.split('#').next()?.trim();
        let rest = line.strip_prefix("deb ")?.trim_start();
        // Skip an options block: deb [arch=amd64 signed-by=...] URI suite ...
        let rest = if rest.starts_with('[') {
            rest.split_once(']')?.1.trim_start()
        } else {
            rest
        };
        let mut words = rest.split_whitespace();
        let uri = words.next()?;
        let suite = words.next()?;
        is_debian_archive(uri, suite).then(|| uri.trim_end_matches('/').to_string())
    })
}

pub fn from_deb822(text: &str) -> Option<String> {
    text.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_string())
            })
        };
        if field("Enabled").is_some_and(|v| v.eq_ignore_ascii_case("no")) {
            return None;
        }
        if !field("Types")?.split_whitespace().any(|t| t == "deb") {
            return None;
        }
        let suites = field("Suites")?;
        field("URIs")?
            .split_whitespace()
            .find(|u| is_debian_archive(u, &suites))
            .map(|u| u.trim_end_matches('/').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_skips_security_and_foreign() {
        let text = "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n\n\
                    Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n\
                    Types: deb\n# comment\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n";
        assert_eq!(
            from_deb822(text).as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn one_line_with_options() {
        let text = "# deb http://old/ bookworm main\ndeb [arch=amd64] http://m.example/debian bookworm main\n";
        assert_eq!(
            from_one_line(text).as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(from_one_line("deb http://x/ubuntu jammy main\n"), None);
    }
}
