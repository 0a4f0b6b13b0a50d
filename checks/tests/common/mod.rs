//! A hand-built, fully hardened Debian-like host, which each test breaks in
//! one place.
#![allow(dead_code)]

use serde_json::{json, Value};
use shipshape_checks::accounts::Group;
use shipshape_checks::auditrules::parse_rules;
use shipshape_checks::facts::{FileFact, GroupFact, MountFact};
use shipshape_checks::mode::StatEntry;
use shipshape_checks::mounts::Mount;
use shipshape_checks::packages::PackageState;
use shipshape_checks::{audit, Facts, Finding, Policy, Verdict};

pub const SERVICE: &str = "/lib/systemd/system/docker.service";
pub const SOCKET: &str = "/lib/systemd/system/docker.socket";
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";

pub const GOOD_JSON: &str = r#"{
  "icc": false,
  "live-restore": true,
  "userland-proxy": false,
  "no-new-privileges": true,
  "userns-remap": "default",
  "default-ulimits": {
    "nofile": {"Name": "nofile", "Soft": 20480, "Hard": 40960},
    "nproc": {"Name": "nproc", "Soft": 1024, "Hard": 2048}
  },
  "log-driver": "json-file",
  "log-opts": {"max-size": "50m", "max-file": "3"}
}"#;

/// Paths that exist on the baseline host, with their stat line.
const STATS: &[&str] = &[
    "/lib/systemd/system/docker.service|root|root|644|regular file|0|0|1700000000",
    "/usr/lib/systemd/system/docker.service|root|root|644|regular file|0|0|1700000000",
    "/lib/systemd/system/docker.socket|root|root|644|regular file|0|0|1700000000",
    "/usr/lib/systemd/system/docker.socket|root|root|644|regular file|0|0|1700000000",
    "/etc/docker|root|root|755|directory|0|0|1700000000",
    "/etc/docker/daemon.json|root|root|644|regular file|0|0|1700000000",
    "/etc/default/docker|root|root|644|regular file|0|0|1700000000",
    "/var/run/docker.sock|root|docker|660|socket|0|994|1700000000",
    "/run/containerd|root|root|711|directory|0|0|1700000000",
    "/run/containerd/containerd.sock|root|root|660|socket|0|0|1700000000",
    "/var/lib/docker|root|root|710|directory|0|0|1700000000",
    "/usr/sbin/dockerd|root|root|755|regular file|0|0|1700000000",
    "/usr/bin/containerd|root|root|755|regular file|0|0|1700000000",
    "/usr/bin/containerd-shim-runc-v2|root|root|755|regular file|0|0|1700000000",
    "/usr/sbin/runc|root|root|755|regular file|0|0|1700000000",
];

const MISSING: &[&str] = &[
    "/etc/sysconfig/docker",
    "/etc/containerd/config.toml",
    "/var/run/docker/containerd/containerd.sock",
    "/root/.docker/ca.pem",
    "/root/.docker/cert.pem",
    "/root/.docker/key.pem",
    "/etc/docker/tls/ca.pem",
    "/etc/docker/tls/server-cert.pem",
    "/etc/docker/tls/server-key.pem",
];

/// The watch rules for every file above, as `auditctl -l` prints them.
pub const RULES: &str = "\
-w /usr/sbin/dockerd -p rwxa -k docker
-w /run/containerd -p rwxa -k docker
-w /var/lib/docker -p rwxa -k docker
-w /etc/docker -p rwxa -k docker
-w /lib/systemd/system/docker.service -p rwxa -k docker
-w /run/containerd/containerd.sock -p rwxa -k docker
-w /lib/systemd/system/docker.socket -p rwxa -k docker
-w /etc/default/docker -p rwxa -k docker
-w /etc/docker/daemon.json -p rwxa -k docker
-w /usr/bin/containerd -p rwxa -k docker
-w /usr/bin/containerd-shim-runc-v2 -p rwxa -k docker
-w /usr/sbin/runc -p rwxa -k docker
";

