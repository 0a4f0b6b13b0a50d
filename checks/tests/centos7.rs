//! A constructed probe capture of the seed's platform (CentOS 7.9, docker-ce
//! 19.03.8 from download.docker.com, containerd.io 1.2.13, systemd 219; see
//! tests/fixtures/README.md): it parses, its CentOS-specific shapes come out
//! as the right facts, and every control gets the verdict its logic gives
//! such a host with the default policy.

use std::path::Path;

use shipshape_checks::facts::StatLookup;
use shipshape_checks::systemd::argv_from_show_exec;
use shipshape_checks::version::EngineVersion;
use shipshape_checks::{audit, catalogue, parse_facts, Facts, Finding, Policy, Verdict};

const CAPTURE: &str = "tests/fixtures/constructed/centos7-probe.json";

fn facts() -> Facts {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(CAPTURE);
    parse_facts(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn kind(f: &Finding) -> &'static str {
    match f.verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::NotApplicable { .. } => "not-applicable",
        Verdict::Manual { .. } => "manual",
    }
}

fn finding(findings: &[Finding], id: &str) -> Finding {
    findings.iter().find(|f| f.id == id).unwrap().clone()
}

fn has(f: &Finding, needle: &str) -> bool {
    f.evidence.iter().any(|l| l.contains(needle))
}

#[test]
fn every_control_gets_the_expected_verdict() {
    let expected = [
        // / and /var/lib/docker are both on the root LV
        // (/dev/mapper/centos-root, xfs): no separate partition.
        ("docker-root-mount", "fail"),
        // `docker:x:994:centos`: the default policy allows root only.
        ("docker-group", "fail"),
        // auditd is installed, `auditctl -l` says "No rules": every watched
        // path that exists fails, every one that does not is n/a.
        ("audit-dockerd", "fail"),
        ("audit-run-containerd", "fail"),
        ("audit-var-lib-docker", "fail"),
        // dockerd 19.03 creates /etc/docker (0700) for its key.json.
        ("audit-etc-docker", "fail"),
        ("audit-docker-service", "fail"),
        ("audit-containerd-sock", "fail"),
        ("audit-docker-socket", "fail"),
        // CentOS has no /etc/default/docker.
        ("audit-etc-default-docker", "not-applicable"),
        // No daemon.json on a fresh docker-ce install.
        ("audit-daemon-json", "not-applicable"),
        // containerd.io ships /etc/containerd/config.toml.
        ("audit-containerd-config", "fail"),
        // /etc/sysconfig/docker belongs to RHEL's own docker package, not
        // to docker-ce.
        ("audit-etc-sysconfig-docker", "not-applicable"),
        ("audit-containerd", "fail"),
        ("audit-containerd-shim", "fail"),
        // containerd.io 1.2.13 ships containerd, containerd-shim, ctr and
        // runc only: neither runc v1 nor v2 shim exists.
        ("audit-containerd-shim-runc-v1", "not-applicable"),
        ("audit-containerd-shim-runc-v2", "not-applicable"),
        // containerd.io's /usr/bin/runc.
        ("audit-runc", "fail"),
        ("host-hardening", "manual"),
        // 19.03.8 is below the policy minimum 20.10.0, and yum's cache
        // offers docker-ce 3:26.1.4-1.el7.
        ("docker-version", "fail"),
        // /info has no name=rootless and the policy does not require it.
        ("rootless", "manual"),
        ("icc", "fail"),
        ("log-level", "pass"),
        ("iptables", "pass"),
        // Only the built-in 127.0.0.0/8.
        ("insecure-registries", "pass"),
        ("no-aufs", "pass"),
        // overlay2; 19.03 still has devicemapper, so the control applies.
        ("no-devicemapper", "pass"),
        // -H fd://: docker.socket listens on /var/run/docker.sock only
        // (read from the unit file: systemd 219 prints ListenStream=, not
        // Listen=).
        ("tls-auth", "pass"),
        ("default-ulimits", "fail"),
        // Not set, and user.max_user_namespaces is 0 (RHEL 7's default).
        ("userns-remap", "fail"),
        ("cgroup-parent", "pass"),
        ("dm-basesize", "pass"),
        ("authz-plugin", "manual"),
        // json-file without max-size.
        ("log-config", "fail"),
        ("no-new-privileges", "fail"),
        // LiveRestoreEnabled=false, swarm inactive.
        ("live-restore", "fail"),
        ("userland-proxy", "fail"),
        // name=seccomp,profile=default.
        ("seccomp-profile", "pass"),
        ("no-experimental", "pass"),
        // --disable-legacy-registry was removed in 17.12; 19.03 has no v1
        // registry support left to disable.
        ("legacy-registry", "not-applicable"),
        ("perm-docker-service", "pass"),
        ("perm-docker-socket-unit", "pass"),
        // 0700 is within 0755.
        ("perm-etc-docker", "pass"),
        ("perm-registry-certs", "not-applicable"),
        // No TLS configured and no file at the policy's paths.
        ("perm-tls-ca", "not-applicable"),
        ("perm-tls-cert", "not-applicable"),
        ("perm-tls-key", "not-applicable"),
        // /var/run/docker.sock root:docker 0660.
        ("perm-docker-sock", "pass"),
        ("perm-daemon-json", "not-applicable"),
        ("perm-etc-default-docker", "not-applicable"),
        ("perm-etc-sysconfig-docker", "not-applicable"),
        // /run/containerd/containerd.sock root:root 0660; dockerd runs no
        // containerd of its own (--containerd), so the other is absent.
        ("perm-containerd-sock", "pass"),
    ];
    let findings = audit(&facts(), &Policy::default());
    assert_eq!(findings.len(), catalogue().len());
    assert_eq!(expected.len(), catalogue().len(), "every control is listed");
    let got: Vec<(&str, &str)> = findings.iter().map(|f| (f.id, kind(f))).collect();
    assert_eq!(got, expected);
    // A capture of a whole host leaves nothing undecided for lack of facts.
    for f in &findings {
        if let Verdict::Manual { why } = &f.verdict {
            assert!(!why.contains("not captured"), "{}: {why}", f.id);
        }
    }
}

