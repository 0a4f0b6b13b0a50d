//! Typed facts about one host, built from the probe's JSON document.
//!
//! Two shapes on purpose: the probe emits raw text (it runs on the target,
//! where there is nothing but sh and awk), [`parse_facts`] turns it into
//! [`Facts`]. `Facts` itself round-trips through serde in its typed form, so
//! a report can store it and a test can build one by hand.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::accounts::Group;
use crate::api::Api;
use crate::auditrules::{parse_rules, WatchRule};
use crate::mode::StatEntry;
use crate::mounts::{mount_of_from_mountinfo, parse_findmnt_raw, Mount};
use crate::packages::{engine_packages, PackageState};
use crate::systemd::parse_show;

/// The probe output versions this crate reads.
/// 2 reads mounts from mountinfo and no longer runs getconf.
pub const SUPPORTED_PROBE_VERSIONS: &[u32] = &[1, 2];

/// USER_HZ, the unit of `/proc/PID/stat` start times: the kernel's ABI fixes
/// it at 100 on every architecture Docker ships for, so the probe no longer
/// spends an exec on `getconf CLK_TCK` (probe version 1 still sends it).
const USER_HZ: u64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error("probe output is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("probe_version {0} is not supported (this build reads {SUPPORTED_PROBE_VERSIONS:?})")]
    UnsupportedVersion(u32),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Facts {
    pub probe_version: u32,
    pub hostname: Option<String>,
    pub kernel: Option<String>,
    /// `/proc/sys/kernel/random/boot_id`: which boot was judged.
    pub boot_id: Option<String>,
    pub os: OsRelease,
    pub dockerd: DockerdFacts,
    /// docker.service
    pub service: UnitFacts,
    /// docker.socket
    pub socket: UnitFacts,
    /// The daemon.json dockerd reads (`--config-file`, else the default).
    pub daemon_json_path: String,
    /// Text files the probe read (units, drop-ins, environment files,
    /// daemon.json, seccomp profile, audit rules, os-release, …).
    pub files: Vec<FileFact>,
    pub api: ApiFacts,
    pub groups: Vec<GroupFact>,
    pub stat: StatFacts,
    pub audit: AuditFacts,
    pub mounts: Vec<MountFact>,
    /// Docker engine packages: installed and offered versions.
    pub packages: Vec<PackageState>,
    /// `user.max_user_namespaces`.
    pub max_user_namespaces: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OsRelease {
    pub id: Option<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DockerdFacts {
    pub pid: Option<u32>,
    /// All dockerd pids (rootless daemons show up here too).
    pub pids: Vec<u32>,
    /// `/proc/PID/cmdline`, program name first.
    pub argv: Vec<String>,
    pub exe: Option<String>,
    /// Process start, seconds since the epoch.
    pub started_at: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnitFacts {
    pub fragment_path: Option<String>,
    /// The fragment with symlinks resolved.
    pub fragment_real: Option<String>,
    pub drop_in_paths: Vec<String>,
    pub environment_files: Vec<String>,
    /// `systemctl show -p ExecStart` value.
    pub exec_start: Option<String>,
    /// `Listen=` of a socket unit (`/run/docker.sock (Stream)`).
    pub listen: Vec<String>,
    /// Other `systemctl show` properties asked for (ActiveState, LimitNOFILE, …).
    pub properties: BTreeMap<String, String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileFact {
    pub path: String,
    pub exists: bool,
    pub content: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiFacts {
    /// Whose answer `info` and `info_error` hold: `curl`, or `docker-cli`
    /// when curl is missing or gave no JSON (then `curl_error` says why).
    pub via: Option<String>,
    /// The Docker socket the probe asked (`/var/run/docker.sock`).
    pub socket: Option<String>,
    /// Why curl gave no JSON, when the CLI was asked after it.
    pub curl_error: Option<String>,
    /// `GET /info` as the daemon answered it.
    pub info: Option<Value>,
    pub info_error: Option<String>,
    /// `GET /version` (the server part when it came from the CLI).
    pub version: Option<Value>,
    pub version_error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupFact {
    pub name: String,
    pub group: Option<Group>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatFacts {
    /// False when the target has no `stat`: nothing can be said then.
    pub available: bool,
    pub entries: Vec<StatEntry>,
    /// Asked for and not found.
    pub missing: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFacts {
    pub auditctl_available: bool,
    /// `auditctl -l`: the rules loaded in the kernel.
    pub loaded: Option<Vec<WatchRule>>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MountFact {
    pub path: String,
    /// `path` with its symlinks resolved, where the probe resolved it.
    pub real: Option<String>,
    pub mount: Option<Mount>,
    /// Where `mount` came from: `findmnt -T` or `mountinfo`.
    pub via: String,
    pub error: Option<String>,
}

/// What [`Facts::stat`] knows about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatLookup<'a> {
    Found(&'a StatEntry),
    Missing,
    /// Not asked for, or no `stat` on the target.
    Unknown,
}

impl Facts {
    pub fn file(&self, path: &str) -> Option<&FileFact> {
        self.files.iter().find(|f| f.path == path)
    }

    /// The content of a file the probe read, when it exists.
    pub fn content(&self, path: &str) -> Option<&str> {
        self.file(path).and_then(|f| f.content.as_deref())
    }

    pub fn stat(&self, path: &str) -> StatLookup<'_> {
        if let Some(e) = self.stat.entries.iter().find(|e| e.path == path) {
            StatLookup::Found(e)
        } else if self.stat.available && self.stat.missing.iter().any(|m| m == path) {
            StatLookup::Missing
        } else {
            StatLookup::Unknown
        }
    }

    pub fn group(&self, name: &str) -> Option<&GroupFact> {
        self.groups.iter().find(|g| g.name == name)
    }

    pub fn mount_of(&self, path: &str) -> Option<&MountFact> {
        self.mounts.iter().find(|m| m.path == path)
    }

    /// What shows that the Docker socket is served by Podman, not dockerd
    /// (see [`Api::podman`]); `None` for a Docker engine or no answer.
    pub fn podman(&self) -> Option<String> {
        Api::new(self.api.info.as_ref(), self.api.version.as_ref()).podman()
    }

    /// The Docker socket the probe asked.
    pub fn docker_socket(&self) -> &str {
        self.api.socket.as_deref().unwrap_or("/var/run/docker.sock")
    }

    /// The mount holding `path`: the probe's answer for it, else, for a
    /// path the probe did not list, the `/proc/self/mountinfo` it read.
    pub fn mount_holding(&self, path: &str) -> MountFact {
        self.mount_of(path).cloned().unwrap_or_else(|| MountFact {
            path: path.to_string(),
            real: None,
            mount: self
                .content("/proc/self/mountinfo")
                .and_then(|mi| mount_of_from_mountinfo(mi, path)),
            via: "mountinfo".to_string(),
            error: None,
        })
    }
}

// ------------------------------------------------------------------ raw probe

#[derive(Deserialize)]
struct RawProbe {
    probe_version: u32,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    kernel: Option<String>,
    #[serde(default)]
    boot_id: Option<String>,
    #[serde(default)]
    dockerd: RawDockerd,
    #[serde(default)]
    systemd: RawSystemd,
    #[serde(default)]
    service_fragment: Option<String>,
    #[serde(default)]
    daemon_json_path: Option<String>,
    #[serde(default)]
    files: Vec<FileFact>,
    #[serde(default)]
    api: RawApi,
    #[serde(default)]
    groups: Vec<RawGroup>,
    #[serde(default)]
    passwd_primary: Vec<String>,
    #[serde(default)]
    stat: RawStat,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    mounts: Vec<RawMount>,
    #[serde(default)]
    packages: RawPackages,
    #[serde(default)]
    sysctl: BTreeMap<String, Option<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawDockerd {
    pids: Vec<u32>,
    pid: Option<u32>,
    argv: Vec<String>,
    exe: Option<String>,
    start_ticks: Option<u64>,
    btime: Option<u64>,
    clk_tck: Option<u64>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawSystemd {
    service: RawUnit,
    socket: RawUnit,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawUnit {
    show: Option<String>,
    fragment_path: Option<String>,
    fragment_real: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawApi {
    via: Option<String>,
    socket: Option<String>,
    curl_error: Option<String>,
    info: Option<Value>,
    info_error: Option<String>,
    version: Option<Value>,
    version_error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawGroup {
    name: String,
    entry: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawStat {
    available: bool,
    requested: Vec<String>,
    lines: Vec<String>,
    /// `stat -c '%n|%F'` (no -L): which paths are symlinks.
    lstat_lines: Vec<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawAudit {
    auditctl: bool,
    rules: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawMount {
    path: String,
    real: Option<String>,
    findmnt: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPackages {
    dpkg: Option<String>,
    apt_policy: Option<String>,
    rpm: Option<String>,
    yum_updates: Option<String>,
}

/// Parses the probe's stdout into typed facts.
pub fn parse_facts(json: &str) -> Result<Facts, FactsError> {
    let raw: RawProbe = serde_json::from_str(json)?;
    if !SUPPORTED_PROBE_VERSIONS.contains(&raw.probe_version) {
        return Err(FactsError::UnsupportedVersion(raw.probe_version));
    }
    let os = raw
        .files
        .iter()
        .find(|f| f.path == "/etc/os-release")
        .and_then(|f| f.content.as_deref())
        .map(parse_os_release)
        .unwrap_or_default();
    let started_at = match (
        raw.dockerd.start_ticks,
        raw.dockerd.btime,
        raw.dockerd.clk_tck,
    ) {
        (Some(t), Some(b), hz) if hz != Some(0) => {
            i64::try_from(b + t / hz.unwrap_or(USER_HZ)).ok()
        }
        _ => None,
    };
    let mut service = unit_facts(&raw.systemd.service);
    if service.fragment_path.is_none() {
        service.fragment_path = raw.service_fragment.clone();
    }
    let socket = unit_facts(&raw.systemd.socket);

    let mut entries: Vec<StatEntry> = raw
        .stat
        .lines
        .iter()
        .filter_map(|l| StatEntry::parse_line(l))
        .collect();
    for l in &raw.stat.lstat_lines {
        if let Some(path) = l.strip_suffix("|symbolic link") {
            for e in entries.iter_mut().filter(|e| e.path == path) {
                e.symlink = true;
            }
        }
    }
    let missing = raw
        .stat
        .requested
        .iter()
        .filter(|p| !entries.iter().any(|e| &e.path == *p))
        .cloned()
        .collect();

    let groups = raw
        .groups
        .iter()
        .map(|g| GroupFact {
            name: g.name.clone(),
            group: g
                .entry
                .as_deref()
                .and_then(Group::parse_line)
                .map(|mut grp| {
                    grp.add_primary_from_passwd(raw.passwd_primary.iter().map(String::as_str));
                    grp
                }),
            error: g.error.clone(),
        })
        .collect();

    let mounts = mount_facts(raw.mounts, &raw.files);
    let version = raw.api.version.map(|v| match v.get("Server") {
        // `docker version --format '{{json .}}'` wraps the server's answer.
        Some(server) if v.get("Client").is_some() => server.clone(),
        _ => v,
    });

    Ok(Facts {
        probe_version: raw.probe_version,
        hostname: raw.hostname,
        kernel: raw.kernel,
        boot_id: raw.boot_id.filter(|b| !b.is_empty()),
        os,
        dockerd: DockerdFacts {
            pid: raw.dockerd.pid,
            pids: raw.dockerd.pids,
            argv: raw.dockerd.argv,
            exe: raw.dockerd.exe,
            started_at,
            error: raw.dockerd.error,
        },
        service,
        socket,
        daemon_json_path: raw
            .daemon_json_path
            .unwrap_or_else(|| "/etc/docker/daemon.json".to_string()),
        files: raw.files,
        api: ApiFacts {
            via: raw.api.via,
            socket: raw.api.socket,
            curl_error: raw.api.curl_error,
            info: raw.api.info.filter(|v| !v.is_null()),
            info_error: raw.api.info_error,
            version: version.filter(|v| !v.is_null()),
            version_error: raw.api.version_error,
        },
        groups,
        stat: StatFacts {
            available: raw.stat.available,
            entries,
            missing,
            error: raw.stat.error,
        },
        audit: AuditFacts {
            auditctl_available: raw.audit.auditctl,
            loaded: raw.audit.rules.as_deref().map(parse_rules),
            error: raw.audit.error,
        },
        mounts,
        packages: engine_packages(
            raw.packages.dpkg.as_deref(),
            raw.packages.apt_policy.as_deref(),
            raw.packages.rpm.as_deref(),
            raw.packages.yum_updates.as_deref(),
        ),
        max_user_namespaces: raw
            .sysctl
            .get("user.max_user_namespaces")
            .and_then(|v| v.as_deref())
            .and_then(|v| v.trim().parse().ok()),
    })
}

/// findmnt's answer where the probe ran it (version 1), else the mount that
/// holds the resolved path in the probe's `/proc/self/mountinfo`.
fn mount_facts(raw: Vec<RawMount>, files: &[FileFact]) -> Vec<MountFact> {
    let mountinfo = files
        .iter()
        .find(|f| f.path == "/proc/self/mountinfo")
        .and_then(|f| f.content.as_deref());
    raw.into_iter()
        .map(|m| {
            let (mount, via) = match (m.findmnt.as_deref(), mountinfo) {
                (Some(out), _) => (out.lines().next().and_then(parse_findmnt_raw), "findmnt -T"),
                (None, Some(mi)) if m.error.is_none() => (
                    mount_of_from_mountinfo(mi, m.real.as_deref().unwrap_or(&m.path)),
                    "mountinfo",
                ),
                // Version 2 resolves `real` and reads mountinfo; 1 runs findmnt.
                _ if m.real.is_some() => (None, "mountinfo"),
                _ => (None, "findmnt -T"),
            };
            MountFact {
                path: m.path,
                real: m.real,
                mount,
                via: via.to_string(),
                error: m.error,
            }
        })
        .collect()
}

fn unit_facts(raw: &RawUnit) -> UnitFacts {
    let show = raw.show.as_deref().map(parse_show).unwrap_or_default();
    let first = |k: &str| {
        show.get(k)
            .and_then(|v| v.last())
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let mut properties = BTreeMap::new();
    for (k, v) in &show {
        if !matches!(
            k.as_str(),
            "FragmentPath"
                | "DropInPaths"
                | "EnvironmentFiles"
                | "EnvironmentFile"
                | "ExecStart"
                | "Listen"
        ) {
            if let Some(last) = v.last() {
                properties.insert(k.clone(), last.clone());
            }
        }
    }
    UnitFacts {
        fragment_path: first("FragmentPath").or_else(|| raw.fragment_path.clone()),
        fragment_real: raw.fragment_real.clone(),
        drop_in_paths: first("DropInPaths")
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        // systemd 219 (CentOS 7) prints `EnvironmentFile=`, later ones
        // `EnvironmentFiles=`.
        environment_files: ["EnvironmentFiles", "EnvironmentFile"]
            .iter()
            .filter_map(|k| show.get(*k))
            .flatten()
            .filter_map(|e| e.split(" (").next())
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect(),
        exec_start: first("ExecStart"),
        // systemd 238 and later print `Listen=PATH (Stream)`; older ones
        // (CentOS 7's 219) print `ListenStream=PATH` and the like instead.
        listen: match show.get("Listen") {
            Some(v) => v.iter().filter(|e| !e.is_empty()).cloned().collect(),
            None => ["Stream", "Datagram", "SequentialPacket"]
                .iter()
                .flat_map(|kind| {
                    show.get(&format!("Listen{kind}"))
                        .into_iter()
                        .flatten()
                        .filter(|e| !e.is_empty())
                        .map(move |e| format!("{e} ({kind})"))
                })
                .collect(),
        },
        properties,
        error: raw.error.clone(),
    }
}

/// `/etc/os-release` fields the reports show.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut os = OsRelease::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "ID" => os.id = Some(v),
            "VERSION_ID" => os.version_id = Some(v),
            "PRETTY_NAME" => os.pretty_name = Some(v),
            _ => {}
        }
    }
    os
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_document_parses() {
        let f = parse_facts(r#"{"probe_version":1}"#).unwrap();
        assert_eq!(f.daemon_json_path, "/etc/docker/daemon.json");
        assert!(f.api.info.is_none());
    }

    #[test]
    fn unsupported_version_is_an_error() {
        let e = parse_facts(r#"{"probe_version":99}"#).unwrap_err();
        assert!(e.to_string().contains("99"));
        assert!(matches!(parse_facts("not json"), Err(FactsError::Json(_))));
    }

    #[test]
    fn cli_version_answer_is_unwrapped() {
        let f = parse_facts(
            r#"{"probe_version":1,"api":{"via":"docker-cli","version":{"Client":{"Version":"1"},"Server":{"Version":"20.10.24+dfsg1","Experimental":false}}}}"#,
        )
        .unwrap();
        assert_eq!(f.api.version.unwrap()["Version"], "20.10.24+dfsg1");
    }

    #[test]
    fn stat_missing_and_groups() {
        let f = parse_facts(
            r#"{"probe_version":1,
                "stat":{"available":true,"requested":["/etc/docker","/etc/sysconfig/docker"],
                        "lines":["/etc/docker|root|root|755|directory|0|0|1"],"error":null},
                "groups":[{"name":"docker","entry":"docker:x:994:alice","error":null}],
                "passwd_primary":["mallory:x:1001:994::/home/mallory:/bin/sh"],
                "dockerd":{"pid":7,"pids":[7],"argv":["dockerd"],"start_ticks":1000,"btime":1700000000,"clk_tck":100}}"#,
        )
        .unwrap();
        assert!(matches!(f.stat("/etc/docker"), StatLookup::Found(_)));
        assert_eq!(f.stat("/etc/sysconfig/docker"), StatLookup::Missing);
        assert_eq!(f.stat("/nope"), StatLookup::Unknown);
        let g = f.group("docker").unwrap().group.as_ref().unwrap();
        assert_eq!(g.all_members(), ["alice", "mallory"]);
        assert_eq!(f.dockerd.started_at, Some(1_700_000_010));
    }

    #[test]
    fn version_2_mounts_come_from_mountinfo_at_the_resolved_path() {
        // /var/lib/docker is a symlink to /srv/docker, its own mount; the
        // start time uses USER_HZ since version 2 sends no clk_tck.
        let f = parse_facts(
            r#"{"probe_version":2,
                "dockerd":{"start_ticks":250,"btime":1700000000},
                "files":[{"path":"/proc/self/mountinfo","exists":true,"content":"22 1 8:1 / / rw - ext4 /dev/sda1 rw\n31 22 8:16 / /srv/docker rw - ext4 /dev/sdb rw\n40 22 0:5 / /srv rw - tmpfs none rw"}],
                "mounts":[{"path":"/var/lib/docker","real":"/srv/docker","findmnt":null,"error":null},
                          {"path":"/var/lib","real":"/var/lib","findmnt":null,"error":null}]}"#,
        )
        .unwrap();
        assert_eq!(f.dockerd.started_at, Some(1_700_000_002));
        let m = f.mount_of("/var/lib/docker").unwrap();
        assert_eq!(m.via, "mountinfo");
        let mount = m.mount.as_ref().unwrap();
        assert_eq!(
            (mount.target.as_str(), mount.source.as_str()),
            ("/srv/docker", "/dev/sdb")
        );
        let m = f.mount_of("/var/lib").unwrap().mount.as_ref().unwrap();
        assert_eq!((m.target.as_str(), m.source.as_str()), ("/", "/dev/sda1"));
    }

    #[test]
    fn environment_files_in_both_systemd_spellings() {
        // systemd 219 (CentOS 7) prints `EnvironmentFile=` once per file;
        // later ones print `EnvironmentFiles=`.
        let doc = |show: &str| {
            let raw = serde_json::json!({
                "probe_version": 2,
                "systemd": {"service": {"show": show}}
            });
            parse_facts(&raw.to_string()).unwrap().service
        };
        let old = doc("FragmentPath=/usr/lib/systemd/system/docker.service\nEnvironmentFile=/etc/sysconfig/docker (ignore_errors=yes)\nEnvironmentFile=/etc/sysconfig/docker-storage (ignore_errors=yes)\nExecStart={ path=/usr/bin/dockerd-current ; argv[]=/usr/bin/dockerd-current $OPTIONS ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }");
        assert_eq!(
            old.environment_files,
            ["/etc/sysconfig/docker", "/etc/sysconfig/docker-storage"]
        );
        assert!(!old.properties.contains_key("EnvironmentFile"));
        let new = doc("FragmentPath=/lib/systemd/system/docker.service\nEnvironmentFiles=/etc/default/docker (ignore_errors=yes)");
        assert_eq!(new.environment_files, ["/etc/default/docker"]);
        assert!(!new.properties.contains_key("EnvironmentFiles"));
        assert!(doc("FragmentPath=/x\nEnvironmentFiles=")
            .environment_files
            .is_empty());
    }

    #[test]
    fn typed_facts_round_trip() {
        let f = parse_facts(r#"{"probe_version":1,"stat":{"available":true,"requested":[],"lines":["/x|root|root|644|regular file|0|0|5"]}}"#).unwrap();
        let back: Facts = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
    }
}
