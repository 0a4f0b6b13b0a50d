//! The probe is POSIX sh, runs on this host (usually without Docker), and
//! always prints one JSON document; with fake tools on PATH, every section
//! round-trips through the JSON escaping.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use shipshape_checks::{parse_facts, PROBE_SH};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the probe the way the harness does (`sh -s` reading stdin).
fn run_probe(shell: &[&str], path_prefix: Option<&Path>, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(shell[0]);
    cmd.args(&shell[1..]).arg("-s");
    cmd.envs(env.iter().copied());
    if let Some(p) = path_prefix {
        let old = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{old}", p.display()));
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shell");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(PROBE_SH.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{shell:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the probe prints UTF-8")
}

#[test]
fn probe_is_posix_sh() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/src/probe.sh");
    assert_eq!(fs::read_to_string(file).unwrap(), PROBE_SH);
    let mut shells = vec![vec!["sh", "-n"]];
    if have("dash") {
        shells.push(vec!["dash", "-n"]);
    }
    if have("busybox") {
        shells.push(vec!["busybox", "sh", "-n"]);
    }
    for sh in shells {
        let st = Command::new(sh[0])
            .args(&sh[1..])
            .arg(file)
            .status()
            .unwrap();
        assert!(st.success(), "{sh:?} rejects probe.sh");
    }
    // No bashisms that `sh -n` lets through in bash-as-sh.
    for bad in ["[[ ", "local ", "$'", "<<<", "${!", "declare "] {
        assert!(!PROBE_SH.contains(bad), "probe.sh uses {bad:?}");
    }
}