#[test]
fn the_capture_reads_as_centos_7_with_docker_ce_19_03() {
    let f = facts();
    assert_eq!(f.probe_version, 2);
    assert_eq!(f.os.id.as_deref(), Some("centos"));
    assert_eq!(f.os.version_id.as_deref(), Some("7"));
    assert_eq!(f.kernel.as_deref(), Some("3.10.0-1160.el7.x86_64"));

    // The engine: /info through the docker CLI, since CentOS 7's curl 7.29
    // has no --unix-socket.
    assert_eq!(f.api.via.as_deref(), Some("docker-cli"));
    assert!(f
        .api
        .curl_error
        .as_deref()
        .unwrap()
        .starts_with("curl exit 2: curl: option --unix-socket: is unknown"));
    assert!(f.api.info_error.is_none());
    let info = f.api.info.as_ref().unwrap();
    assert_eq!(info["ServerVersion"], "19.03.8");
    assert_eq!(info["Driver"], "overlay2");
    assert_eq!(info["CgroupDriver"], "cgroupfs");
    assert_eq!(info["LiveRestoreEnabled"], false);
    assert!(
        info.get("ClientInfo").is_some(),
        "the CLI's {{{{json .}}}} adds its own part"
    );
    assert_eq!(
        EngineVersion::parse(info["ServerVersion"].as_str().unwrap()),
        Some(EngineVersion::new(19, 3, 8))
    );

    // Packages from rpm, the update from yum's cache; docker-ce-cli and
    // containerd.io are not engine packages (the probe does not ask).
    assert_eq!(f.packages.len(), 1, "{:?}", f.packages);
    let p = &f.packages[0];
    assert_eq!(p.name, "docker-ce");
    assert_eq!(p.installed.as_deref(), Some("3:19.03.8-3.el7"));
    assert_eq!(p.candidate.as_deref(), Some("3:26.1.4-1.el7"));
    assert_eq!(p.source, "rpm -q, yum/dnf updates");
    assert_eq!(p.newer_candidate(), Some("3:26.1.4-1.el7"));

    // systemd 219's `systemctl show`: ExecStart in its `{ path=… ;
    // argv[]=… ; … }` form; no DropInPaths= or EnvironmentFile= line for
    // empty values; Listen printed as ListenStream=.
    assert_eq!(
        f.service.fragment_path.as_deref(),
        Some("/usr/lib/systemd/system/docker.service")
    );
    assert_eq!(
        f.service.fragment_real.as_deref(),
        Some("/usr/lib/systemd/system/docker.service")
    );
    let exec = f.service.exec_start.as_deref().unwrap();
    assert!(
        exec.starts_with("{ path=/usr/bin/dockerd ; argv[]="),
        "{exec}"
    );
    assert_eq!(
        argv_from_show_exec(exec).unwrap(),
        [
            "/usr/bin/dockerd",
            "-H",
            "fd://",
            "--containerd=/run/containerd/containerd.sock"
        ]
    );
    assert!(f.service.drop_in_paths.is_empty());
    assert!(f.service.environment_files.is_empty());
    assert_eq!(
        f.service.properties.get("LimitNOFILE").map(String::as_str),
        Some("18446744073709551615")
    );
    assert_eq!(
        f.service.properties.get("MainPID").map(String::as_str),
        Some("1061")
    );
    // systemd 219 prints ListenStream=, read as Listen= of later systemd.
    assert_eq!(
        f.socket.listen,
        vec!["/var/run/docker.sock (Stream)".to_string()]
    );
    assert_eq!(
        f.socket.properties.get("ListenStream").map(String::as_str),
        Some("/var/run/docker.sock")
    );

    // The daemon.
    assert_eq!(f.dockerd.pid, Some(1061));
    assert_eq!(f.dockerd.exe.as_deref(), Some("/usr/bin/dockerd"));
    assert_eq!(f.dockerd.argv, argv_from_show_exec(exec).unwrap());

    // An LVM root, /var/lib/docker on it, /boot on the first partition.
    let m = f.mount_of("/var/lib/docker").unwrap();
    assert_eq!(m.via, "mountinfo");
    let mount = m.mount.as_ref().unwrap();
    assert_eq!(
        (
            mount.target.as_str(),
            mount.source.as_str(),
            mount.fstype.as_str()
        ),
        ("/", "/dev/mapper/centos-root", "xfs")
    );
    let boot = f.mount_holding("/boot/grub2").mount.unwrap();
    assert_eq!(
        (boot.target.as_str(), boot.source.as_str()),
        ("/boot", "/dev/sda1")
    );

    // Files docker-ce does not have on CentOS.
    for path in [
        "/etc/sysconfig/docker",
        "/etc/default/docker",
        "/etc/docker/daemon.json",
    ] {
        assert!(!f.file(path).unwrap().exists, "{path}");
        assert_eq!(f.stat(path), StatLookup::Missing, "{path}");
    }
    match f.stat("/etc/docker") {
        StatLookup::Found(st) => assert_eq!(st.mode.to_string(), "0700"),
        other => panic!("/etc/docker: {other:?}"),
    }

    // auditd with no rules, one user in the docker group, no user
    // namespaces.
    assert!(f.audit.auditctl_available);
    assert_eq!(f.audit.loaded.as_deref(), Some(&[][..]));
    let g = f.group("docker").unwrap().group.as_ref().unwrap();
    assert_eq!((g.gid, g.all_members()), (Some(994), vec!["centos"]));
    assert_eq!(f.max_user_namespaces, Some(0));
}

