//! Every control on hand-built facts: the hardened baseline passes, and one
//! change breaks it the way the control describes.

mod common;

use common::{evidence_has, expect, Host, DAEMON_JSON};
use serde_json::json;
use shipshape_checks::{catalogue, Verdict};

#[test]
fn hardened_baseline_verdicts() {
    let h = Host::hardened();
    let findings = h.audit();
    assert_eq!(findings.len(), catalogue().len());
    for (f, c) in findings.iter().zip(catalogue()) {
        assert_eq!(f.id, c.id, "catalogue order");
        assert!(
            !f.evidence.is_empty() || matches!(f.verdict, Verdict::NotApplicable { .. }),
            "{} has no evidence",
            f.id
        );
    }
    // The hardened host runs a rootful dockerd: rootless is left for review.
    let manual = ["host-hardening", "authz-plugin", "rootless"];
    let not_applicable = [
        "legacy-registry",
        // Engine 26: no devicemapper driver to use.
        "no-devicemapper",
        "audit-containerd-config",
        "audit-etc-sysconfig-docker",
        "audit-containerd-shim",
        "audit-containerd-shim-runc-v1",
        "perm-registry-certs",
        "perm-tls-ca",
        "perm-tls-cert",
        "perm-tls-key",
        "perm-etc-sysconfig-docker",
    ];
    for f in &findings {
        let want = if manual.contains(&f.id) {
            "manual"
        } else if not_applicable.contains(&f.id) {
            "not-applicable"
        } else {
            "pass"
        };
        expect(&h, f.id, want);
    }
}

// ----------------------------------------------------------------- 1.1.1

#[test]
fn docker_root_mount() {
    // Under userns-remap the parent of DockerRootDir is what must be mounted.
    let f = expect(&Host::hardened(), "docker-root-mount", "pass");
    evidence_has(&f, "/var/lib/docker/100000.100000 is the remapped root");
    evidence_has(&f, "SOURCE=/dev/sdb");

    let mut h = Host::hardened();
    h.facts.mounts[0].mount.as_mut().unwrap().target = "/".into();
    h.facts.mounts[0].mount.as_mut().unwrap().source = "/dev/sda1".into();
    let f = expect(&h, "docker-root-mount", "fail");
    evidence_has(&f, "not on its own mount");

    // A root dir behind a symlink is judged at its real path.
    let mut h = Host::hardened();
    h.facts.mounts[0].real = Some("/srv/docker".into());
    h.facts.mounts[0].mount.as_mut().unwrap().target = "/srv/docker".into();
    let f = expect(&h, "docker-root-mount", "pass");
    evidence_has(&f, "resolves to /srv/docker");
    evidence_has(&f, "mountinfo /var/lib/docker: TARGET=/srv/docker");

    // Without the findmnt answer, mountinfo decides.
    let mut h = Host::hardened();
    h.facts.mounts.clear();
    h.set_file(
        "/proc/self/mountinfo",
        "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n30 22 8:16 / /var/lib/docker rw - ext4 /dev/sdb rw\n",
    );
    expect(&h, "docker-root-mount", "pass");
    let mut h = Host::hardened();
    h.facts.mounts.clear();
    expect(&h, "docker-root-mount", "manual");
}

// ----------------------------------------------------------------- 1.1.2

#[test]
fn docker_group_exact_names() {
    let f = expect(&Host::hardened(), "docker-group", "pass");
    evidence_has(&f, "getent group docker: docker:x:994:");

    let h = Host::hardened().group("docker:x:994:mallory", &[]);
    let f = expect(&h, "docker-group", "fail");
    evidence_has(&f, "not on the allow list: mallory");

    // Primary group counts.
    let h = Host::hardened().group(
        "docker:x:994:",
        &["mallory:x:1001:994::/home/mallory:/bin/sh"],
    );
    let f = expect(&h, "docker-group", "fail");
    evidence_has(&f, "mallory has docker as primary group");

    // Allowed by exact name only: allowing "bob" does not allow "bobby".
    let mut h = Host::hardened().group("docker:x:994:bob,bobby", &[]);
    h.policy.docker_group_allowed = vec!["root".into(), "bob".into()];
    let f = expect(&h, "docker-group", "fail");
    evidence_has(&f, "not on the allow list: bobby");
    let mut h = Host::hardened().group("docker:x:994:bob", &[]);
    h.policy.docker_group_allowed = vec!["bob".into()];
    expect(&h, "docker-group", "pass");

    // No docker group at all: nobody but root reaches the socket.
    let mut h = Host::hardened();
    h.facts.groups[0].group = None;
    h.facts.groups[0].error = Some("no group docker".into());
    expect(&h, "docker-group", "pass");
}