pub fn file(path: &str, content: &str) -> FileFact {
    FileFact {
        path: path.to_string(),
        exists: true,
        content: Some(content.to_string()),
        error: None,
    }
}

pub fn good_info() -> Value {
    json!({
        "ServerVersion": "26.1.5+dfsg1",
        "Driver": "overlay2",
        "LoggingDriver": "json-file",
        "CgroupDriver": "systemd",
        "DockerRootDir": "/var/lib/docker/100000.100000",
        "LiveRestoreEnabled": true,
        "ExperimentalBuild": false,
        "Debug": false,
        "SecurityOptions": ["name=apparmor", "name=seccomp,profile=builtin", "name=userns", "name=cgroupns"],
        "Swarm": {"LocalNodeState": "inactive"},
        "Plugins": {"Volume": ["local"], "Authorization": null},
        "RegistryConfig": {
            "InsecureRegistryCIDRs": ["127.0.0.0/8", "::1/128"],
            "IndexConfigs": {"docker.io": {"Name": "docker.io", "Secure": true, "Official": true}}
        }
    })
}

pub struct Host {
    pub facts: Facts,
    pub policy: Policy,
}

impl Host {
    /// Every control passes (or is manual / not applicable by nature).
    pub fn hardened() -> Host {
        let mut f = Facts {
            probe_version: 1,
            hostname: Some("debian-12".into()),
            kernel: Some("6.1.0-28-cloud-amd64".into()),
            daemon_json_path: DAEMON_JSON.into(),
            ..Facts::default()
        };
        f.os.pretty_name = Some("Debian GNU/Linux 12 (bookworm)".into());
        f.dockerd.pid = Some(1234);
        f.dockerd.pids = vec![1234];
        f.dockerd.exe = Some("/usr/sbin/dockerd".into());
        f.dockerd.argv = [
            "/usr/sbin/dockerd",
            "-H",
            "fd://",
            "--containerd=/run/containerd/containerd.sock",
        ]
        .map(String::from)
        .to_vec();
        f.dockerd.started_at = Some(1_700_000_100);
        f.service.fragment_path = Some(SERVICE.into());
        f.service.fragment_real = Some("/usr/lib/systemd/system/docker.service".into());
        f.socket.fragment_path = Some(SOCKET.into());
        f.socket.fragment_real = Some("/usr/lib/systemd/system/docker.socket".into());
        f.socket.listen = vec!["/run/docker.sock (Stream)".into()];
        f.files = vec![
            file(
                SERVICE,
                "[Unit]\nDescription=Docker Application Container Engine\n\n[Service]\nType=notify\nEnvironmentFile=-/etc/default/docker\nExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS\n",
            ),
            file(SOCKET, "[Socket]\nListenStream=/run/docker.sock\nSocketMode=0660\nSocketUser=root\nSocketGroup=docker\n"),
            file("/etc/default/docker", "# Docker Upstart and SysVinit configuration file\n#DOCKER_OPTS=\"--dns 8.8.8.8 --dns 8.8.4.4\"\n"),
            file(DAEMON_JSON, GOOD_JSON),
            file("/etc/audit/rules.d/docker.rules", RULES),
            file("/etc/audit/audit.rules", RULES),
            FileFact {
                path: "/etc/sysconfig/docker".into(),
                ..FileFact::default()
            },
        ];
        f.api.via = Some("curl".into());
        f.api.info = Some(good_info());
        f.api.version =
            Some(json!({"Version": "26.1.5+dfsg1", "ApiVersion": "1.45", "Experimental": false}));
        f.groups = vec![GroupFact {
            name: "docker".into(),
            group: Group::parse_line("docker:x:994:"),
            error: None,
        }];
        f.stat.available = true;
        f.stat.entries = STATS
            .iter()
            .map(|l| StatEntry::parse_line(l).unwrap())
            .collect();
        f.stat.missing = MISSING.iter().map(|s| s.to_string()).collect();
        for d in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
            for n in [
                "dockerd",
                "containerd",
                "containerd-shim",
                "containerd-shim-runc-v1",
                "containerd-shim-runc-v2",
                "runc",
            ] {
                let p = format!("{d}/{n}");
                if !f.stat.entries.iter().any(|e| e.path == p) {
                    f.stat.missing.push(p);
                }
            }
        }
        f.audit.auditctl_available = true;
        f.audit.loaded = Some(parse_rules(RULES));
        f.mounts = vec![MountFact {
            path: "/var/lib/docker".into(),
            real: Some("/var/lib/docker".into()),
            mount: Some(Mount {
                target: "/var/lib/docker".into(),
                source: "/dev/sdb".into(),
                fstype: "ext4".into(),
            }),
            via: "mountinfo".into(),
            error: None,
        }];
        f.packages = vec![PackageState {
            name: "docker.io".into(),
            installed: Some("26.1.5+dfsg1-9+b9".into()),
            candidate: Some("26.1.5+dfsg1-9+b9".into()),
            source: "apt-cache policy".into(),
        }];
        f.max_user_namespaces = Some(15000);
        Host {
            facts: f,
            policy: Policy::default(),
        }
    }

    pub fn argv(mut self, args: &[&str]) -> Self {
        let mut argv = vec!["/usr/sbin/dockerd".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        self.facts.dockerd.argv = argv.clone();
        // Keep the unit in step, as after `systemctl restart`.
        let exec = argv.join(" ");
        self.set_file(SERVICE, &format!("[Service]\nExecStart={exec}\n"));
        self
    }

    pub fn json(mut self, text: &str) -> Self {
        self.set_file(DAEMON_JSON, text);
        self
    }

    /// Edits daemon.json as a JSON object.
    pub fn json_edit(self, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Self {
        let mut v: Value = serde_json::from_str(self.facts.content(DAEMON_JSON).unwrap()).unwrap();
        edit(v.as_object_mut().unwrap());
        let text = serde_json::to_string_pretty(&v).unwrap();
        self.json(&text)
    }

    pub fn info(mut self, key: &str, value: Value) -> Self {
        self.facts.api.info.as_mut().unwrap()[key] = value;
        self
    }

    pub fn no_api(mut self) -> Self {
        self.facts.api.info = None;
        self.facts.api.version = None;
        self
    }

    pub fn set_file(&mut self, path: &str, content: &str) {
        self.facts.files.retain(|f| f.path != path);
        self.facts.files.push(file(path, content));
    }

    pub fn stat(mut self, line: &str) -> Self {
        let e = StatEntry::parse_line(line).unwrap();
        self.facts.stat.missing.retain(|p| *p != e.path);
        self.facts.stat.entries.retain(|x| x.path != e.path);
        self.facts.stat.entries.push(e);
        self
    }

    pub fn group(mut self, line: &str, passwd: &[&str]) -> Self {
        let mut g = Group::parse_line(line).unwrap();
        g.add_primary_from_passwd(passwd.iter().copied());
        self.facts.groups = vec![GroupFact {
            name: g.name.clone(),
            group: Some(g),
            error: None,
        }];
        self
    }

    pub fn audit(&self) -> Vec<Finding> {
        audit(&self.facts, &self.policy)
    }

    pub fn finding(&self, id: &str) -> Finding {
        self.audit()
            .into_iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
    }
}

/// Asserts a verdict kind and prints the evidence when it is not.
#[track_caller]
pub fn expect(host: &Host, id: &str, want: &str) -> Finding {
    let f = host.finding(id);
    let got = match &f.verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::NotApplicable { .. } => "not-applicable",
        Verdict::Manual { .. } => "manual",
    };
    assert_eq!(
        got,
        want,
        "{id}: {:?}\nevidence:\n  {}",
        f.verdict,
        f.evidence.join("\n  ")
    );
    f
}

#[track_caller]
pub fn evidence_has(f: &Finding, needle: &str) {
    assert!(
        f.evidence.iter().any(|l| l.contains(needle)),
        "{}: no evidence line containing {needle:?}:\n  {}",
        f.id,
        f.evidence.join("\n  ")
    );
}
