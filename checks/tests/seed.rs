//! The parsers and verdicts on the seed's verbatim outputs
//! (tests/fixtures/seed/, CentOS 7, Docker 19.03.8) and on the constructed
//! fixtures that complete them (tests/fixtures/constructed/).

mod common;

use common::{evidence_has, expect, Host};
use serde_json::json;
use shipshape_checks::accounts::Group;
use shipshape_checks::daemon_json::parse_fragment;
use shipshape_checks::docker_info_text::parse_docker_info_text;
use shipshape_checks::flags::parse_command_line;
use shipshape_checks::pasted::{
    dockerd_from_ps_ef, parse_lsblk, parse_proc_limits, parse_ps_ef_line, parse_ps_pid_user,
    parse_systemctl_cgroup_line,
};
use shipshape_checks::systemd::{expand_exec, parse_unit};
use shipshape_checks::Policy;

fn seed(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/seed/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn constructed(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/constructed/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The baseline host running `argv` (program name included).
fn running(argv: &[String]) -> Host {
    let mut h = Host::hardened();
    h.facts.dockerd.argv = argv.to_vec();
    h.set_file(
        common::SERVICE,
        &format!("[Service]\nExecStart={}\n", argv.join(" ")),
    );
    h
}

// ------------------------------------------------------------------ parsers

#[test]
fn ps_ef_grep_dockerd() {
    let p = dockerd_from_ps_ef(&seed("ps_ef_grep_dockerd.txt"));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].pid, 65353);
    assert_eq!(p[0].user.as_deref(), Some("root"));
    let f = parse_command_line(&p[0].argv);
    assert_eq!(f.bool("tlsverify"), Some(Ok(true)));
    assert_eq!(f.last("tlscacert").unwrap().value, "/root/docker/ca.pem");
    assert_eq!(
        f.last("tlscert").unwrap().value,
        "/root/docker/server-cert.pem"
    );
    assert_eq!(
        f.last("tlskey").unwrap().value,
        "/root/docker/server-key.pem"
    );
    let hosts: Vec<_> = f.all("host").iter().map(|o| o.value.clone()).collect();
    assert_eq!(
        hosts,
        ["unix:///var/run/docker.sock", "tcp://192.168.235.128:2375"]
    );
    assert!(
        !f.is_set("default-ulimit"),
        "the seed's ulimit audit finds no --default-ulimit"
    );
    assert!(f.positional.is_empty() && f.unknown.is_empty());
}

#[test]
fn grep_line_is_skipped() {
    let p = dockerd_from_ps_ef(&constructed("ps_ef_grep_dockerd_dm_basesize.txt"));
    assert_eq!(p.len(), 1, "the `grep dockerd` line is not dockerd");
    assert_eq!(p[0].pid, 1187);
}

#[test]
fn systemctl_status_grep_dockerd() {
    let line = seed("systemctl_status_grep_dockerd.txt");
    let p = parse_systemctl_cgroup_line(line.lines().next().unwrap()).unwrap();
    assert_eq!(p.pid, 1061);
    let f = parse_command_line(&p.argv);
    let hosts: Vec<_> = f.all("host").iter().map(|o| o.value.clone()).collect();
    assert_eq!(hosts, ["tcp://0.0.0.0:2375", "unix://var/run/docker.sock"]);
    assert!(!f.is_set("tlsverify"));
}

#[test]
fn unit_exec_start_from_the_tls_fix() {
    let text = format!("[Service]\n{}", seed("unit_exec_start_tls.txt"));
    let u = parse_unit(&text);
    let argv = expand_exec(&u.exec_start[0], &Default::default()).unwrap();
    assert_eq!(argv[0], "/usr/bin/dockerd");
    let f = parse_command_line(&argv);
    assert_eq!(f.bool("tlsverify"), Some(Ok(true)));
    assert_eq!(f.all("host").len(), 2);
}

#[test]
fn docker_info_grep_storage_driver() {
    assert_eq!(
        parse_docker_info_text(&seed("docker_info_grep_storage_driver.txt"))["Driver"],
        "overlay2"
    );
    assert_eq!(
        parse_docker_info_text(&seed("docker_info_grep_storage_driver_aufs.txt"))["Driver"],
        "aufs"
    );
}

