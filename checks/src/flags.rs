//! The dockerd command line, parsed the way dockerd itself parses it
//! (spf13/pflag):
//!
//! - `--name=value` and `--name value` for flags that take a value; the next
//!   argument is consumed whatever it looks like (`-H -x` makes `-x` the host).
//! - Boolean flags take their value only as `--name=value`: `--live-restore`
//!   is true, `--live-restore=false` is false, and `--live-restore false`
//!   is `true` followed by a positional argument `false`, which dockerd
//!   rejects ("accepts no arguments"), so it would not start.
//! - `--no-new-privileges=false` does NOT set the option: string tests like
//!   `grep -- --no-new-privileges` get this wrong.
//! - Short forms: `-H tcp://…`, `-Htcp://…`, `-H=tcp://…`, and bundled
//!   booleans (`-Dv`), a value flag ending the bundle (`-DH unix://…`).
//! - Repeated flags are all kept, in order (`-H` twice, `--insecure-registry`
//!   twice, `--default-ulimit` twice); for single-valued flags the last wins.
//! - `--` ends the flags.
//!
//! Flags shipshape does not know are kept with a guessed shape and listed in
//! [`ParsedFlags::unknown`], so a typo shows up in the evidence.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    Bool,
    Value,
}

#[derive(Debug, Clone, Copy)]
pub struct FlagSpec {
    pub long: &'static str,
    pub short: Option<char>,
    pub kind: FlagKind,
}

const fn b(long: &'static str, short: Option<char>) -> FlagSpec {
    FlagSpec {
        long,
        short,
        kind: FlagKind::Bool,
    }
}
const fn v(long: &'static str, short: Option<char>) -> FlagSpec {
    FlagSpec {
        long,
        short,
        kind: FlagKind::Value,
    }
}

/// dockerd's flags (17.x to 28.x, removed ones included so old command lines
/// still parse). The kind matters: it decides whether the next argument is
/// consumed.
pub static DOCKERD_FLAGS: &[FlagSpec] = &[
    // booleans
    b("allow-direct-routing", None),
    b("api-enable-cors", None),
    b("cri-containerd", None),
    b("debug", Some('D')),
    b("disable-legacy-registry", None),
    b("experimental", None),
    b("help", Some('h')),
    b("icc", None),
    b("init", None),
    b("ip-forward", None),
    b("ip-forward-no-drop", None),
    b("ip-masq", None),
    b("ip6tables", None),
    b("iptables", None),
    b("ipv6", None),
    b("live-restore", None),
    b("no-new-privileges", None),
    b("raw-logs", None),
    b("rootless", None),
    b("selinux-enabled", None),
    b("tls", None),
    b("tlsverify", None),
    b("userland-proxy", None),
    b("validate", None),
    b("version", Some('v')),
    // values
    v("add-runtime", None),
    v("allow-nondistributable-artifacts", None),
    v("api-cors-header", None),
    v("authorization-plugin", None),
    v("bip", None),
    v("bip6", None),
    v("bridge", Some('b')),
    v("bridge-accept-fwmark", None),
    v("cdi-spec-dir", None),
    v("cgroup-parent", None),
    v("cluster-advertise", None),
    v("cluster-store", None),
    v("cluster-store-opt", None),
    v("config-file", None),
    v("containerd", None),
    v("containerd-namespace", None),
    v("containerd-plugins-namespace", None),
    v("cpu-rt-period", None),
    v("cpu-rt-runtime", None),
    v("data-root", None),
    v("default-address-pool", None),
    v("default-cgroupns-mode", None),
    v("default-gateway", None),
    v("default-gateway-v6", None),
    v("default-ipc-mode", None),
    v("default-network-opt", None),
    v("default-runtime", None),
    v("default-shm-size", None),
    v("default-ulimit", None),
    v("dns", None),
    v("dns-opt", None),
    v("dns-search", None),
    v("exec-driver", Some('e')),
    v("exec-opt", None),
    v("exec-root", None),
    v("feature", None),
    v("firewall-backend", None),
    v("fixed-cidr", None),
    v("fixed-cidr-v6", None),
    v("graph", Some('g')),
    v("group", Some('G')),
    v("host", Some('H')),
    v("host-gateway-ip", None),
    v("http-proxy", None),
    v("https-proxy", None),
    v("init-path", None),
    v("insecure-registry", None),
    v("ip", None),
    v("label", None),
    v("log-driver", None),
    v("log-format", None),
    v("log-level", Some('l')),
    v("log-opt", None),
    v("max-concurrent-downloads", None),
    v("max-concurrent-uploads", None),
    v("max-download-attempts", None),
    v("metrics-addr", None),
    v("mtu", None),
    v("network-control-plane-mtu", None),
    v("no-proxy", None),
    v("node-generic-resource", None),
    v("oom-score-adjust", None),
    v("pidfile", Some('p')),
    v("registry-mirror", None),
    v("seccomp-profile", None),
    v("shutdown-timeout", None),
    v("storage-driver", Some('s')),
    v("storage-opt", None),
    v("swarm-default-advertise-addr", None),
    v("tlscacert", None),
    v("tlscert", None),
    v("tlskey", None),
    v("userland-proxy-path", None),
    v("userns-remap", None),
];

