//! What systemd will run for docker.service: the unit fragment and its
//! drop-ins, read in order, with `ExecStart=` resets, `Environment=` /
//! `EnvironmentFile=` and systemd's own word splitting and `$VAR`/`${VAR}`
//! expansion. `systemctl show` output is parsed too.

use std::collections::BTreeMap;

/// `systemctl show` output: key → values (a key may repeat, e.g.
/// `EnvironmentFiles=`).
pub fn parse_show(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            out.entry(k.to_string()).or_default().push(v.to_string());
        }
    }
    out
}

/// The `argv[]=` part of a `systemctl show -p ExecStart` value
/// (`{ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// ; … }`).
/// systemd prints the words joined by spaces, so quoting is lost.
pub fn argv_from_show_exec(value: &str) -> Option<Vec<String>> {
    let start = value.find("argv[]=")? + "argv[]=".len();
    let rest = &value[start..];
    let end = rest.find(" ;").unwrap_or(rest.len());
    Some(rest[..end].split_whitespace().map(str::to_string).collect())
}

/// One unit file's `[Service]` settings the controls need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceSettings {
    /// `ExecStart=` values in order; an empty value is a reset.
    pub exec_start: Vec<String>,
    /// `Environment=` values (unsplit).
    pub environment: Vec<String>,
    /// `EnvironmentFile=` values (`-` prefix kept).
    pub environment_files: Vec<String>,
    /// Other `Key=value` pairs of `[Service]` (last one wins), e.g. `LimitNOFILE`.
    pub other: BTreeMap<String, String>,
}

/// Reads the `[Service]` section of a unit file or drop-in.
pub fn parse_unit(text: &str) -> ServiceSettings {
    let mut out = ServiceSettings::default();
    let mut in_service = false;
    for line in logical_lines(text) {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if t.starts_with('[') {
            in_service = t == "[Service]";
            continue;
        }
        if !in_service {
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "ExecStart" => out.exec_start.push(v.to_string()),
            "Environment" => out.environment.push(v.to_string()),
            "EnvironmentFile" => out.environment_files.push(v.to_string()),
            _ => {
                out.other.insert(k.to_string(), v.to_string());
            }
        }
    }
    out
}

/// Joins backslash-continued lines, as systemd does.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if let Some(head) = line.strip_suffix('\\') {
            cur.push_str(head);
            cur.push(' ');
        } else {
            cur.push_str(line);
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Applies the files in systemd's order (fragment, then drop-ins): the
/// ExecStart= that will run, and where it came from.
pub fn effective_exec_start<'a>(
    units: &[(&'a str, &ServiceSettings)],
) -> Option<(&'a str, String)> {
    let mut cur: Option<(&str, String)> = None;
    for (path, s) in units {
        for e in &s.exec_start {
            if e.is_empty() {
                cur = None;
            } else {
                cur = Some((path, e.clone()));
            }
        }
    }
    cur
}

/// Parses an environment file: `KEY=value` lines, `#`/`;` comments, single
/// or double quotes, backslash continuation.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in logical_lines(text) {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let v = v.trim();
        let value = match split_words(v) {
            Ok(words) if v.starts_with('"') || v.starts_with('\'') => words.join(" "),
            _ => v.to_string(),
        };
        out.push((k.to_string(), value));
    }
    out
}

/// `Environment=` value: space-separated, optionally quoted assignments.
pub fn parse_environment_assignments(value: &str) -> Vec<(String, String)> {
    split_words(value)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// A word of an ExecStart line before variable expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    /// `$NAME` standing alone: replaced by the value split at whitespace.
    SplitVar(String),
    /// Anything else; `${NAME}` inside is replaced in place.
    Text(String),
}

/// systemd's word splitting: whitespace separates, `"…"` and `'…'` quote,
/// backslash escapes.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    Ok(split_raw(s)?
        .into_iter()
        .map(|w| match w {
            Word::SplitVar(n) => format!("${n}"),
            Word::Text(t) => t,
        })
        .collect())
}

fn split_raw(s: &str) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut w = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '"' | '\'' => {
                    quoted = true;
                    loop {
                        match chars.next() {
                            None => return Err(format!("unterminated quote in `{s}`")),
                            Some(q) if q == c => break,
                            Some('\\') if c == '"' => {
                                if let Some(n) = chars.next() {
                                    w.push(n);
                                }
                            }
                            Some(o) => w.push(o),
                        }
                    }
                }
                '\\' => {
                    if let Some(n) = chars.next() {
                        w.push(n);
                    }
                }
                _ => w.push(c),
            }
        }
        let is_var = !quoted
            && w.len() > 1
            && w.starts_with('$')
            && w[1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        words.push(if is_var {
            Word::SplitVar(w[1..].to_string())
        } else {
            Word::Text(w)
        });
    }
    Ok(words)
}