#[test]
fn docker_info_full_text() {
    let v = parse_docker_info_text(&constructed("docker_info_19.03_centos7.txt"));
    assert_eq!(v["ServerVersion"], "19.03.8");
    assert_eq!(v["Driver"], "overlay2");
    assert_eq!(v["LoggingDriver"], "json-file");
    assert_eq!(v["DockerRootDir"], "/var/lib/docker");
    assert_eq!(v["LiveRestoreEnabled"], false);
    assert_eq!(v["ExperimentalBuild"], false);
    assert_eq!(v["Debug"], false);
    assert_eq!(v["Swarm"]["LocalNodeState"], "inactive");
    assert_eq!(
        v["SecurityOptions"],
        json!(["name=seccomp,profile=default"])
    );
    assert_eq!(
        v["RegistryConfig"]["InsecureRegistryCIDRs"],
        json!(["127.0.0.0/8"])
    );
    assert_eq!(
        v["RegistryConfig"]["IndexConfigs"]
            .as_object()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(v["DriverStatus"][1], json!(["Supports d_type", "true"]));
}

#[test]
fn docker_format_answers() {
    // `docker info --format '{{.LoggingDriver}}'` etc. print one bare value.
    assert_eq!(
        seed("docker_info_format_logging_driver.txt").trim(),
        "json-file"
    );
    assert_eq!(
        seed("docker_info_format_live_restore.txt")
            .trim()
            .parse::<bool>(),
        Ok(false)
    );
    assert_eq!(
        seed("docker_version_format_experimental.txt")
            .trim()
            .parse::<bool>(),
        Ok(false)
    );
}

#[test]
fn proc_limits_match_the_policy_defaults() {
    let l = parse_proc_limits(&seed("proc_pid_limits.txt"));
    assert_eq!(l.len(), 16);
    let p = Policy::default();
    assert_eq!(
        l["Max processes"].numbers(),
        Some((p.ulimit_nproc.soft, p.ulimit_nproc.hard))
    );
    assert_eq!(
        l["Max open files"].numbers(),
        Some((p.ulimit_nofile.soft, p.ulimit_nofile.hard))
    );
    assert_eq!(l["Max cpu time"].numbers(), Some((-1, -1)));
    assert_eq!(l["Max stack size"].soft, "8388608");
    assert_eq!(l["Max nice priority"].units, "");
    assert_eq!(l["Max realtime timeout"].units, "us");
}

#[test]
fn ps_o_pid_user_shows_a_subordinate_uid() {
    let rows = parse_ps_pid_user(&seed("ps_o_pid_user.txt"));
    assert_eq!(rows, [(2535, "100000".to_string())]);
}

#[test]
fn ps_ef_container_runs_as_root_before_userns() {
    let rows: Vec<_> = seed("ps_ef_grep_container.txt")
        .lines()
        .filter_map(parse_ps_ef_line)
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].user.as_deref(), Some("root"));
    assert_eq!(rows[0].argv[0], "containerd-shim");
    assert_eq!(rows[1].argv[0], "grep");
}

#[test]
fn lsblk_before_and_after() {
    let before = parse_lsblk(&seed("lsblk_before.txt"));
    assert_eq!(before.len(), 7);
    let sdb = before.iter().find(|d| d.name == "sdb").unwrap();
    assert_eq!(
        (
            sdb.size.as_str(),
            sdb.kind.as_str(),
            sdb.mountpoint.as_deref()
        ),
        ("30G", "disk", None)
    );
    let root = before.iter().find(|d| d.name == "centos-root").unwrap();
    assert_eq!(
        (root.kind.as_str(), root.mountpoint.as_deref(), root.depth),
        ("lvm", Some("/"), 2)
    );
    assert_eq!(
        before
            .iter()
            .find(|d| d.name == "centos-swap")
            .unwrap()
            .mountpoint
            .as_deref(),
        Some("[SWAP]")
    );

    let after = parse_lsblk(&seed("lsblk_after_reboot.txt"));
    let sdb = after.iter().find(|d| d.name == "sdb").unwrap();
    assert_eq!(sdb.mountpoint.as_deref(), Some("/var/lib/docker"));
}

#[test]
fn getent_group_docker() {
    let g = Group::parse_line(seed("getent_group_docker.txt").trim()).unwrap();
    assert_eq!((g.name.as_str(), g.gid), ("docker", Some(994)));
    assert!(g.members.is_empty());
}

#[test]
fn daemon_json_snippets() {
    let m = parse_fragment(&seed("grep_daemon_json_insecure_registries.txt")).unwrap();
    assert_eq!(m["insecure-registries"].as_array().unwrap().len(), 6);
    assert_eq!(
        parse_fragment(&seed("daemon_json_fragment_live_restore.txt")).unwrap()["live-restore"],
        true
    );
    assert_eq!(
        parse_fragment(&seed("daemon_json_fragment_userland_proxy.txt")).unwrap()["userland-proxy"],
        false
    );
    assert_eq!(
        parse_fragment(&seed("daemon_json_fragment_no_new_privileges.txt")).unwrap()
            ["no-new-privileges"],
        false
    );
    let full: serde_json::Value =
        serde_json::from_str(&seed("daemon_json_log_config.json")).unwrap();
    assert_eq!(full["log-opts"]["max-size"], "50m");
}