// ----------------------------------------------------------- 1.1.3-1.1.18

const AUDIT_EXISTING: &[(&str, &str)] = &[
    ("audit-dockerd", "/usr/sbin/dockerd"),
    ("audit-run-containerd", "/run/containerd"),
    ("audit-var-lib-docker", "/var/lib/docker"),
    ("audit-etc-docker", "/etc/docker"),
    ("audit-docker-service", "/lib/systemd/system/docker.service"),
    ("audit-containerd-sock", "/run/containerd/containerd.sock"),
    ("audit-docker-socket", "/lib/systemd/system/docker.socket"),
    ("audit-etc-default-docker", "/etc/default/docker"),
    ("audit-daemon-json", "/etc/docker/daemon.json"),
    ("audit-containerd", "/usr/bin/containerd"),
    (
        "audit-containerd-shim-runc-v2",
        "/usr/bin/containerd-shim-runc-v2",
    ),
    ("audit-runc", "/usr/sbin/runc"),
];

fn without_rule(text: &str, path: &str) -> String {
    text.lines()
        .filter(|l| !l.contains(&format!("-w {path} ")))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn audit_rules_loaded_and_persisted() {
    for (id, path) in AUDIT_EXISTING {
        let f = expect(&Host::hardened(), id, "pass");
        evidence_has(&f, &format!("auditctl -l: -w {path} "));
        evidence_has(&f, &format!("/etc/audit/rules.d/docker.rules: -w {path} "));

        // Not loaded.
        let mut h = Host::hardened();
        h.facts.audit.loaded = Some(shipshape_checks::auditrules::parse_rules(&without_rule(
            common::RULES,
            path,
        )));
        let f = expect(&h, id, "fail");
        evidence_has(&f, &format!("auditctl -l has no rule for {path}"));

        // Loaded but not persisted.
        let mut h = Host::hardened();
        let rest = without_rule(common::RULES, path);
        h.set_file("/etc/audit/rules.d/docker.rules", &rest);
        h.set_file("/etc/audit/audit.rules", &rest);
        let f = expect(&h, id, "fail");
        evidence_has(&f, "would not survive a reboot");

        // auditd missing.
        let mut h = Host::hardened();
        h.facts.audit.auditctl_available = false;
        h.facts.audit.loaded = None;
        let f = expect(&h, id, "fail");
        evidence_has(&f, "auditd is not installed");
    }
}

#[test]
fn audit_rules_for_absent_files_are_not_applicable() {
    let h = Host::hardened();
    for id in [
        "audit-containerd-config",
        "audit-etc-sysconfig-docker",
        "audit-containerd-shim",
        "audit-containerd-shim-runc-v1",
    ] {
        let f = h.finding(id);
        match &f.verdict {
            Verdict::NotApplicable { why } => assert!(why.contains("looked at"), "{id}: {why}"),
            other => panic!("{id}: {other:?}"),
        }
    }
    // CentOS paths: /usr/bin/dockerd and /usr/lib/systemd/system/docker.service.
    let mut h = Host::hardened().stat("/usr/bin/dockerd|root|root|755|regular file|0|0|1");
    h.facts.dockerd.exe = Some("/usr/bin/dockerd".into());
    let f = expect(&h, "audit-dockerd", "fail");
    evidence_has(&f, "auditctl -l has no rule for /usr/bin/dockerd");
    // A rule on the unit's resolved path counts for the unit.
    let mut h = Host::hardened();
    let rules = common::RULES.replace(
        "-w /lib/systemd/system/docker.service",
        "-w /usr/lib/systemd/system/docker.service",
    );
    h.facts.audit.loaded = Some(shipshape_checks::auditrules::parse_rules(&rules));
    h.set_file("/etc/audit/rules.d/docker.rules", &rules);
    expect(&h, "audit-docker-service", "pass");
}

// ----------------------------------------------------------------- 1.2.x

#[test]
fn host_hardening_is_manual() {
    let f = expect(&Host::hardened(), "host-hardening", "manual");
    evidence_has(&f, "Debian GNU/Linux 12");
}

#[test]
fn docker_version() {
    let f = expect(&Host::hardened(), "docker-version", "pass");
    evidence_has(&f, "/version: Version=26.1.5+dfsg1");

    let mut h = Host::hardened();
    h.facts.packages[0].candidate = Some("26.1.5+dfsg1-9+b10".into());
    let f = expect(&h, "docker-version", "fail");
    evidence_has(&f, "offers docker.io 26.1.5+dfsg1-9+b10");
    evidence_has(&f, "allow_docker_upgrade=false");

    // The seed's engine is below the default minimum.
    let mut h = Host::hardened();
    h.facts.api.version = Some(json!({"Version": "19.03.8"}));
    h.facts.packages[0].installed = Some("3:19.03.8-3.el7".into());
    h.facts.packages[0].candidate = Some("3:19.03.8-3.el7".into());
    let f = expect(&h, "docker-version", "fail");
    evidence_has(&f, "older than the policy minimum 20.10.0");

    // No package source: cannot tell whether it is the newest.
    let mut h = Host::hardened();
    h.facts.packages.clear();
    expect(&h, "docker-version", "manual");
}

// ----------------------------------------------------------------- 2.x

#[test]
fn icc() {
    expect(&Host::hardened(), "icc", "pass");
    let h = Host::hardened().json_edit(|m| {
        m.remove("icc");
    });
    let f = expect(&h, "icc", "fail");
    evidence_has(&f, "no \"icc\"");
    let h = Host::hardened()
        .json_edit(|m| {
            m.remove("icc");
        })
        .argv(&["-H", "fd://", "--icc=false"]);
    expect(&h, "icc", "pass");
}

#[test]
fn log_level() {
    expect(&Host::hardened(), "log-level", "pass");
    let h = Host::hardened().json_edit(|m| {
        m.insert("log-level".into(), json!("debug"));
    });
    expect(&h, "log-level", "fail");
    let h = Host::hardened().argv(&["-H", "fd://", "-D"]);
    let f = expect(&h, "log-level", "fail");
    evidence_has(&f, "debug is on");
    let h = Host::hardened().info("Debug", json!(true));
    expect(&h, "log-level", "fail");
}

#[test]
fn iptables() {
    expect(&Host::hardened(), "iptables", "pass");
    let h = Host::hardened().json_edit(|m| {
        m.insert("iptables".into(), json!(false));
    });
    expect(&h, "iptables", "fail");
}

#[test]
fn insecure_registries() {
    let f = expect(&Host::hardened(), "insecure-registries", "pass");
    evidence_has(&f, "besides 127.0.0.0/8");
    let h = Host::hardened().argv(&[
        "-H",
        "fd://",
        "--insecure-registry",
        "a.example:5000",
        "--insecure-registry=b.example",
    ]);
    let f = expect(&h, "insecure-registries", "fail");
    evidence_has(&f, "a.example:5000");
    let h = Host::hardened().info(
        "RegistryConfig",
        json!({"InsecureRegistryCIDRs": ["127.0.0.0/8", "10.0.0.0/8"], "IndexConfigs": {}}),
    );
    expect(&h, "insecure-registries", "fail");
}

#[test]
fn no_aufs() {
    let f = expect(&Host::hardened(), "no-aufs", "pass");
    evidence_has(&f, "/info: Driver=overlay2");
    let h = Host::hardened().info("Driver", json!("aufs"));
    expect(&h, "no-aufs", "fail");
    let h = Host::hardened().no_api();
    expect(&h, "no-aufs", "manual");
}

#[test]
fn tls_auth() {
    let f = expect(&Host::hardened(), "tls-auth", "pass");
    evidence_has(&f, "no tcp:// listener");

    // A plain TCP listener, as in the seed's `systemctl status` line.
    let h = Host::hardened().argv(&[
        "-H",
        "tcp://0.0.0.0:2375",
        "-H",
        "unix://var/run/docker.sock",
    ]);
    let f = expect(&h, "tls-auth", "fail");
    evidence_has(&f, "tlsverify is off");
    // No scheme means tcp.
    let h = Host::hardened().argv(&["-H", "0.0.0.0:2375"]);
    expect(&h, "tls-auth", "fail");
    // In daemon.json.
    let h = Host::hardened().json_edit(|m| {
        m.insert(
            "hosts".into(),
            json!(["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"]),
        );
    });
    expect(&h, "tls-auth", "fail");
    // Through docker.socket.
    let mut h = Host::hardened();
    h.facts.socket.listen.push("[::]:2375 (Stream)".into());
    let f = expect(&h, "tls-auth", "fail");
    evidence_has(&f, "docker.socket Listen=[::]:2375");

    // With tlsverify, CA, cert and key (files present) it passes.
    let h = Host::hardened()
        .argv(&[
            "--tlsverify",
            "--tlscacert=/etc/docker/tls/ca.pem",
            "--tlscert=/etc/docker/tls/server-cert.pem",
            "--tlskey=/etc/docker/tls/server-key.pem",
            "-H",
            "unix:///var/run/docker.sock",
            "-H",
            "tcp://0.0.0.0:2376",
        ])
        .stat("/etc/docker/tls/ca.pem|root|root|444|regular file|0|0|1")
        .stat("/etc/docker/tls/server-cert.pem|root|root|444|regular file|0|0|1")
        .stat("/etc/docker/tls/server-key.pem|root|root|600|regular file|0|0|1");
    expect(&h, "tls-auth", "pass");
    // --tls alone authenticates nobody.
    let h = Host::hardened().argv(&[
        "--tls",
        "--tlscert=/etc/docker/tls/server-cert.pem",
        "--tlskey=/etc/docker/tls/server-key.pem",
        "-H",
        "tcp://0.0.0.0:2376",
    ]);
    expect(&h, "tls-auth", "fail");
}

#[test]
fn default_ulimits() {
    let f = expect(&Host::hardened(), "default-ulimits", "pass");
    evidence_has(&f, "policy: nofile=20480:40960 nproc=1024:2048");
    let h = Host::hardened().json_edit(|m| {
        m.remove("default-ulimits");
    });
    let f = expect(&h, "default-ulimits", "fail");
    evidence_has(&f, "no default nofile ulimit");
    let h = Host::hardened()
        .json_edit(|m| {
            m.remove("default-ulimits");
        })
        .argv(&[
            "-H",
            "fd://",
            "--default-ulimit",
            "nofile=20480:40960",
            "--default-ulimit=nproc=1024:2048",
        ]);
    expect(&h, "default-ulimits", "pass");
    let with_nofile = |v: &str| {
        Host::hardened()
            .json_edit(|m| {
                m.remove("default-ulimits");
            })
            .argv(&[
                "-H",
                "fd://",
                "--default-ulimit",
                &format!("nofile={v}"),
                "--default-ulimit=nproc=1024:2048",
            ])
    };
    // Tighter than the policy passes.
    let f = expect(&with_nofile("1024:4096"), "default-ulimits", "pass");
    evidence_has(
        &f,
        "default nofile ulimit is 1024:4096 for dockerd argv (pid 1234), tighter than the policy's 20480:40960",
    );
    // Looser fails, and says which side.
    let f = expect(&with_nofile("20480:65536"), "default-ulimits", "fail");
    evidence_has(
        &f,
        "looser than the policy's 20480:40960: hard 65536 > 40960",
    );
    // Unlimited is looser than any number.
    let f = expect(&with_nofile("-1:-1"), "default-ulimits", "fail");
    evidence_has(
        &f,
        "soft -1 (unlimited) > 20480, hard -1 (unlimited) > 40960",
    );
    let f = expect(&with_nofile("1024:-1"), "default-ulimits", "fail");
    evidence_has(&f, "hard -1 (unlimited) > 40960");
    // In daemon.json too.
    let h = Host::hardened().json_edit(|m| {
        m.insert(
            "default-ulimits".into(),
            json!({
                "nofile": {"Name": "nofile", "Soft": 4096, "Hard": 8192},
                "nproc": {"Name": "nproc", "Soft": 4096, "Hard": 4096}
            }),
        );
    });
    let f = expect(&h, "default-ulimits", "fail");
    evidence_has(&f, "tighter than the policy's 20480:40960");
    evidence_has(&f, "default nproc ulimit is 4096:4096");
    evidence_has(&f, "soft 4096 > 1024, hard 4096 > 2048");
}

#[test]
fn userns_remap() {
    let f = expect(&Host::hardened(), "userns-remap", "pass");
    evidence_has(&f, "\"userns-remap\": \"default\"");
    let h = Host::hardened().json_edit(|m| {
        m.remove("userns-remap");
    });
    expect(&h, "userns-remap", "fail");
    // Configured, but the daemon was not restarted.
    let h = Host::hardened().info("SecurityOptions", json!(["name=seccomp,profile=builtin"]));
    let f = expect(&h, "userns-remap", "fail");
    evidence_has(&f, "does not remap");
    let mut h = Host::hardened();
    h.facts.max_user_namespaces = Some(0);
    expect(&h, "userns-remap", "fail");
}

#[test]
fn cgroup_parent() {
    expect(&Host::hardened(), "cgroup-parent", "pass");
    let h = Host::hardened().json_edit(|m| {
        m.insert("cgroup-parent".into(), json!("custom.slice"));
    });
    expect(&h, "cgroup-parent", "fail");
    let mut h = Host::hardened().json_edit(|m| {
        m.insert("cgroup-parent".into(), json!("custom.slice"));
    });
    h.policy.cgroup_parent = Some("custom.slice".into());
    expect(&h, "cgroup-parent", "pass");
}

#[test]
fn dm_basesize() {
    expect(&Host::hardened(), "dm-basesize", "pass");
    let h = Host::hardened().argv(&[
        "--storage-driver=devicemapper",
        "--storage-opt",
        "dm.basesize=20G",
    ]);
    let f = expect(&h, "dm-basesize", "fail");
    evidence_has(&f, "--storage-opt dm.basesize=20G");
}

#[test]
fn authz_plugin_is_manual_with_the_list() {
    let f = expect(&Host::hardened(), "authz-plugin", "manual");
    assert!(
        matches!(&f.verdict, Verdict::Manual { why } if why.contains("no authorization plugin"))
    );
    let h = Host::hardened().argv(&["-H", "fd://", "--authorization-plugin="]);
    let f = expect(&h, "authz-plugin", "manual");
    assert!(
        matches!(&f.verdict, Verdict::Manual { why } if why.contains("no authorization plugin")),
        "{f:?}"
    );
    evidence_has(&f, "empty authorization plugin name");
    let h = Host::hardened().argv(&["-H", "fd://", "--authorization-plugin=opa-docker-authz"]);
    let f = expect(&h, "authz-plugin", "manual");
    assert!(matches!(&f.verdict, Verdict::Manual { why } if why.contains("opa-docker-authz")));
}

#[test]
fn log_config() {
    expect(&Host::hardened(), "log-config", "pass");
    let h = Host::hardened().json_edit(|m| {
        m.remove("log-opts");
    });
    let f = expect(&h, "log-config", "fail");
    evidence_has(&f, "without max-size");
    let opts = |o: serde_json::Value| {
        Host::hardened().json_edit(move |m| {
            m.insert("log-opts".into(), o.clone());
        })
    };
    // The policy is 50m x 3 = 150m per container; the total decides.
    let f = expect(
        &opts(json!({"max-size": "100m", "max-file": "3"})),
        "log-config",
        "fail",
    );
    evidence_has(
        &f,
        "keeps up to 300m per container (100m x 3), above the policy's 150m (50m x 3)",
    );
    let f = expect(
        &opts(json!({"max-size": "60m", "max-file": "3"})),
        "log-config",
        "fail",
    );
    evidence_has(
        &f,
        "= 180m (188743680 bytes) per container; the policy allows 150m (157286400 bytes)",
    );
    // Stricter combinations pass, even with more files than the policy's.
    let f = expect(
        &opts(json!({"max-size": "10m", "max-file": "5"})),
        "log-config",
        "pass",
    );
    evidence_has(&f, "max-size 10m x max-file 5 = 50m");
    expect(
        &opts(json!({"max-size": "100m", "max-file": "1"})),
        "log-config",
        "pass",
    );
    expect(
        &opts(json!({"max-size": "30m", "max-file": "5"})),
        "log-config",
        "pass",
    );
    // max-file absent counts as one file.
    let f = expect(&opts(json!({"max-size": "100m"})), "log-config", "pass");
    evidence_has(
        &f,
        "max-file 1 (max-file absent: json-file keeps one file) = 100m",
    );
    expect(&opts(json!({"max-size": "200m"})), "log-config", "fail");
    // max-size absent is unbounded, whatever max-file says.
    let f = expect(&opts(json!({"max-file": "3"})), "log-config", "fail");
    evidence_has(&f, "without max-size");
    // dockerd refuses max-file 0.
    let f = expect(
        &opts(json!({"max-size": "10m", "max-file": "0"})),
        "log-config",
        "fail",
    );
    evidence_has(&f, "less than 1");
    // The policy's total moves the line.
    let mut h = opts(json!({"max-size": "60m", "max-file": "3"}));
    h.policy.log_max_size = "100m".parse().unwrap();
    h.policy.log_max_file = 2;
    expect(&h, "log-config", "pass");
    // local rotates by itself (20m x 5); options it is given are judged with
    // its defaults for the missing one.
    let local = |o: Option<serde_json::Value>| {
        Host::hardened()
            .json_edit(move |m| {
                m.insert("log-driver".into(), json!("local"));
                match &o {
                    Some(o) => m.insert("log-opts".into(), o.clone()),
                    None => m.remove("log-opts"),
                };
            })
            .info("LoggingDriver", json!("local"))
    };
    let f = expect(&local(None), "log-config", "pass");
    evidence_has(&f, "default rotation 20m x 5 = 100m");
    expect(&local(Some(json!({"max-file": "7"}))), "log-config", "pass");
    let f = expect(
        &local(Some(json!({"max-size": "40m"}))),
        "log-config",
        "fail",
    );
    evidence_has(&f, "(40m x 5)");
    expect(
        &local(Some(json!({"max-size": "100m", "max-file": "2"}))),
        "log-config",
        "fail",
    );
    let h = Host::hardened()
        .json_edit(|m| {
            m.insert("log-driver".into(), json!("syslog"));
            m.remove("log-opts");
        })
        .info("LoggingDriver", json!("syslog"));
    expect(&h, "log-config", "pass");
    let h = Host::hardened()
        .json_edit(|m| {
            m.insert("log-driver".into(), json!("none"));
        })
        .info("LoggingDriver", json!("none"));
    expect(&h, "log-config", "fail");
}

#[test]
fn no_new_privileges_must_be_true() {
    expect(&Host::hardened(), "no-new-privileges", "pass");
    // The seed's value.
    let h = Host::hardened().json_edit(|m| {
        m.insert("no-new-privileges".into(), json!(false));
    });
    let f = expect(&h, "no-new-privileges", "fail");
    evidence_has(&f, "the seed asks for");
    // `--no-new-privileges=false` is not the option.
    let h = Host::hardened()
        .json_edit(|m| {
            m.remove("no-new-privileges");
        })
        .argv(&["-H", "fd://", "--no-new-privileges=false"]);
    expect(&h, "no-new-privileges", "fail");
    let h = Host::hardened()
        .json_edit(|m| {
            m.remove("no-new-privileges");
        })
        .argv(&["-H", "fd://", "--no-new-privileges"]);
    expect(&h, "no-new-privileges", "pass");
    // Flag and daemon.json both: dockerd would not start.
    let h = Host::hardened().argv(&["-H", "fd://", "--no-new-privileges"]);
    let f = expect(&h, "no-new-privileges", "fail");
    evidence_has(&f, "refuses to start");
}

#[test]
fn live_restore() {
    let f = expect(&Host::hardened(), "live-restore", "pass");
    evidence_has(&f, "/info: LiveRestoreEnabled=true");
    // daemon.json says true, the daemon says false: not restarted yet.
    let h = Host::hardened().info("LiveRestoreEnabled", json!(false));
    let f = expect(&h, "live-restore", "fail");
    evidence_has(&f, "the running daemon reports");
    evidence_has(&f, "disagree: dockerd has not been restarted");
    let h = Host::hardened()
        .json_edit(|m| {
            m.remove("live-restore");
        })
        .info("LiveRestoreEnabled", json!(false));
    expect(&h, "live-restore", "fail");
    let h = Host::hardened().info("Swarm", json!({"LocalNodeState": "active"}));
    expect(&h, "live-restore", "not-applicable");
}

#[test]
fn userland_proxy() {
    expect(&Host::hardened(), "userland-proxy", "pass");
    let h = Host::hardened().json_edit(|m| {
        m.remove("userland-proxy");
    });
    expect(&h, "userland-proxy", "fail");
}

#[test]
fn seccomp_profile() {
    let f = expect(&Host::hardened(), "seccomp-profile", "pass");
    evidence_has(&f, "profile=builtin");
    let h = Host::hardened()
        .json_edit(|m| {
            m.insert("seccomp-profile".into(), json!("unconfined"));
        })
        .info(
            "SecurityOptions",
            json!(["name=seccomp,profile=unconfined", "name=userns"]),
        );
    expect(&h, "seccomp-profile", "fail");
    // Docker 20.10 needs a file for "no filtering": defaultAction allow.
    let mut h = Host::hardened()
        .json_edit(|m| {
            m.insert(
                "seccomp-profile".into(),
                json!("/etc/docker/allow-all.json"),
            );
        })
        .info(
            "SecurityOptions",
            json!([
                "name=seccomp,profile=/etc/docker/allow-all.json",
                "name=userns"
            ]),
        );
    h.set_file(
        "/etc/docker/allow-all.json",
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}"#,
    );
    let f = expect(&h, "seccomp-profile", "fail");
    evidence_has(&f, "defaultAction=SCMP_ACT_ALLOW");
    h.set_file(
        "/etc/docker/allow-all.json",
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}"#,
    );
    expect(&h, "seccomp-profile", "pass");
    let h = Host::hardened().info("SecurityOptions", json!(["name=apparmor", "name=userns"]));
    expect(&h, "seccomp-profile", "fail");
}