pub fn spec_long(name: &str) -> Option<&'static FlagSpec> {
    DOCKERD_FLAGS.iter().find(|f| f.long == name)
}

fn spec_short(c: char) -> Option<&'static FlagSpec> {
    DOCKERD_FLAGS.iter().find(|f| f.short == Some(c))
}

/// One occurrence of a flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagOcc {
    /// The long name, without dashes (`host` for `-H`).
    pub name: String,
    /// The value as dockerd sees it (`true` for a bare boolean).
    pub value: String,
    /// As written on the command line, for evidence (`-H tcp://0.0.0.0:2375`).
    pub raw: String,
}

/// A parsed dockerd command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedFlags {
    pub flags: Vec<FlagOcc>,
    /// Positional arguments; dockerd accepts none.
    pub positional: Vec<String>,
    /// Flags not in [`DOCKERD_FLAGS`] (as written).
    pub unknown: Vec<String>,
    /// Parse errors dockerd would also stop at (`flag needs an argument`).
    pub errors: Vec<String>,
}

impl ParsedFlags {
    /// Every occurrence of `name` (long name), in order.
    pub fn all(&self, name: &str) -> Vec<&FlagOcc> {
        self.flags.iter().filter(|f| f.name == name).collect()
    }

    /// The occurrence that wins for a single-valued flag.
    pub fn last(&self, name: &str) -> Option<&FlagOcc> {
        self.flags.iter().rev().find(|f| f.name == name)
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f.name == name)
    }

    /// The value of a boolean flag, when given; `Err` for a value dockerd
    /// would refuse (`--icc=maybe`).
    pub fn bool(&self, name: &str) -> Option<Result<bool, String>> {
        self.last(name).map(|f| {
            parse_go_bool(&f.value)
                .ok_or_else(|| format!("{}: `{}` is not a boolean", f.raw, f.value))
        })
    }

    /// Problems that stop dockerd from starting with this command line.
    pub fn fatal_problems(&self) -> Vec<String> {
        let mut out = self.errors.clone();
        if !self.positional.is_empty() {
            out.push(format!(
                "positional argument(s) {:?}: dockerd accepts no arguments and would not start \
                 (a boolean takes its value only as --flag=false)",
                self.positional
            ));
        }
        out
    }
}

/// Go's `strconv.ParseBool`, which pflag uses for boolean flags.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Parses a full command line; `argv[0]` (the program) is skipped when it
/// does not start with `-`.
pub fn parse_command_line(argv: &[String]) -> ParsedFlags {
    match argv.first() {
        Some(first) if !first.starts_with('-') => parse_args(&argv[1..]),
        _ => parse_args(argv),
    }
}