// ------------------------------------------------------------------ verdicts

#[test]
fn aufs_fails_on_the_seed_text() {
    let mut h = Host::hardened();
    h.facts.api.info = Some(parse_docker_info_text(&seed(
        "docker_info_grep_storage_driver_aufs.txt",
    )));
    let f = expect(&h, "no-aufs", "fail");
    evidence_has(&f, "/info: Driver=aufs");
    h.facts.api.info = Some(parse_docker_info_text(&seed(
        "docker_info_grep_storage_driver.txt",
    )));
    expect(&h, "no-aufs", "pass");
}

#[test]
fn tls_verdicts_on_the_seed_command_lines() {
    // Before the fix: a plain TCP listener.
    let line = seed("systemctl_status_grep_dockerd.txt");
    let before = parse_systemctl_cgroup_line(line.lines().next().unwrap()).unwrap();
    let f = expect(&running(&before.argv), "tls-auth", "fail");
    evidence_has(&f, "tcp://0.0.0.0:2375");
    // After: tlsverify with CA, cert and key.
    let after = dockerd_from_ps_ef(&seed("ps_ef_grep_dockerd.txt")).remove(0);
    let h = running(&after.argv)
        .stat("/root/docker/ca.pem|root|root|444|regular file|0|0|1")
        .stat("/root/docker/server-cert.pem|root|root|444|regular file|0|0|1")
        .stat("/root/docker/server-key.pem|root|root|600|regular file|0|0|1");
    expect(&h, "tls-auth", "pass");
    expect(&h, "perm-tls-key", "pass");
}

#[test]
fn seed_ulimit_audit_fails_on_its_own_command_line() {
    let after = dockerd_from_ps_ef(&seed("ps_ef_grep_dockerd.txt")).remove(0);
    let h = running(&after.argv).json_edit(|m| {
        m.remove("default-ulimits");
    });
    let f = expect(&h, "default-ulimits", "fail");
    evidence_has(&f, "no --default-ulimit");
}

#[test]
fn dm_basesize_fails_on_a_captured_command_line() {
    let p = dockerd_from_ps_ef(&constructed("ps_ef_grep_dockerd_dm_basesize.txt")).remove(0);
    let f = expect(&running(&p.argv), "dm-basesize", "fail");
    evidence_has(&f, "dm.basesize=20G");
}

#[test]
fn legacy_registry_before_17_12() {
    let after = dockerd_from_ps_ef(&seed("ps_ef_grep_dockerd.txt")).remove(0);
    let mut h = running(&after.argv);
    h.facts.api.version = Some(json!({"Version": "17.06.2-ce"}));
    expect(&h, "legacy-registry", "fail");
    // The seed's own engine: not applicable.
    h.facts.api.version = Some(json!({"Version": "19.03.8"}));
    expect(&h, "legacy-registry", "not-applicable");
}

#[test]
fn seed_daemon_json_snippets_as_verdicts() {
    let frag = |name: &str| parse_fragment(&seed(name)).unwrap();
    let with = |m: serde_json::Map<String, serde_json::Value>| {
        Host::hardened().json_edit(move |j| {
            for (k, v) in m {
                j.insert(k, v);
            }
        })
    };
    expect(
        &with(frag("grep_daemon_json_insecure_registries.txt")),
        "insecure-registries",
        "fail",
    );
    expect(
        &with(frag("daemon_json_fragment_live_restore.txt")),
        "live-restore",
        "pass",
    );
    expect(
        &with(frag("daemon_json_fragment_userland_proxy.txt")),
        "userland-proxy",
        "pass",
    );
    // The seed says false; false fails.
    expect(
        &with(frag("daemon_json_fragment_no_new_privileges.txt")),
        "no-new-privileges",
        "fail",
    );
    let log: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&seed("daemon_json_log_config.json")).unwrap();
    expect(&with(log), "log-config", "pass");
}

#[test]
fn seed_live_restore_answer_fails() {
    let v: bool = seed("docker_info_format_live_restore.txt")
        .trim()
        .parse()
        .unwrap();
    let h = Host::hardened().info("LiveRestoreEnabled", json!(v));
    expect(&h, "live-restore", "fail");
}

#[test]
fn boolean_with_a_separate_false_would_not_start() {
    let p = dockerd_from_ps_ef(&constructed("ps_ef_grep_dockerd_live_restore_false.txt")).remove(0);
    let h = running(&p.argv).json_edit(|m| {
        m.remove("live-restore");
    });
    let f = expect(&h, "live-restore", "fail");
    evidence_has(&f, "accepts no arguments");
}

#[test]
fn seed_group_passes_with_the_default_policy() {
    let h = Host::hardened().group(seed("getent_group_docker.txt").trim(), &[]);
    expect(&h, "docker-group", "pass");
}