#[test]
fn probe_runs_on_this_host() {
    let mut shells = vec![vec!["sh"]];
    if have("dash") {
        shells.push(vec!["dash"]);
    }
    if have("busybox") {
        shells.push(vec!["busybox", "sh"]);
    }
    for sh in shells {
        let out = run_probe(&sh, None, &[]);
        let raw: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{sh:?}: {e}\n{out}"));
        assert_eq!(raw["probe_version"], 2);
        for key in [
            "dockerd", "systemd", "files", "api", "groups", "stat", "audit", "mounts", "packages",
            "sysctl",
        ] {
            assert!(raw.get(key).is_some(), "{sh:?}: no {key}");
        }
        let facts = parse_facts(&out).unwrap();
        let no_dockerd = raw["dockerd"]["pid"].is_null();
        if no_dockerd {
            // Nothing to read: nulls and an error, not a crash.
            assert!(facts.dockerd.argv.is_empty());
            assert!(facts.dockerd.error.is_some());
        }
        if raw["api"]["info"].is_null() {
            assert!(facts.api.info.is_none());
            assert!(
                raw["api"]["info_error"].is_string(),
                "{sh:?}: an unavailable API says why"
            );
        }
        assert!(facts.file("/etc/os-release").is_some());
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("shipshape-probe-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn fake(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
}

const TRICKY: &str = "[Service]\n# quote \" backslash \\ tab \t cr \r ctl \u{1} esc \u{1b}\n# 中文 dollar $HOME `tick` percent %s %d\n\nExecStart=/usr/sbin/dockerd -H fd:// \"--label=a b\" $DOCKER_OPTS\n";

const INFO: &str = r#"{"ServerVersion":"20.10.24+dfsg1","Driver":"overlay2","LoggingDriver":"json-file","DockerRootDir":"/var/lib/docker","LiveRestoreEnabled":false,"SecurityOptions":["name=apparmor","name=seccomp,profile=default","name=cgroupns"],"Swarm":{"LocalNodeState":"inactive"},"Name":"x \"quoted\""}"#;

#[test]
fn probe_with_fake_tools_round_trips_every_section() {
    let tmp = TempDir::new("fake");
    let bin = tmp.0.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let unit = tmp.0.join("docker.service");
    let dropin = tmp.0.join("override.conf");
    let env = tmp.0.join("docker.env");
    // The unit systemd names is a symlink into another folder.
    let unit_real = tmp.0.join("units").join("docker.service");
    fs::create_dir_all(unit_real.parent().unwrap()).unwrap();
    fs::write(&unit_real, TRICKY).unwrap();
    std::os::unix::fs::symlink(&unit_real, &unit).unwrap();
    fs::write(
        &dropin,
        "[Service]\nEnvironmentFile=-".to_string() + env.to_str().unwrap() + "\n",
    )
    .unwrap();
    fs::write(&env, "DOCKER_OPTS=\"--icc=false\"\n").unwrap();
    fake(
        &bin,
        "systemctl",
        &format!(
            // Like systemctl show with several units: a blank line between
            // their blocks.
            r#"sep=
for u in "$@"; do
  case $u in
  docker.service) printf "$sep"'FragmentPath={unit}\nDropInPaths={dropin}\nEnvironmentFiles={env} (ignore_errors=yes)\nExecStart={{ path=/usr/sbin/dockerd ; argv[]=/usr/sbin/dockerd -H fd:// ; ignore_errors=no }}\nActiveState=active\nLimitNOFILE=1048576\n'; sep='\n' ;;
  docker.socket) printf "$sep"'FragmentPath=\nDropInPaths=\nListen=/run/docker.sock (Stream)\nActiveState=active\n'; sep='\n' ;;
  esac
done"#,
            unit = unit.display(),
            dropin = dropin.display(),
            env = env.display()
        ),
    );
    // DockerRootDir behind a symlink, its last part missing: the probe
    // resolves what exists (for the mount lookup) and keeps the rest.
    let real_dir = tmp.0.join("real");
    fs::create_dir_all(&real_dir).unwrap();
    std::os::unix::fs::symlink(&real_dir, tmp.0.join("link")).unwrap();
    let root_dir = tmp.0.join("link").join("docker");
    let json_line = INFO
        .replace("/var/lib/docker", root_dir.to_str().unwrap())
        .replace('\'', "'\\''");
    fake(&bin, "docker", &format!("case \"$1\" in info) printf '%s\\n' '{json_line}' ;; version) printf '%s\\n' '{{\"Client\":{{\"Version\":\"20.10.24\"}},\"Server\":{{\"Version\":\"20.10.24+dfsg1\",\"Experimental\":false}}}}' ;; esac"));
    // Like curl with `-w "\n@@code=%{http_code}@@\n"`: for each URL the body
    // (with the API's own newline), then the write-out.
    fake(
        &bin,
        "curl",
        &format!(
            r#"for a in "$@"; do
  case $a in
  http://d/info) printf '%s\n\n@@code=200@@\n' '{json_line}' ;;
  http://d/version) printf '%s\n\n@@code=200@@\n' '{{"Version":"20.10.24+dfsg1","Experimental":false}}' ;;
  esac
done"#
        ),
    );
    fake(
        &bin,
        "getent",
        r#"case "$1 $2" in
"group docker") echo 'docker:x:994:alice,bob' ;;
"group "*) exit 2 ;;
"passwd ") printf 'root:x:0:0:root:/root:/bin/bash\nmallory:x:1001:994::/home/mallory:/bin/sh\n' ;;
esac"#,
    );
    fake(&bin, "auditctl", "printf -- '-w /usr/sbin/dockerd -p rwxa -k docker\\n-a always,exit -F path=/usr/bin/containerd -F perm=x -F key=docker\\n'");
    fake(
        &bin,
        "apt-cache",
        "printf 'docker.io:\\n  Installed: 20.10.24+dfsg1-1+b3\\n  Candidate: 20.10.24+dfsg1-1+deb12u1\\n  Version table:\\n'",
    );
    fake(&bin, "dpkg-query", "exit 1");

    let shells: Vec<Vec<&str>> = [vec!["sh"], vec!["dash"], vec!["busybox", "sh"]]
        .into_iter()
        .filter(|s| have(s[0]))
        .collect();
    // A socket of our own selects the curl path; a missing one the CLI path.
    let sock = tmp.0.join("docker.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let no_sock = tmp.0.join("absent.sock");
    let mut runs = Vec::new();
    for sh in &shells {
        for (via, s) in [("curl", &sock), ("docker-cli", &no_sock)] {
            runs.push((sh.clone(), via, s.to_str().unwrap().to_string()));
        }
    }
    for (sh, via, sock) in runs {
        let out = run_probe(&sh, Some(&bin), &[("SHIPSHAPE_DOCKER_SOCK", &sock)]);
        let f = parse_facts(&out).unwrap_or_else(|e| panic!("{sh:?}: {e}\n{out}"));
        assert_eq!(f.api.via.as_deref(), Some(via), "{sh:?}");
        let unit_s = unit.to_str().unwrap();
        assert_eq!(f.service.fragment_path.as_deref(), Some(unit_s));
        assert_eq!(
            f.service.properties.get("LimitNOFILE").map(String::as_str),
            Some("1048576")
        );
        assert_eq!(f.socket.listen, ["/run/docker.sock (Stream)"]);
        // Exact content through the awk escaping (the last newline is not kept).
        assert_eq!(
            f.content(unit_s),
            Some(TRICKY.trim_end_matches('\n')),
            "{sh:?}"
        );
        assert!(f
            .content(env.to_str().unwrap())
            .unwrap()
            .contains("--icc=false"));
        let info = f.api.info.as_ref().unwrap();
        assert_eq!(info["Name"], "x \"quoted\"");
        // /info alone: it carries the version, and /version costs the
        // daemon two execs.
        assert!(f.api.version.is_none(), "{sh:?}");
        assert_eq!(info["ServerVersion"], "20.10.24+dfsg1");
        let g = f.group("docker").unwrap().group.as_ref().unwrap();
        assert_eq!(g.all_members(), ["alice", "bob", "mallory"]);
        let rules = f.audit.loaded.as_ref().unwrap();
        assert_eq!(
            rules.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
            ["/usr/sbin/dockerd", "/usr/bin/containerd"]
        );
        let root_real = fs::canonicalize(&real_dir).unwrap();
        let m = f.mount_of(root_dir.to_str().unwrap()).unwrap();
        assert_eq!(
            m.real.as_deref(),
            Some(root_real.join("docker").to_str().unwrap()),
            "{sh:?}"
        );
        let m = f.mount_of(tmp.0.join("link").to_str().unwrap()).unwrap();
        assert_eq!(m.real.as_deref(), Some(root_real.to_str().unwrap()));
        // The mount comes from this host's own mountinfo.
        assert_eq!(m.via, "mountinfo");
        let mount = m.mount.as_ref().unwrap();
        assert!(root_real.starts_with(&mount.target), "{mount:?}");
        assert_eq!(
            f.packages[0].newer_candidate(),
            Some("20.10.24+dfsg1-1+deb12u1")
        );
        if f.dockerd.argv.is_empty() {
            // No dockerd here: the unit's command line (with the env file) decides.
            let findings = shipshape_checks::audit(&f, &shipshape_checks::Policy::default());
            let icc = findings.iter().find(|x| x.id == "icc").unwrap();
            assert!(icc.verdict.is_pass(), "{icc:?}");
        }
        assert!(f.stat.available);
        let real = fs::canonicalize(&unit_real).unwrap();
        assert_eq!(f.service.fragment_real.as_deref(), real.to_str(), "{sh:?}");
        let lookup = |p: &str| f.stat.entries.iter().find(|e| e.path == p).cloned();
        assert!(lookup(unit_s).unwrap().symlink, "{sh:?}");
        assert!(!lookup(real.to_str().unwrap()).unwrap().symlink, "{sh:?}");
    }
}