#[test]
fn no_experimental() {
    let f = expect(&Host::hardened(), "no-experimental", "pass");
    evidence_has(&f, "/version: Experimental=false");
    let mut h = Host::hardened().json_edit(|m| {
        m.insert("experimental".into(), json!(true));
    });
    h.facts.api.version = Some(json!({"Version": "26.1.5", "Experimental": true}));
    expect(&h, "no-experimental", "fail");
}

#[test]
fn legacy_registry() {
    let f = expect(&Host::hardened(), "legacy-registry", "not-applicable");
    assert!(matches!(&f.verdict, Verdict::NotApplicable { why } if why.contains("17.12")));
    let mut h = Host::hardened().argv(&["-H", "fd://"]);
    h.facts.api.version = Some(json!({"Version": "17.06.2-ce"}));
    let f = expect(&h, "legacy-registry", "fail");
    evidence_has(&f, "< 17.12");
    let mut h = Host::hardened().argv(&["-H", "fd://", "--disable-legacy-registry"]);
    h.facts.api.version = Some(json!({"Version": "17.06.2-ce"}));
    expect(&h, "legacy-registry", "pass");
}

// ----------------------------------------------------------------- 3.x

#[test]
fn permissions_pass_on_the_baseline_and_fail_on_loose_modes() {
    let cases = [
        (
            "perm-docker-service",
            "/lib/systemd/system/docker.service|root|root|664|regular file|0|0|1",
        ),
        (
            "perm-docker-socket-unit",
            "/lib/systemd/system/docker.socket|root|root|666|regular file|0|0|1",
        ),
        (
            "perm-etc-docker",
            "/etc/docker|root|root|775|directory|0|0|1",
        ),
        (
            "perm-docker-sock",
            "/var/run/docker.sock|root|docker|666|socket|0|994|1",
        ),
        (
            "perm-daemon-json",
            "/etc/docker/daemon.json|root|root|664|regular file|0|0|1",
        ),
        (
            "perm-etc-default-docker",
            "/etc/default/docker|root|root|646|regular file|0|0|1",
        ),
        (
            "perm-containerd-sock",
            "/run/containerd/containerd.sock|root|root|666|socket|0|0|1",
        ),
    ];
    for (id, bad) in cases {
        expect(&Host::hardened(), id, "pass");
        let f = expect(&Host::hardened().stat(bad), id, "fail");
        evidence_has(&f, "beyond");
    }
    // Owners.
    let f = expect(
        &Host::hardened().stat("/etc/docker/daemon.json|alice|root|644|regular file|1000|0|1"),
        "perm-daemon-json",
        "fail",
    );
    evidence_has(&f, "owned by alice:root");
    let f = expect(
        &Host::hardened().stat("/var/run/docker.sock|root|root|660|socket|0|0|1"),
        "perm-docker-sock",
        "fail",
    );
    evidence_has(&f, "expected root:docker");
    // Stricter is fine, whatever the decimal value says: 0604 <= 644 passes
    // as a mask too, 0600 passes 0660.
    expect(
        &Host::hardened().stat("/etc/docker/daemon.json|root|root|604|regular file|0|0|1"),
        "perm-daemon-json",
        "pass",
    );
    expect(
        &Host::hardened().stat("/var/run/docker.sock|root|docker|600|socket|0|994|1"),
        "perm-docker-sock",
        "pass",
    );
    // 0477 is below 644 as a number, and grants others write.
    expect(
        &Host::hardened().stat("/etc/docker/daemon.json|root|root|477|regular file|0|0|1"),
        "perm-daemon-json",
        "fail",
    );
}

