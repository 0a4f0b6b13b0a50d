//! A Docker socket served by Podman (podman-docker) is told apart from
//! dockerd, on answers written from Podman's source (see
//! tests/fixtures/README.md); the VM captures of real dockerd are not.

use std::path::Path;

use serde_json::Value;
use shipshape_checks::api::Api;
use shipshape_checks::parse_facts;

fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn podman_compat_info_is_podman() {
    let info = fixture("constructed/podman_4.3.1_compat_info.json");
    // It answers in Docker's shape: a check reading /info alone would judge it.
    assert_eq!(info["ServerVersion"], "4.3.1");
    assert_eq!(info["Swarm"]["LocalNodeState"], "inactive");
    let why = Api::new(Some(&info), None).podman().unwrap();
    assert_eq!(
        why,
        "/info has Podman's BuildahVersion 1.28.2, ServerVersion 4.3.1, DockerRootDir /var/lib/containers/storage"
    );
}

#[test]
fn podman_info_through_the_docker_wrapper_is_podman() {
    // podman-docker's `docker info --format '{{json .}}'` is `podman info`.
    let info = fixture("constructed/podman_4.3.1_info.json");
    let why = Api::new(Some(&info), None).podman().unwrap();
    assert!(
        why.contains("host.buildahVersion 1.28.2, version.Version 4.3.1"),
        "{why}"
    );
}

#[test]
fn podman_compat_version_is_podman() {
    let version = fixture("constructed/podman_4.3.1_compat_version.json");
    let why = Api::new(None, Some(&version)).podman().unwrap();
    assert_eq!(why, "/version names the component \"Podman Engine\" 4.3.1");
}

#[test]
fn a_vm_capture_with_podman_on_the_docker_socket_is_podman() {
    // debian-12 with podman 4.3.1 serving /var/run/docker.sock, read by curl.
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/debian-12/probe-podman.json");
    let f = parse_facts(&std::fs::read_to_string(p).unwrap()).unwrap();
    assert_eq!(f.api.via.as_deref(), Some("curl"));
    assert!(f.dockerd.pids.is_empty());
    assert_eq!(
        f.podman().unwrap(),
        "/info has Podman's BuildahVersion 1.28.2, ServerVersion 4.3.1, DockerRootDir /var/lib/containers/storage"
    );
    assert_eq!(f.docker_socket(), "/var/run/docker.sock");
}

#[test]
fn docker_engines_are_not_podman() {
    for platform in ["debian-12", "debian-13"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(platform);
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.ends_with("probe-podman.json") {
                continue;
            }
            let f = parse_facts(&std::fs::read_to_string(&p).unwrap()).unwrap();
            assert!(f.api.info.is_some() || f.api.version.is_some(), "{p:?}");
            assert_eq!(f.podman(), None, "{p:?}");
        }
    }
    // Docker's own /version lists Engine, containerd, runc, docker-init.
    let version: Value = serde_json::from_str(
        r#"{"Components":[{"Name":"Engine","Version":"26.1.5"},{"Name":"containerd","Version":"1.7.20"},{"Name":"runc","Version":"1.1.13"},{"Name":"docker-init","Version":"0.19.0"}],"Version":"26.1.5"}"#,
    )
    .unwrap();
    assert_eq!(Api::new(None, Some(&version)).podman(), None);
    assert_eq!(Api::default().podman(), None);
}

#[test]
fn facts_name_the_socket_and_the_evidence() {
    let info = fixture("constructed/podman_4.3.1_compat_info.json");
    let doc = format!(
        r#"{{"probe_version":2,"api":{{"via":"curl","socket":"/var/run/docker.sock","curl_error":null,"info":{info},"info_error":null}}}}"#
    );
    let f = parse_facts(&doc).unwrap();
    assert_eq!(f.docker_socket(), "/var/run/docker.sock");
    assert!(f.podman().unwrap().contains("BuildahVersion 1.28.2"));
    // Probe captures from before the socket was sent name the default.
    let f = parse_facts(r#"{"probe_version":2}"#).unwrap();
    assert_eq!(f.docker_socket(), "/var/run/docker.sock");
    assert_eq!(f.podman(), None);
}