/// Parses dockerd's arguments (without the program name).
pub fn parse_args(args: &[String]) -> ParsedFlags {
    let mut out = ParsedFlags::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            out.positional.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = a.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let spec = spec_long(name);
            if spec.is_none() {
                out.unknown.push(a.clone());
            }
            let kind = spec.map_or_else(
                // Unknown: guess from the shape, like a human would.
                || {
                    if inline.is_some() || args.get(i).is_some_and(|n| !n.starts_with('-')) {
                        FlagKind::Value
                    } else {
                        FlagKind::Bool
                    }
                },
                |s| s.kind,
            );
            let canonical = canonical_name(name);
            match (kind, inline) {
                (_, Some(val)) => out.flags.push(occ(canonical, val, a.clone())),
                (FlagKind::Bool, None) => out.flags.push(occ(canonical, "true", a.clone())),
                (FlagKind::Value, None) => match args.get(i) {
                    Some(val) => {
                        out.flags.push(occ(canonical, val, format!("{a} {val}")));
                        i += 1;
                    }
                    None => out.errors.push(format!("flag needs an argument: {a}")),
                },
            }
        } else if a.len() > 1 && a.starts_with('-') {
            // A bundle of shorthands: booleans, optionally ending in one that
            // takes a value (the rest of the word, or the next argument).
            let chars: Vec<char> = a[1..].chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let c = chars[k];
                k += 1;
                let Some(spec) = spec_short(c) else {
                    out.errors
                        .push(format!("unknown shorthand flag: '{c}' in {a}"));
                    break;
                };
                let rest: String = chars[k..].iter().collect();
                let name = canonical_name(spec.long);
                if let Some(val) = rest.strip_prefix('=') {
                    out.flags.push(occ(name, val, a.clone()));
                    break;
                }
                match spec.kind {
                    FlagKind::Bool => out.flags.push(occ(name, "true", format!("-{c}"))),
                    FlagKind::Value if !rest.is_empty() => {
                        out.flags.push(occ(name, &rest, a.clone()));
                        break;
                    }
                    FlagKind::Value => {
                        match args.get(i) {
                            Some(val) => {
                                out.flags.push(occ(name, val, format!("{a} {val}")));
                                i += 1;
                            }
                            None => out
                                .errors
                                .push(format!("flag needs an argument: '{c}' in {a}")),
                        }
                        break;
                    }
                }
            }
        } else {
            out.positional.push(a.clone());
        }
    }
    out
}

/// Old spellings dockerd still maps onto the current option.
fn canonical_name(name: &str) -> &str {
    match name {
        "graph" => "data-root",
        other => other,
    }
}

fn occ(name: &str, value: &str, raw: String) -> FlagOcc {
    FlagOcc {
        name: name.to_string(),
        value: value.to_string(),
        raw,
    }
}