#[test]
fn permissions_include_drop_ins() {
    let mut h = Host::hardened().stat(
        "/etc/systemd/system/docker.service.d/override.conf|root|root|666|regular file|0|0|1",
    );
    h.facts.service.drop_in_paths =
        vec!["/etc/systemd/system/docker.service.d/override.conf".into()];
    h.set_file(
        "/etc/systemd/system/docker.service.d/override.conf",
        "[Service]\n",
    );
    let f = expect(&h, "perm-docker-service", "fail");
    evidence_has(&f, "override.conf has mode 0666");
}

#[test]
fn tls_file_permissions() {
    let base = || {
        Host::hardened().argv(&[
            "--tlsverify",
            "--tlscacert=/etc/docker/tls/ca.pem",
            "--tlscert=/etc/docker/tls/server-cert.pem",
            "--tlskey=/etc/docker/tls/server-key.pem",
            "-H",
            "tcp://0.0.0.0:2376",
        ])
    };
    let good = base()
        .stat("/etc/docker/tls/ca.pem|root|root|444|regular file|0|0|1")
        .stat("/etc/docker/tls/server-cert.pem|root|root|444|regular file|0|0|1")
        .stat("/etc/docker/tls/server-key.pem|root|root|600|regular file|0|0|1");
    for id in ["perm-tls-ca", "perm-tls-cert", "perm-tls-key"] {
        expect(&good, id, "pass");
    }
    let bad = good.stat("/etc/docker/tls/server-key.pem|root|root|640|regular file|0|0|1");
    expect(&bad, "perm-tls-key", "fail");
    let bad = base().stat("/etc/docker/tls/ca.pem|root|root|644|regular file|0|0|1");
    expect(&bad, "perm-tls-ca", "fail");
}