/// Splits an ExecStart= value into argv, expanding `$VAR` (split at
/// whitespace, nothing when unset) and `${VAR}` (one word, in place).
/// Also drops the `-@:+!` prefixes of the executable.
pub fn expand_exec(value: &str, env: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, w) in split_raw(value)?.into_iter().enumerate() {
        match w {
            Word::SplitVar(name) => {
                if let Some(v) = env.get(&name) {
                    out.extend(v.split_whitespace().map(str::to_string));
                }
            }
            Word::Text(t) => {
                let t = expand_braced(&t, env);
                let t = if i == 0 {
                    t.trim_start_matches(['-', '@', ':', '+', '!']).to_string()
                } else {
                    t
                };
                out.push(t);
            }
        }
    }
    Ok(out)
}

fn expand_braced(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) => {
                out.push_str(env.get(&after[..j]).map_or("", String::as_str));
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("$$", "$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_output_parses() {
        let show = "FragmentPath=/lib/systemd/system/docker.service\nDropInPaths=/etc/systemd/system/docker.service.d/a.conf /etc/systemd/system/docker.service.d/b.conf\nEnvironmentFiles=/etc/default/docker (ignore_errors=yes)\nExecStart={ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }";
        let m = parse_show(show);
        assert_eq!(m["FragmentPath"], ["/lib/systemd/system/docker.service"]);
        assert_eq!(
            argv_from_show_exec(&m["ExecStart"][0]).unwrap(),
            ["/usr/sbin/dockerd", "-H", "fd://", "$DOCKER_OPTS"]
        );
    }

    #[test]
    fn drop_in_resets_exec_start() {
        let frag = parse_unit(
            "[Unit]\nDescription=Docker\n[Service]\nType=notify\nEnvironmentFile=-/etc/default/docker\nExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS\nLimitNOFILE=infinity\n",
        );
        let drop = parse_unit(
            "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd \\\n  -H fd:// --live-restore\n",
        );
        assert_eq!(frag.environment_files, ["-/etc/default/docker"]);
        assert_eq!(frag.other["LimitNOFILE"], "infinity");
        let (from, exec) = effective_exec_start(&[("frag", &frag), ("drop", &drop)]).unwrap();
        assert_eq!(from, "drop");
        assert_eq!(
            expand_exec(&exec, &BTreeMap::new()).unwrap(),
            ["/usr/sbin/dockerd", "-H", "fd://", "--live-restore"]
        );
    }

    #[test]
    fn exec_start_expansion_follows_systemd() {
        let env: BTreeMap<String, String> = [
            (
                "DOCKER_OPTS".to_string(),
                "--icc=false   --log-level warn".to_string(),
            ),
            ("ROOT".to_string(), "/data docker".to_string()),
        ]
        .into();
        let argv = expand_exec(
            "-/usr/bin/dockerd $DOCKER_OPTS --data-root=${ROOT} \"--label=a b\" $UNSET ${UNSET}",
            &env,
        )
        .unwrap();
        assert_eq!(
            argv,
            [
                "/usr/bin/dockerd",
                "--icc=false",
                "--log-level",
                "warn",
                "--data-root=/data docker",
                "--label=a b",
                ""
            ]
        );
    }

    #[test]
    fn env_files_parse() {
        let text = "# Debian's default\n#DOCKER_OPTS=\"--dns 8.8.8.8\"\nDOCKER_OPTS=\"--live-restore --icc=false\"\nOPTIONS='--selinux-enabled'\nexport X=1\n";
        let env = parse_env_file(text);
        assert_eq!(
            env,
            [
                (
                    "DOCKER_OPTS".to_string(),
                    "--live-restore --icc=false".to_string()
                ),
                ("OPTIONS".to_string(), "--selinux-enabled".to_string()),
            ]
        );
        assert_eq!(
            parse_environment_assignments("\"A=b c\" D=e"),
            [
                ("A".to_string(), "b c".to_string()),
                ("D".to_string(), "e".to_string())
            ]
        );
    }
}