/// Splits a `ps -ef` style command (already whitespace-joined, so quoting is
/// lost, as in the seed's outputs) into words.
pub fn split_ps_command(cmd: &str) -> Vec<String> {
    cmd.split_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> ParsedFlags {
        parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn values(f: &ParsedFlags, name: &str) -> Vec<String> {
        f.all(name).into_iter().map(|o| o.value.clone()).collect()
    }

    #[test]
    fn value_flag_forms() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&["--log-level=debug"], "log-level", "debug"),
            (&["--log-level", "debug"], "log-level", "debug"),
            (&["-l", "debug"], "log-level", "debug"),
            (&["-ldebug"], "log-level", "debug"),
            (&["-l=debug"], "log-level", "debug"),
            (&["-G", "docker"], "group", "docker"),
            (&["-H", "tcp://0.0.0.0:2375"], "host", "tcp://0.0.0.0:2375"),
            (
                &["--host=unix:///var/run/docker.sock"],
                "host",
                "unix:///var/run/docker.sock",
            ),
            (&["-g", "/data/docker"], "data-root", "/data/docker"),
            (&["--graph=/data/docker"], "data-root", "/data/docker"),
            (&["--cgroup-parent="], "cgroup-parent", ""),
            (&["--authorization-plugin="], "authorization-plugin", ""),
            // The next argument is the value even when it looks like a flag.
            (&["--log-opt", "--weird"], "log-opt", "--weird"),
        ];
        for (args, name, want) in cases {
            let f = p(args);
            assert_eq!(
                f.last(name).map(|o| o.value.as_str()),
                Some(*want),
                "{args:?}"
            );
            assert!(
                f.positional.is_empty() && f.errors.is_empty(),
                "{args:?}: {f:?}"
            );
        }
    }

    #[test]
    fn boolean_flag_forms() {
        let cases: &[(&[&str], &str, Option<bool>)] = &[
            (&["--live-restore"], "live-restore", Some(true)),
            (&["--live-restore=true"], "live-restore", Some(true)),
            (&["--live-restore=false"], "live-restore", Some(false)),
            (
                &["--no-new-privileges=false"],
                "no-new-privileges",
                Some(false),
            ),
            (&["--no-new-privileges"], "no-new-privileges", Some(true)),
            (&["--userland-proxy=false"], "userland-proxy", Some(false)),
            (&["--icc=0"], "icc", Some(false)),
            (&["--tlsverify=True"], "tlsverify", Some(true)),
            (&["-D"], "debug", Some(true)),
            (&["-D=false"], "debug", Some(false)),
            (&["--experimental"], "experimental", Some(true)),
            (&[], "experimental", None),
        ];
        for (args, name, want) in cases {
            let f = p(args);
            assert_eq!(f.bool(name).map(|r| r.unwrap()), *want, "{args:?}");
            assert!(f.positional.is_empty(), "{args:?}");
        }
    }

    #[test]
    fn bool_flag_then_separate_false_is_true_plus_positional() {
        // pflag gives booleans NoOptDefVal "true": the `false` is not consumed.
        let f = p(&["--no-new-privileges", "false"]);
        assert_eq!(f.bool("no-new-privileges"), Some(Ok(true)));
        assert_eq!(f.positional, ["false"]);
        assert!(f.fatal_problems()[0].contains("accepts no arguments"));
    }

    #[test]
    fn invalid_bool_is_reported() {
        let f = p(&["--icc=maybe"]);
        assert!(f.bool("icc").unwrap().is_err());
    }

    #[test]
    fn repeated_flags_are_all_kept() {
        let f = p(&[
            "-H",
            "tcp://0.0.0.0:2375",
            "-H",
            "unix:///var/run/docker.sock",
            "--insecure-registry",
            "a.example:5000",
            "--insecure-registry=b.example",
            "--default-ulimit",
            "nofile=20480:40960",
            "--default-ulimit=nproc=1024:2048",
        ]);
        assert_eq!(
            values(&f, "host"),
            ["tcp://0.0.0.0:2375", "unix:///var/run/docker.sock"]
        );
        assert_eq!(
            values(&f, "insecure-registry"),
            ["a.example:5000", "b.example"]
        );
        assert_eq!(
            values(&f, "default-ulimit"),
            ["nofile=20480:40960", "nproc=1024:2048"]
        );
    }

    #[test]
    fn shorthand_bundles() {
        let f = p(&["-DH", "unix:///x.sock"]);
        assert_eq!(f.bool("debug"), Some(Ok(true)));
        assert_eq!(values(&f, "host"), ["unix:///x.sock"]);
        let f = p(&["-Dv"]);
        assert!(f.is_set("debug") && f.is_set("version"));
    }

    #[test]
    fn missing_values_and_terminator() {
        let f = p(&["--tlscacert"]);
        assert_eq!(f.errors, ["flag needs an argument: --tlscacert"]);
        let f = p(&["-H"]);
        assert_eq!(f.errors.len(), 1);
        let f = p(&["--debug", "--", "--live-restore"]);
        assert!(!f.is_set("live-restore"));
        assert_eq!(f.positional, ["--live-restore"]);
    }

    #[test]
    fn unknown_flags_are_listed() {
        let f = p(&["--live-restor", "--bogus=1", "--icc=false"]);
        assert_eq!(f.unknown, ["--live-restor", "--bogus=1"]);
        assert_eq!(f.bool("icc"), Some(Ok(false)));
    }

    #[test]
    fn program_name_is_skipped() {
        let argv: Vec<String> = [
            "/usr/sbin/dockerd",
            "-H",
            "fd://",
            "--containerd=/run/containerd/containerd.sock",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let f = parse_command_line(&argv);
        assert_eq!(values(&f, "host"), ["fd://"]);
        assert_eq!(
            values(&f, "containerd"),
            ["/run/containerd/containerd.sock"]
        );
        assert!(f.positional.is_empty());
    }

    #[test]
    fn seed_tls_command_line() {
        // The ExecStart from the seed's TLS fix, verbatim.
        let line = "/usr/bin/dockerd --tlsverify --tlscacert=/root/docker/ca.pem --tlscert=/root/docker/server-cert.pem --tlskey=/root/docker/server-key.pem -H unix:///var/run/docker.sock -H tcp://192.168.235.128:2375";
        let f = parse_command_line(&split_ps_command(line));
        assert_eq!(f.bool("tlsverify"), Some(Ok(true)));
        assert_eq!(f.last("tlscacert").unwrap().value, "/root/docker/ca.pem");
        assert_eq!(
            f.last("tlskey").unwrap().value,
            "/root/docker/server-key.pem"
        );
        assert_eq!(
            values(&f, "host"),
            ["unix:///var/run/docker.sock", "tcp://192.168.235.128:2375"]
        );
        assert_eq!(f.all("host")[1].raw, "-H tcp://192.168.235.128:2375");
    }

    #[test]
    fn every_spec_is_unique() {
        for (i, a) in DOCKERD_FLAGS.iter().enumerate() {
            for b in &DOCKERD_FLAGS[i + 1..] {
                assert_ne!(a.long, b.long);
                if a.short.is_some() {
                    assert_ne!(a.short, b.short, "{} / {}", a.long, b.long);
                }
            }
        }
    }
}