#[test]
fn registry_certs() {
    let h = Host::hardened()
        .stat("/etc/docker/certs.d/reg.example:5000/ca.crt|root|root|444|regular file|0|0|1");
    expect(&h, "perm-registry-certs", "pass");
    let h = h.stat("/etc/docker/certs.d/reg.example:5000/ca.crt|root|root|644|regular file|0|0|1");
    expect(&h, "perm-registry-certs", "fail");
}

// ----------------------------------------------------------------- sources

#[test]
fn unit_and_running_dockerd_disagree() {
    // Someone edited the unit and did not restart.
    let mut h = Host::hardened().json_edit(|m| {
        m.remove("userland-proxy");
    });
    h.set_file(
        common::SERVICE,
        "[Service]\nExecStart=/usr/sbin/dockerd -H fd:// --userland-proxy=false\n",
    );
    let f = expect(&h, "userland-proxy", "fail");
    evidence_has(&f, "takes effect at the next restart");
}

#[test]
fn daemon_json_that_does_not_parse_fails_its_controls() {
    let h = Host::hardened().json("{\"live-restore\": true,");
    let f = expect(&h, "live-restore", "fail");
    evidence_has(&f, "does not parse");
}

#[test]
fn daemon_json_newer_than_dockerd_is_noted() {
    let h = Host::hardened().stat(&format!(
        "{DAEMON_JSON}|root|root|644|regular file|0|0|1800000000"
    ));
    let f = h.finding("icc");
    evidence_has(&f, "changed after dockerd started");
}

