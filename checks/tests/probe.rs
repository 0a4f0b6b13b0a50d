//! The probe is POSIX sh, runs on this host (usually without Docker), and
//! always prints one JSON document; with fake tools on PATH, every section
//! round-trips through the JSON escaping.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{RwLock, RwLockReadGuard};

use shipshape_checks::{parse_facts, PROBE_SH};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// The fake daemons of `dockerd_is_found_by_its_executable` would be the
/// dockerd of every other probe run: they live while no other probe runs.
static FAKE_DAEMONS: RwLock<()> = RwLock::new(());

fn no_fake_daemons() -> RwLockReadGuard<'static, ()> {
    FAKE_DAEMONS.read().unwrap_or_else(|e| e.into_inner())
}

/// Runs the probe the way the harness does (`sh -s` reading stdin).
fn run_probe(shell: &[&str], path_prefix: Option<&Path>, env: &[(&str, &str)]) -> String {
    let _guard = no_fake_daemons();
    run_probe_now(shell, path_prefix, env)
}

fn run_probe_now(shell: &[&str], path_prefix: Option<&Path>, env: &[(&str, &str)]) -> String {
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
    if have("bash") {
        shells.push(vec!["bash", "-n"]);
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
    if have("bash") {
        shells.push(vec!["bash"]);
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

/// The shells the probe is run under: sh, and dash, busybox sh and bash
/// where present (bash is sh on CentOS and RHEL).
fn shells() -> Vec<Vec<&'static str>> {
    [
        vec!["sh"],
        vec!["dash"],
        vec!["busybox", "sh"],
        vec!["bash"],
    ]
    .into_iter()
    .filter(|s| have(s[0]))
    .collect()
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
    // The probe names the socket first: `docker -H unix://SOCK info`.
    fake(&bin, "docker", &format!("[ \"$1\" = -H ] && shift 2\ncase \"$1\" in info) printf '%s\\n' '{json_line}' ;; version) printf '%s\\n' '{{\"Client\":{{\"Version\":\"20.10.24\"}},\"Server\":{{\"Version\":\"20.10.24+dfsg1\",\"Experimental\":false}}}}' ;; esac"));
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

    let shells = shells();
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

/// Runs the probe under each shell with `bin` first on PATH and the Docker
/// socket at `sock`, and parses what it printed.
fn probe_facts(bin: &Path, sock: &Path) -> Vec<(Vec<&'static str>, shipshape_checks::Facts)> {
    let _guard = no_fake_daemons();
    probe_facts_now(bin, sock)
}

fn probe_facts_now(bin: &Path, sock: &Path) -> Vec<(Vec<&'static str>, shipshape_checks::Facts)> {
    shells()
        .into_iter()
        .map(|sh| {
            let out = run_probe_now(
                &sh,
                Some(bin),
                &[("SHIPSHAPE_DOCKER_SOCK", sock.to_str().unwrap())],
            );
            let f = parse_facts(&out).unwrap_or_else(|e| panic!("{sh:?}: {e}\n{out}"));
            (sh, f)
        })
        .collect()
}

#[test]
fn curl_without_unix_socket_falls_back_to_the_docker_cli() {
    // curl 7.29 (CentOS 7) has no --unix-socket: it says so and exits 2.
    let tmp = TempDir::new("oldcurl");
    let bin = tmp.0.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fake(
        &bin,
        "curl",
        "echo 'curl: option --unix-socket: is unknown' >&2\necho \"curl: try 'curl --help' or 'curl --manual' for more information\" >&2\nexit 2",
    );
    let info = INFO.replace('\'', "'\\''");
    fake(
        &bin,
        "docker",
        &format!("[ \"$1\" = -H ] && shift 2\ncase \"$1\" in info) printf '%s\\n' '{info}' ;; *) exit 1 ;; esac"),
    );
    let sock = tmp.0.join("docker.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    for (sh, f) in probe_facts(&bin, &sock) {
        assert_eq!(f.api.via.as_deref(), Some("docker-cli"), "{sh:?}");
        let curl = f.api.curl_error.as_deref().unwrap_or_default();
        assert!(
            curl.starts_with("curl exit 2: ") && curl.contains("--unix-socket"),
            "{sh:?}: {curl}"
        );
        assert_eq!(f.api.info_error, None, "{sh:?}");
        assert_eq!(f.api.info.as_ref().unwrap()["Driver"], "overlay2");
        assert_eq!(f.api.socket.as_deref(), sock.to_str());
        // /info was read: the storage driver is known, not left to a person.
        let findings = shipshape_checks::audit(&f, &shipshape_checks::Policy::default());
        let aufs = findings.iter().find(|x| x.id == "no-aufs").unwrap();
        assert!(aufs.verdict.is_pass(), "{sh:?}: {aufs:?}");
    }
    // Both failing: the CLI's error is the answer's, curl's is kept beside it.
    fake(
        &bin,
        "docker",
        "echo 'Cannot connect to the Docker daemon' >&2; exit 1",
    );
    for (sh, f) in probe_facts(&bin, &sock) {
        assert_eq!(f.api.via.as_deref(), Some("docker-cli"), "{sh:?}");
        assert!(f.api.info.is_none());
        assert_eq!(
            f.api.info_error.as_deref(),
            Some("docker info exit 1: Cannot connect to the Docker daemon")
        );
        assert!(f.api.curl_error.unwrap().contains("--unix-socket"));
    }
}

#[test]
fn dockerd_is_found_by_its_executable() {
    // RHEL's docker 1.13 runs dockerd-current; a script named dockerd-*
    // (dockerd-rootless.sh) runs as its shell and is no daemon.
    let _alone = FAKE_DAEMONS.write().unwrap_or_else(|e| e.into_inner());
    let tmp = TempDir::new("dockerd-exe");
    let bin = tmp.0.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let sleep = Command::new("sh")
        .args(["-c", "command -v sleep"])
        .output()
        .unwrap();
    let sleep = String::from_utf8(sleep.stdout).unwrap();
    let daemon = tmp.0.join("dockerd-current");
    fs::copy(sleep.trim(), &daemon).unwrap();
    let script = tmp.0.join("dockerd-rootless.sh");
    fs::write(&script, "#!/bin/sh\nsleep 60\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let d = Kill(Command::new(&daemon).arg("60").spawn().unwrap());
    let s = Kill(Command::new(&script).spawn().unwrap());
    // comm is set at exec: wait until both show their own names.
    for _ in 0..100 {
        let comm = |p: u32| fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        if comm(d.0.id()).trim() == "dockerd-current"
            && comm(s.0.id()).starts_with("dockerd-rootles")
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for (sh, f) in probe_facts_now(&bin, &tmp.0.join("absent.sock")) {
        assert!(
            f.dockerd.pids.contains(&d.0.id()),
            "{sh:?}: {:?}",
            f.dockerd
        );
        assert!(
            !f.dockerd.pids.contains(&s.0.id()),
            "{sh:?}: {:?}",
            f.dockerd
        );
    }
}

#[test]
fn systemd_219_environment_file_is_read() {
    // systemd 219 (CentOS 7) prints EnvironmentFile=, later ones
    // EnvironmentFiles=; the unit itself names no file here.
    let tmp = TempDir::new("sd219");
    let bin = tmp.0.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let unit = tmp.0.join("docker.service");
    fs::write(
        &unit,
        "[Service]\nExecStart=/usr/bin/dockerd-current $OPTIONS\n",
    )
    .unwrap();
    let env = tmp.0.join("docker");
    fs::write(&env, "OPTIONS='--selinux-enabled --log-driver=journald'\n").unwrap();
    fake(
        &bin,
        "systemctl",
        &format!(
            r#"sep=
for u in "$@"; do
  case $u in
  docker.service) printf "$sep"'FragmentPath={unit}\nDropInPaths=\nEnvironmentFile={env} (ignore_errors=yes)\nActiveState=active\n'; sep='\n' ;;
  docker.socket) printf "$sep"'ActiveState=inactive\n'; sep='\n' ;;
  esac
done"#,
            unit = unit.display(),
            env = env.display()
        ),
    );
    let env_s = env.to_str().unwrap();
    for (sh, f) in probe_facts(&bin, &tmp.0.join("absent.sock")) {
        assert_eq!(f.service.environment_files, [env_s], "{sh:?}");
        assert!(
            f.content(env_s).unwrap().contains("--selinux-enabled"),
            "{sh:?}"
        );
        assert!(!f.service.properties.contains_key("EnvironmentFile"));
    }
}

#[test]
fn a_command_that_reads_stdin_cannot_eat_the_probe() {
    // The script comes on stdin; bash reads it a byte at a time, so before
    // the probe gave its commands /dev/null, this rpm read the rest of it.
    let tmp = TempDir::new("stdin");
    let bin = tmp.0.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fake(
        &bin,
        "rpm",
        "cat >/dev/null\necho 'docker-ce 3:26.1.4-1.el7'",
    );
    fake(&bin, "docker", "cat >/dev/null\nexit 1");
    for (sh, f) in probe_facts(&bin, &tmp.0.join("absent.sock")) {
        let ce = f.packages.iter().find(|p| p.name == "docker-ce");
        assert!(ce.is_some(), "{sh:?}: {:?}", f.packages);
        assert!(f.api.info_error.unwrap().starts_with("docker info exit 1"));
    }
    // bash with the script as a regular file on stdin (it can seek, so it
    // reads blocks itself) and as a file argument.
    if have("bash") {
        let _guard = no_fake_daemons();
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/src/probe.sh");
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        for args in [vec!["-s"], vec![file]] {
            let out = Command::new("bash")
                .args(&args)
                .env("PATH", &path)
                .stdin(fs::File::open(file).unwrap())
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}");
            let f = parse_facts(&String::from_utf8(out.stdout).unwrap()).unwrap();
            assert!(f.packages.iter().any(|p| p.name == "docker-ce"), "{args:?}");
        }
    }
}

/// Podman's compat /info (see tests/fixtures/README.md).
const PODMAN_INFO: &str = include_str!("fixtures/constructed/podman_4.3.1_compat_info.json");

#[test]
fn a_socket_served_by_podman_is_told_apart() {
    let tmp = TempDir::new("podman");
    let bin = tmp.0.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fake(
        &bin,
        "curl",
        &format!(
            "printf '%s\\n\\n@@code=200@@\\n' '{}'",
            PODMAN_INFO.trim_end()
        ),
    );
    let sock = tmp.0.join("docker.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    for (sh, f) in probe_facts(&bin, &sock) {
        assert_eq!(f.api.via.as_deref(), Some("curl"), "{sh:?}");
        let why = f
            .podman()
            .unwrap_or_else(|| panic!("{sh:?}: not told apart"));
        assert!(why.contains("BuildahVersion 1.28.2"), "{why}");
        assert_eq!(f.docker_socket(), sock.to_str().unwrap());
    }
}

#[test]
fn podman_docker_cli_is_told_apart() {
    // podman-docker's `docker` runs podman, whose `info --format '{{json .}}'`
    // prints `podman info` indented over many lines (4.3.1), after a notice
    // on stderr.
    let tmp = TempDir::new("podman-cli");
    let bin = tmp.0.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let native: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/constructed/podman_4.3.1_info.json")).unwrap();
    let pretty = tmp.0.join("info.json");
    fs::write(
        &pretty,
        serde_json::to_string_pretty(&native).unwrap() + "\n",
    )
    .unwrap();
    fake(
        &bin,
        "docker",
        &format!(
            "echo 'Emulate Docker CLI using podman. Create /etc/containers/nodocker to quiet msg.' >&2\ncat '{}'",
            pretty.display()
        ),
    );
    for (sh, f) in probe_facts(&bin, &tmp.0.join("absent.sock")) {
        assert_eq!(f.api.via.as_deref(), Some("docker-cli"), "{sh:?}");
        assert_eq!(f.api.info.as_ref(), Some(&native), "{sh:?}");
        let why = f
            .podman()
            .unwrap_or_else(|| panic!("{sh:?}: not told apart"));
        assert!(why.contains("host.buildahVersion 1.28.2"), "{why}");
    }
}