#[test]
fn the_evidence_names_what_centos_7_does_differently() {
    let findings = audit(&facts(), &Policy::default());

    let root = finding(&findings, "docker-root-mount");
    assert!(
        has(
            &root,
            "mountinfo /var/lib/docker: TARGET=/ SOURCE=/dev/mapper/centos-root FSTYPE=xfs"
        ),
        "{:?}",
        root.evidence
    );

    let version = finding(&findings, "docker-version");
    assert!(has(&version, "/info: ServerVersion=19.03.8"));
    assert!(has(
        &version,
        "fail: engine 19.3.8 is older than the policy minimum 20.10.0"
    ));
    assert!(
        has(
            &version,
            "fail: the package source offers docker-ce 3:26.1.4-1.el7, newer than the installed 3:19.03.8-3.el7"
        ),
        "{:?}",
        version.evidence
    );

    // systemd 219 gave ListenStream=, read as the socket's listener.
    let tls = finding(&findings, "tls-auth");
    assert!(
        has(&tls, "docker.socket Listen=/var/run/docker.sock (Stream)"),
        "{:?}",
        tls.evidence
    );

    let userns = finding(&findings, "userns-remap");
    assert!(has(
        &userns,
        "fail: user.max_user_namespaces is 0: remapping cannot work"
    ));

    let legacy = finding(&findings, "legacy-registry");
    assert!(matches!(
        &legacy.verdict,
        Verdict::NotApplicable { why } if why.contains("removed in 17.12")
    ));

    let group = finding(&findings, "docker-group");
    assert!(has(&group, "fail: not on the allow list: centos"));

    // The running dockerd and the unit agree, and the configuration has
    // nothing dockerd would refuse or shipshape does not know.
    for f in &findings {
        assert!(
            !f.evidence
                .iter()
                .any(|l| l.starts_with("problem:") || l.contains("flags shipshape does not know")),
            "{}: {:?}",
            f.id,
            f.evidence
        );
    }
}