// ----------------------------------------------------------------- 2.1

#[test]
fn rootless_passes_fails_by_policy_or_is_manual() {
    let mut h = Host::hardened();
    let f = expect(&h, "rootless", "manual");
    evidence_has(&f, "no name=rootless, so the daemon runs as root");
    h.policy.rootless_required = true;
    let f = expect(&h, "rootless", "fail");
    evidence_has(&f, "the policy requires a rootless daemon");
    // A rootless daemon says so in /info.
    let info = h.facts.api.info.as_mut().unwrap();
    info["SecurityOptions"] = serde_json::json!([
        "name=seccomp,profile=builtin",
        "name=rootless",
        "name=cgroupns"
    ]);
    let f = expect(&h, "rootless", "pass");
    evidence_has(&f, "name=rootless");
    // No daemon answer: unknown, never a silent pass.
    h.facts.api.info = None;
    expect(&h, "rootless", "manual");
}

// ----------------------------------------------------------- 1.8.0 2.7

#[test]
fn devicemapper_fails_and_is_not_applicable_from_engine_25() {
    let mut h = Host::hardened();
    // Engine 20.10 still has the driver.
    h.facts.api.version = None;
    h.facts.api.info.as_mut().unwrap()["ServerVersion"] = serde_json::json!("20.10.24");
    expect(&h, "no-devicemapper", "pass");
    let info = h.facts.api.info.as_mut().unwrap();
    info["Driver"] = serde_json::json!("devicemapper");
    let f = expect(&h, "no-devicemapper", "fail");
    evidence_has(
        &f,
        "the running daemon uses the devicemapper storage driver",
    );
    let info = h.facts.api.info.as_mut().unwrap();
    info["ServerVersion"] = serde_json::json!("25.0.3");
    let f = expect(&h, "no-devicemapper", "not-applicable");
    evidence_has(&f, "ServerVersion=25.0.3");
}
