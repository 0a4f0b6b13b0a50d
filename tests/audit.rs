//! Real-VM audit tests on debian-12: the fresh image's verdicts, then, from a
//! hardened daemon configuration, each daemon setting misconfigured as a
//! `daemon.json` key and as a dockerd flag in a systemd drop-in: after a
//! dockerd restart exactly that control changes verdict.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};

#[path = "support/chromium.rs"]
mod chromium;
use serde_json::{json, Value};
use shipshape_checks::{Policy, Verdict};
use shipshape_harness::audit::{self, AuditRun};
use shipshape_harness::driver::{BootOptions, QemuVm};
use shipshape_harness::fix;

use shipshape_harness::paths::Home;
use shipshape_harness::platform::Platform;
use shipshape_harness::progress::Progress;
use shipshape_harness::transport::Conn;

/// The fresh debian-12 image (docker.io 20.10, Debian's defaults).
const FRESH_DEBIAN_12: &[(&str, &str)] = &[
    ("docker-root-mount", "fail"),
    ("docker-group", "pass"),
    ("audit-dockerd", "fail"),
    ("audit-run-containerd", "fail"),
    ("audit-var-lib-docker", "fail"),
    ("audit-etc-docker", "fail"),
    ("audit-docker-service", "fail"),
    ("audit-containerd-sock", "fail"),
    ("audit-docker-socket", "fail"),
    ("audit-etc-default-docker", "fail"),
    ("audit-daemon-json", "not-applicable"),
    ("audit-containerd-config", "fail"),
    ("audit-etc-sysconfig-docker", "not-applicable"),
    ("audit-containerd", "fail"),
    ("audit-containerd-shim", "fail"),
    ("audit-containerd-shim-runc-v1", "fail"),
    ("audit-containerd-shim-runc-v2", "fail"),
    ("audit-runc", "fail"),
    ("host-hardening", "manual"),
    ("docker-version", "pass"),
    ("rootless", "manual"),
    ("icc", "fail"),
    ("log-level", "pass"),
    ("iptables", "pass"),
    ("insecure-registries", "pass"),
    ("no-aufs", "pass"),
    ("no-devicemapper", "pass"),
    ("tls-auth", "pass"),
    ("default-ulimits", "fail"),
    ("userns-remap", "fail"),
    ("cgroup-parent", "pass"),
    ("dm-basesize", "pass"),
    ("authz-plugin", "manual"),
    ("log-config", "fail"),
    ("no-new-privileges", "fail"),
    ("live-restore", "fail"),
    ("userland-proxy", "fail"),
    ("seccomp-profile", "pass"),
    ("no-experimental", "pass"),
    ("legacy-registry", "not-applicable"),
    ("perm-docker-service", "pass"),
    ("perm-docker-socket-unit", "pass"),
    ("perm-etc-docker", "pass"),
    ("perm-registry-certs", "not-applicable"),
    ("perm-tls-ca", "not-applicable"),
    ("perm-tls-cert", "not-applicable"),
    ("perm-tls-key", "not-applicable"),
    ("perm-docker-sock", "pass"),
    ("perm-daemon-json", "not-applicable"),
    ("perm-etc-default-docker", "pass"),
    ("perm-etc-sysconfig-docker", "not-applicable"),
    ("perm-containerd-sock", "pass"),
];

/// Every daemon control passes with this configuration.
fn hardened() -> Value {
    json!({
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
    })
}

const DROPIN: &str = "/etc/systemd/system/docker.service.d/50-test.conf";
const BASE_EXEC: &str = "/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock";

/// A misconfiguration: the control it must flip, the `daemon.json` edit
/// (key → value; null removes), and the same as dockerd flags (`None` where
/// dockerd has no flag form of the misconfiguration).
struct Case {
    control: &'static str,
    key: &'static str,
    json: Value,
    flags: Option<&'static str>,
    /// Keys dockerd needs gone alongside (it refuses iptables=false with
    /// icc=false), and so the other controls that must flip with this one.
    drop_also: &'static [&'static str],
    /// Text the control's evidence must show, in either form.
    evidence: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            control: "icc",
            key: "icc",
            json: json!(true),
            flags: Some("--icc=true"),
            evidence: "icc",
            drop_also: &[],
        },
        Case {
            control: "live-restore",
            key: "live-restore",
            json: json!(false),
            flags: Some("--live-restore=false"),
            evidence: "live-restore",
            drop_also: &[],
        },
        Case {
            control: "userland-proxy",
            key: "userland-proxy",
            json: json!(true),
            flags: Some("--userland-proxy=true"),
            evidence: "userland-proxy",
            drop_also: &[],
        },
        // The peer script's bug: `--no-new-privileges=false` is not the flag.
        Case {
            control: "no-new-privileges",
            key: "no-new-privileges",
            json: json!(false),
            flags: Some("--no-new-privileges=false"),
            evidence: "no-new-privileges",
            drop_also: &[],
        },
        Case {
            control: "insecure-registries",
            key: "insecure-registries",
            json: json!(["registry.invalid:5000"]),
            flags: Some("--insecure-registry registry.invalid:5000"),
            evidence: "registry.invalid",
            drop_also: &[],
        },
        Case {
            control: "no-experimental",
            key: "experimental",
            json: json!(true),
            flags: Some("--experimental"),
            evidence: "xperimental",
            drop_also: &[],
        },
        Case {
            control: "cgroup-parent",
            key: "cgroup-parent",
            json: json!("shipshape.slice"),
            flags: Some("--cgroup-parent=shipshape.slice"),
            evidence: "shipshape.slice",
            drop_also: &[],
        },
        Case {
            control: "log-level",
            key: "log-level",
            json: json!("debug"),
            flags: Some("--log-level=debug"),
            evidence: "debug",
            drop_also: &[],
        },
        Case {
            control: "iptables",
            key: "iptables",
            json: json!(false),
            flags: Some("--iptables=false"),
            evidence: "iptables",
            drop_also: &["icc"],
        },
        Case {
            control: "seccomp-profile",
            key: "seccomp-profile",
            json: json!("/etc/docker/allow-all.json"),
            flags: Some("--seccomp-profile=/etc/docker/allow-all.json"),
            evidence: "allow-all",
            drop_also: &[],
        },
        Case {
            control: "default-ulimits",
            key: "default-ulimits",
            json: json!({"nofile": {"Name": "nofile", "Soft": 100, "Hard": 200}}),
            flags: Some("--default-ulimit nofile=100:200"),
            evidence: "nofile",
            drop_also: &[],
        },
        Case {
            control: "log-config",
            key: "log-opts",
            json: json!({"max-size": "500m", "max-file": "3"}),
            flags: Some("--log-opt max-size=500m --log-opt max-file=3"),
            evidence: "500m",
            drop_also: &[],
        },
        Case {
            control: "userns-remap",
            key: "userns-remap",
            json: Value::Null,
            flags: None,
            evidence: "userns",
            drop_also: &[],
        },
    ]
}

/// A worker VM and its hardened baseline audit (taken on first use).
type Slot = Mutex<Option<(QemuVm, Mutex<Option<AuditRun>>)>>;

/// Two worker VMs: under TCG a dockerd restart keeps about one core busy,
/// so two VMs on two cores nearly halve the wall time.
const WORKERS: usize = 2;

struct Fixture {
    rt: tokio::runtime::Runtime,
    home: Home,
    slots: Vec<Slot>,
}

fn rand_suffix() -> u32 {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn kind(v: &Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::NotApplicable { .. } => "not-applicable",
        Verdict::Manual { .. } => "manual",
    }
}

async fn audit_vm(vm: &mut QemuVm) -> Result<AuditRun, Failed> {
    let s = vm.ssh().await?;
    Ok(audit::run(&Conn::Ssh(s), &Policy::default()).await?)
}

async fn sh(vm: &mut QemuVm, cmd: &str) -> Result<String, Failed> {
    let out = vm
        .ssh()
        .await?
        .exec_timeout(cmd, Duration::from_secs(180))
        .await?;
    if !out.success() {
        return Err(format!(
            "`{cmd}` failed ({}): {}{}",
            out.status, out.stdout, out.stderr
        )
        .into());
    }
    Ok(out.stdout)
}

async fn write_daemon_json(vm: &mut QemuVm, v: &Value) -> Result<(), Failed> {
    let text = serde_json::to_string_pretty(v)? + "\n";
    vm.ssh()
        .await?
        .upload(text.as_bytes(), "/etc/docker/daemon.json", 0o644)
        .await?;
    Ok(())
}

/// What a change to the target would show: every file under the Docker,
/// systemd, audit and account configuration with its hash, modes of the
/// files the controls check, the daemon's start time and restart count,
/// the docker root's mount, and the fix backups. Only shipshape's own
/// backup folder: Debian's dpkg-db-backup.timer rotates the rest of
/// /var/backups at midnight, and a CI run that crossed it failed three
/// read-only checks on dpkg.diversions.0 and alternatives.tar.
fn target_state() -> String {
    format!(
        "find /etc/docker /etc/systemd/system /etc/default /etc/audit /etc/fstab /etc/group /etc/passwd /etc/sysctl.d {backups} -xdev -type f 2>/dev/null | sort | xargs -r sha256sum; \
     stat -c '%n %a %U:%G' /etc/docker /etc/docker/* /var/run/docker.sock 2>&1; \
     systemctl show -p ActiveEnterTimestampMonotonic -p NRestarts -p MainPID docker.service containerd.service; \
     findmnt -no SOURCE /var/lib/docker; ls /var/lib/docker; true",
        backups = shipshape_harness::fix::apply::BACKUP_ROOT
    )
}

/// The lines that differ between two captures of [`target_state`].
fn diff_lines(what: &str, before: &str, after: &str) -> Failed {
    let gone: Vec<&str> = before
        .lines()
        .filter(|l| !after.lines().any(|a| a == *l))
        .collect();
    let new: Vec<&str> = after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .collect();
    format!("{what}:\n  before: {gone:?}\n  after:  {new:?}").into()
}

const RESTART: &str =
    "systemctl daemon-reload && systemctl restart docker && docker version >/dev/null";

impl Fixture {
    fn with_vm<T>(
        &self,
        f: impl for<'a> FnOnce(
            &'a mut QemuVm,
            &'a Mutex<Option<AuditRun>>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, Failed>> + 'a>,
        >,
    ) -> Result<T, Failed> {
        // A free worker if there is one, else wait for the first.
        let mut slot = self
            .slots
            .iter()
            .find_map(|s| s.try_lock().ok())
            .unwrap_or_else(|| self.slots[0].lock().unwrap_or_else(|e| e.into_inner()));
        self.rt.block_on(async {
            if slot.is_none() {
                let progress = Progress::new("debian-12");
                let img =
                    shipshape_harness::bake::ensure(&self.home, Platform::Debian12, &progress)
                        .await?;
                let name = format!("audit-test-{}-{}", std::process::id(), rand_suffix());
                let vm = QemuVm::boot(&self.home, &img, BootOptions::new(name)).await?;
                *slot = Some((vm, Mutex::new(None)));
            }
            let (vm, cache) = slot.as_mut().expect("booted above");
            f(vm, cache).await
        })
    }

    /// Resets to the hardened snapshot, taking it on first use.
    async fn hardened_vm(
        vm: &mut QemuVm,
        cache: &Mutex<Option<AuditRun>>,
    ) -> Result<AuditRun, Failed> {
        let cached = cache.lock().unwrap().clone();
        if let Some(run) = cached {
            vm.reset_to("hardened").await?;
            return Ok(run);
        }
        vm.reset_to("clean").await?;
        sh(
            vm,
            "echo '{\"defaultAction\": \"SCMP_ACT_ALLOW\"}' > /etc/docker/allow-all.json",
        )
        .await?;
        write_daemon_json(vm, &hardened()).await?;
        sh(vm, RESTART).await?;
        let run = audit_vm(vm).await?;
        let daemon = [
            "icc",
            "live-restore",
            "userland-proxy",
            "no-new-privileges",
            "userns-remap",
            "default-ulimits",
            "log-config",
            "insecure-registries",
            "no-experimental",
            "cgroup-parent",
            "log-level",
            "iptables",
            "seccomp-profile",
        ];
        for id in daemon {
            let v = run.verdict_of(id).ok_or(format!("no {id}"))?;
            if !matches!(v, Verdict::Pass) {
                let ev = run
                    .findings
                    .iter()
                    .find(|f| f.id == id)
                    .map(|f| f.evidence.join(" | "));
                return Err(format!("hardened config: {id} is {v:?}: {ev:?}").into());
            }
        }
        vm.snapshot("hardened").await?;
        *cache.lock().unwrap() = Some(run.clone());
        Ok(run)
    }
}

/// The controls whose verdict kind differs between two runs.
fn changed(a: &AuditRun, b: &AuditRun) -> Vec<String> {
    a.findings
        .iter()
        .filter_map(|f| {
            let other = b.verdict_of(f.id)?;
            (kind(&f.verdict) != kind(other))
                .then(|| format!("{} {} -> {}", f.id, kind(&f.verdict), kind(other)))
        })
        .collect()
}

fn check_only(
    control: &str,
    also: &[&str],
    evidence: &str,
    base: &AuditRun,
    now: &AuditRun,
) -> Result<(), Failed> {
    let mut diff = changed(base, now);
    diff.sort();
    let mut want: Vec<String> = std::iter::once(control)
        .chain(also.iter().copied())
        .map(|c| format!("{c} pass -> fail"))
        .collect();
    want.sort();
    let ev = now
        .findings
        .iter()
        .find(|f| f.id == control)
        .map(|f| f.evidence.join("\n  "))
        .unwrap_or_default();
    if diff != want {
        return Err(format!("expected only {want:?}, got {diff:?}\nevidence:\n  {ev}").into());
    }
    // The verdict must come from the setting that was changed.
    if !ev.contains(evidence) {
        return Err(format!("{control}: the evidence does not show `{evidence}`:\n  {ev}").into());
    }
    Ok(())
}

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads = Some(args.test_threads.unwrap_or(WORKERS));
    let fx = Arc::new(Fixture {
        rt: tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
        home: Home::from_env(),
        slots: (0..WORKERS).map(|_| Mutex::new(None)).collect(),
    });
    let mut trials = Vec::new();
    {
        let fx = fx.clone();
        trials.push(Trial::test(
            "fresh_debian_12_gives_the_expected_verdicts",
            move || {
                fx.with_vm(|vm, _| {
                    Box::pin(async move {
                        vm.reset_to("clean").await?;
                        let run = audit_vm(vm).await?;
                        let mut wrong = Vec::new();
                        for (id, want) in FRESH_DEBIAN_12 {
                            match run.verdict_of(id) {
                                Some(v) if kind(v) == *want => {}
                                Some(v) => {
                                    wrong.push(format!("{id}: {} (expected {want})", kind(v)))
                                }
                                None => wrong.push(format!("{id}: missing")),
                            }
                        }
                        if run.findings.len() != FRESH_DEBIAN_12.len() {
                            wrong.push(format!(
                                "{} controls audited, {} expected",
                                run.findings.len(),
                                FRESH_DEBIAN_12.len()
                            ));
                        }
                        if run.round_trips != 1 {
                            wrong.push(format!("{} round trips", run.round_trips));
                        }
                        if wrong.is_empty() {
                            Ok(())
                        } else {
                            Err(wrong.join("\n").into())
                        }
                    })
                })
            },
        ));
    }
    // debian-13 (docker.io 26) through the CLI's own boot of the platform: the
    // same verdicts as debian-12's fresh image. Per-push CI runs its scenarios
    // only in the nightly, so this is where every push sees debian-13.
    trials.push(Trial::test(
        "fresh_debian_13_gives_the_same_verdicts_through_the_cli",
        || {
            let dir = tempfile::tempdir()?;
            let json_path = dir.path().join("d13.json");
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipshape"))
                .args([
                    "audit",
                    "--target",
                    "debian-13",
                    "--format",
                    "json",
                    "--output",
                ])
                .arg(&json_path)
                .output()?;
            // Something fails on a fresh image: exit 1, and the report is written.
            if out.status.code() != Some(1) {
                return Err(format!(
                    "exit {:?} (expected 1): {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_path)?)?;
            let controls = doc["controls"].as_array().ok_or("no controls array")?;
            let mut wrong = Vec::new();
            for (id, want) in FRESH_DEBIAN_12 {
                // By design: Engine 25 removed devicemapper.
                let want = if *id == "no-devicemapper" {
                    &"not-applicable"
                } else {
                    want
                };
                match controls.iter().find(|c| c["id"] == *id) {
                    Some(c) if c["verdict"] == *want => {}
                    Some(c) => wrong.push(format!("{id}: {} (expected {want})", c["verdict"])),
                    None => wrong.push(format!("{id}: missing")),
                }
            }
            if controls.len() != FRESH_DEBIAN_12.len() {
                wrong.push(format!(
                    "{} controls audited, {} expected",
                    controls.len(),
                    FRESH_DEBIAN_12.len()
                ));
            }
            if doc["round_trips"] != 1 {
                wrong.push(format!("{} round trips", doc["round_trips"]));
            }
            // The engine really is debian-13's.
            let version = controls
                .iter()
                .find(|c| c["id"] == "legacy-registry")
                .map(|c| c["why"].to_string())
                .unwrap_or_default();
            if !version.contains("Docker 26.") {
                wrong.push(format!("not docker.io 26: {version}"));
            }
            if wrong.is_empty() {
                Ok(())
            } else {
                Err(wrong.join("\n").into())
            }
        },
    ));
    {
        let fx = fx.clone();
        trials.push(Trial::test("cli_audit_formats_and_exit_codes", move || {
            let home = fx.home.root().to_path_buf();
            fx.with_vm(|vm, _| {
                Box::pin(async move {
                    vm.reset_to("clean").await?;
                    let name = vm.record.name.clone();
                    let dir = tempfile::tempdir()?;
                    let bin = env!("CARGO_BIN_EXE_shipshape");
                    let run = |args: &[&str]| {
                        std::process::Command::new(bin)
                            .args(args)
                            .env("SHIPSHAPE_HOME", &home)
                            .output()
                    };
                    // JUnit: one testcase per control, fails carry evidence and remediation.
                    let junit = dir.path().join("audit.xml");
                    let out = run(&[
                        "audit",
                        "--target",
                        &name,
                        "--format",
                        "junit",
                        "--output",
                        junit.to_str().unwrap(),
                    ])?;
                    if out.status.code() != Some(1) {
                        return Err(format!(
                            "junit run exit {:?}: {}",
                            out.status,
                            String::from_utf8_lossy(&out.stderr)
                        )
                        .into());
                    }
                    let xml = std::fs::read_to_string(&junit)?;
                    let cases = xml.matches("<testcase ").count();
                    let n = shipshape_checks::catalogue().len();
                    if cases != n {
                        return Err(format!("{cases} testcases for {n} controls").into());
                    }
                    let icc = xml
                        .split("<testcase ")
                        .find(|c| c.contains("name=\"icc\""))
                        .unwrap_or_default();
                    if !(icc.contains("<failure")
                        && icc.contains("remediation")
                        && icc.contains("evidence"))
                    {
                        return Err(
                            format!("icc testcase lacks a failure with evidence: {icc}").into()
                        );
                    }
                    let legacy = xml
                        .split("<testcase ")
                        .find(|c| c.contains("name=\"legacy-registry\""))
                        .unwrap_or_default();
                    if !(legacy.contains("<skipped") && legacy.contains("not applicable")) {
                        return Err(format!(
                            "legacy-registry is not skipped with a reason: {legacy}"
                        )
                        .into());
                    }
                    // JSON: every control with id, CIS id, verdict and evidence.
                    let out = run(&["audit", "--target", &name, "--format", "json"])?;
                    let v: Value = serde_json::from_slice(&out.stdout)?;
                    let controls = v["controls"].as_array().ok_or("no controls")?;
                    // `cis` is the id in the report's benchmark (null where that
                    // version has no such item); `cis_ids` has every version's.
                    if controls.len() != n
                        || controls.iter().any(|c| {
                            c["id"].is_null()
                                || !c["cis_ids"].is_object()
                                || c["cis"] != c["cis_ids"]["cis-1.6.0"]
                                || c["verdict"].is_null()
                                || !c["evidence"].is_array()
                        })
                        || v["benchmark"]["version"] != "1.6.0"
                    {
                        return Err(format!("bad JSON report: {v}").into());
                    }
                    if !xml.contains("name=\"benchmark.version\" value=\"1.6.0\"") {
                        return Err("the JUnit does not name the benchmark version".into());
                    }
                    // cis-1.8.0 ids label the same report.
                    let out = run(&[
                        "audit",
                        "--target",
                        &name,
                        "--format",
                        "json",
                        "--benchmark",
                        "cis-1.8.0",
                    ])?;
                    let v18: Value = serde_json::from_slice(&out.stdout)?;
                    let tls = v18["controls"]
                        .as_array()
                        .and_then(|a| a.iter().find(|c| c["id"] == "tls-auth"))
                        .cloned()
                        .unwrap_or_default();
                    if tls["cis"] != "2.8" || v18["benchmark"]["version"] != "1.8.0" {
                        return Err(
                            format!("cis-1.8.0 does not relabel tls-auth as 2.8: {tls}").into()
                        );
                    }
                    if v["round_trips"] != 1 {
                        return Err(format!("round trips: {}", v["round_trips"]).into());
                    }
                    // HTML: one self-contained page, checked in headless Chromium.
                    let artifacts =
                        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
                    std::fs::create_dir_all(&artifacts)?;
                    let page = artifacts.join("audit.html");
                    let out = run(&[
                        "audit",
                        "--target",
                        &name,
                        "--format",
                        "html",
                        "--output",
                        page.to_str().unwrap(),
                    ])?;
                    if out.status.code() != Some(1) {
                        return Err(format!("html run exit {:?}", out.status).into());
                    }
                    let html = std::fs::read_to_string(&page)?;
                    for text in [
                        &html,
                        &xml,
                        &String::from_utf8_lossy(&out.stderr).into_owned(),
                    ] {
                        let found = chromium::secrets_in(text);
                        if !found.is_empty() {
                            return Err(format!("a report holds key material: {found:?}").into());
                        }
                    }
                    if html.contains("src=") || html.contains("<link") || html.contains("<script") {
                        return Err("the HTML report loads outside resources".into());
                    }
                    let dom = chromium::dom(&page)?;
                    for c in controls {
                        let id = c["id"].as_str().unwrap_or_default();
                        let word = match c["verdict"].as_str().unwrap_or_default() {
                            "pass" => "pass",
                            "fail" => "FAIL",
                            "manual" => "manual",
                            _ => "n/a",
                        };
                        let cell = format!("<a href=\"#0--{id}\">{word}</a>");
                        if !dom.contains(&cell)
                            || !dom.contains(&format!("<details id=\"0--{id}\""))
                        {
                            return Err(
                                format!("the HTML matrix lacks {cell} or its details").into()
                            );
                        }
                    }
                    chromium::screenshot(&page, &artifacts.join("audit.png"))?;
                    // Exit 2 when the audit cannot run, with a message naming the cause.
                    let key = vm.ssh_target().key_path.display().to_string();
                    let hk = vm.record.host_key.clone();
                    for (args, needle) in [
                        (vec!["audit", "--target", "http://example"], "bad target"),
                        (
                            vec![
                                "audit",
                                "--target",
                                "ssh://root@127.0.0.1:1",
                                "-i",
                                "/nonexistent/key",
                                "--host-key",
                                &hk,
                            ],
                            "does not exist",
                        ),
                        (
                            vec![
                                "audit",
                                "--target",
                                "ssh://root@127.0.0.1:1",
                                "-i",
                                &key,
                                "--host-key",
                                &hk,
                            ],
                            "cannot connect",
                        ),
                    ] {
                        let out = run(&args)?;
                        let err = String::from_utf8_lossy(&out.stderr);
                        if out.status.code() != Some(2) || !err.contains(needle) {
                            return Err(format!(
                                "{args:?}: exit {:?}, stderr {err}",
                                out.status.code()
                            )
                            .into());
                        }
                    }
                    Ok(())
                })
            })
        }));
    }
    {
        let fx = fx.clone();
        trials.push(Trial::test(
            "bad_input_exits_2_points_at_the_problem_and_changes_nothing",
            move || {
                let home = fx.home.root().to_path_buf();
                fx.with_vm(|vm, _| {
                    Box::pin(async move {
                        vm.reset_to("clean").await?;
                        let before = sh(vm, &target_state()).await?;
                        let name = vm.record.name.clone();
                        let key = vm.ssh_target().key_path.display().to_string();
                        let hk = vm.record.host_key.clone();
                        let port = vm.record.ssh_port.to_string();
                        let dir = tempfile::tempdir()?;
                        let file = |n: &str, text: &str| -> std::io::Result<String> {
                            let p = dir.path().join(n);
                            if let Some(parent) = p.parent() {
                                std::fs::create_dir_all(parent)?;
                            }
                            std::fs::write(&p, text)?;
                            Ok(p.display().to_string())
                        };
                        let policy = |n: &str, text: &str| -> std::io::Result<Vec<String>> {
                            let p = file(n, text)?;
                            Ok(["fix", "--target", &name, "--policy", &p]
                                .map(String::from)
                                .to_vec())
                        };
                        let scenarios = file("scen/x.yaml", "control: nope\ndescription: x\n")?;
                        let scen_dir = std::path::Path::new(&scenarios)
                            .parent()
                            .unwrap()
                            .display()
                            .to_string();
                        let ssh_fix = |k: &str, p: &str| -> Vec<String> {
                            let target = format!("ssh://root@127.0.0.1:{p}");
                            ["fix", "--target", &target, "-i", k, "--host-key", &hk]
                                .map(String::from)
                                .to_vec()
                        };
                        let instances = || {
                            std::fs::read_dir(home.join("instances"))
                                .map(|d| d.count())
                                .unwrap_or(0)
                        };
                        let before_instances = instances();
                        let cases: Vec<(&str, Vec<String>, Vec<&str>)> = vec![
                            (
                                "malformed YAML",
                                policy("m.yaml", "ulimit_nofile: \"20480:40960\nfoo: [\n")?,
                                vec!["m.yaml:1:16: ", "unclosed quote"],
                            ),
                            (
                                "unknown field",
                                policy("u.yaml", "ulimit_nofile: \"20480:40960\"\nlog_drivr: json-file\n")?,
                                vec!["u.yaml:2:1: ", "unknown field `log_drivr`"],
                            ),
                            (
                                "wrong type",
                                policy("t.yaml", "allow_docker_upgrade: maybe\n")?,
                                vec!["t.yaml:1:23: ", "invalid boolean"],
                            ),
                            (
                                "bad ulimit",
                                policy("l.yaml", "ulimit_nproc: \"2048:1024\"\n")?,
                                vec!["l.yaml:1:15: ", "`ulimit_nproc`", "soft limit 2048 is above hard limit 1024"],
                            ),
                            (
                                "bad size in the policy",
                                policy("s.yaml", "log_max_size: \"50 parsecs\"\n")?,
                                vec!["s.yaml:1:15: ", "`log_max_size`", "not a size"],
                            ),
                            (
                                "bad size on the command line",
                                ["vm", "up", "debian-12", "--name", "never-booted", "--data-disk", "2X"]
                                    .map(String::from)
                                    .to_vec(),
                                vec!["`2X`", "unknown size unit"],
                            ),
                            (
                                "unknown control",
                                ["fix", "--target", &name, "--control", "nope"].map(String::from).to_vec(),
                                vec!["unknown control `nope`"],
                            ),
                            (
                                "unknown control in a scenario",
                                ["test", "--scenarios-dir", &scen_dir].map(String::from).to_vec(),
                                vec!["x.yaml:1:10: ", "unknown control `nope`"],
                            ),
                            (
                                "bad target URL",
                                ["fix", "--target", "http://example"].map(String::from).to_vec(),
                                vec!["bad target"],
                            ),
                            (
                                "missing key file",
                                ssh_fix("/nonexistent/key", &port),
                                vec!["/nonexistent/key", "does not exist"],
                            ),
                            ("unreachable host", ssh_fix(&key, "1"), vec!["cannot connect", "127.0.0.1:1"]),
                        ];
                        let bin = env!("CARGO_BIN_EXE_shipshape");
                        for (what, args, needles) in &cases {
                            let out = std::process::Command::new(bin)
                                .args(args)
                                .env("SHIPSHAPE_HOME", &home)
                                .output()?;
                            let err = String::from_utf8_lossy(&out.stderr);
                            let errors = err.lines().filter(|l| l.starts_with("error")).count();
                            if out.status.code() != Some(2)
                                || errors != 1
                                || needles.iter().any(|n| !err.contains(n))
                            {
                                return Err(format!(
                                    "{what}: exit {:?}, {errors} error line(s), wanted {needles:?} in:\n{err}",
                                    out.status.code()
                                )
                                .into());
                            }
                        }
                        if instances() != before_instances {
                            return Err("bad input started a VM".into());
                        }
                        let after = sh(vm, &target_state()).await?;
                        if before != after {
                            return Err(diff_lines("bad input changed the target", &before, &after));
                        }
                        Ok(())
                    })
                })
            },
        ));
    }
    {
        let fx = fx.clone();
        trials.push(Trial::test(
            "ssh_target_test_refuses_a_host_not_marked_disposable_then_runs_with_a_reboot",
            move || {
                let home = fx.home.root().to_path_buf();
                fx.with_vm(|vm, _| {
                    Box::pin(async move {
                        vm.reset_to("clean").await?;
                        let before = sh(vm, &target_state()).await?;
                        let target = format!("ssh://root@127.0.0.1:{}", vm.record.ssh_port);
                        let key = vm.ssh_target().key_path.display().to_string();
                        let hk = vm.record.host_key.clone();
                        let dir = tempfile::tempdir()?;
                        let junit = dir.path().join("host.xml");
                        let junit_s = junit.display().to_string();
                        let args = [
                            "test",
                            "--target",
                            &target,
                            "-i",
                            &key,
                            "--host-key",
                            &hk,
                            "--scenario",
                            "audit-rules",
                            "--junit",
                            &junit_s,
                        ];
                        let run = |extra: &[&str]| {
                            std::process::Command::new(env!("CARGO_BIN_EXE_shipshape"))
                                .args(args)
                                .args(extra)
                                .env("SHIPSHAPE_HOME", &home)
                                .output()
                        };
                        let out = run(&[])?;
                        let err = String::from_utf8_lossy(&out.stderr);
                        if out.status.code() != Some(2)
                            || !err.contains("refusing to run scenarios")
                            || !err.contains("--disposable")
                        {
                            return Err(format!(
                                "not refused: exit {:?}\n{err}",
                                out.status.code()
                            )
                            .into());
                        }
                        let after = sh(vm, &target_state()).await?;
                        if before != after {
                            return Err(diff_lines(
                                "the refused run changed the host",
                                &before,
                                &after,
                            ));
                        }
                        let boot_id = sh(vm, "cat /proc/sys/kernel/random/boot_id").await?;
                        let out = run(&["--disposable"])?;
                        let err = String::from_utf8_lossy(&out.stderr);
                        if out.status.code() != Some(0) {
                            return Err(format!(
                                "disposable run: exit {:?}\n{err}",
                                out.status.code()
                            )
                            .into());
                        }
                        let xml = std::fs::read_to_string(&junit)?;
                        let suite = format!("name=\"root@127.0.0.1:{}\"", vm.record.ssh_port);
                        if !xml.contains(&suite)
                            || !xml.contains("name=\"audit-rules\"")
                            || xml.contains("<failure")
                            || xml.contains("<error")
                        {
                            return Err(format!("JUnit of the host run:\n{xml}").into());
                        }
                        // The scenario's reboot really happened, through SSH alone.
                        vm.drop_session().await;
                        let now = sh(vm, "cat /proc/sys/kernel/random/boot_id").await?;
                        if now == boot_id {
                            return Err("the host was not rebooted".into());
                        }
                        Ok(())
                    })
                })
            },
        ));
    }
    {
        let fx = fx.clone();
        trials.push(Trial::test(
            "audit_is_read_only_by_file_hashes",
            move || {
                let home = fx.home.root().to_path_buf();
                fx.with_vm(|vm, _| {
                    Box::pin(async move {
                        vm.reset_to("clean").await?;
                        let before = sh(vm, &target_state()).await?;
                        let name = vm.record.name.clone();
                        // The format only changes the rendering on the runner:
                        // the probe that reads the target is the same.
                        let format = "json";
                        let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipshape"))
                            .args(["audit", "--target", &name, "--format", format])
                            .env("SHIPSHAPE_HOME", &home)
                            .output()?;
                        if !matches!(out.status.code(), Some(0 | 1)) {
                            return Err(format!(
                                "audit --format {format}: {:?} {}",
                                out.status,
                                String::from_utf8_lossy(&out.stderr)
                            )
                            .into());
                        }
                        let after = sh(vm, &target_state()).await?;
                        if before != after {
                            return Err(diff_lines(
                                "the audit changed the target",
                                &before,
                                &after,
                            ));
                        }
                        Ok(())
                    })
                })
            },
        ));
    }
    {
        let fx = fx.clone();
        trials.push(Trial::test(
            "fix_on_a_full_disk_leaves_no_half_written_config",
            move || {
                let home = fx.home.root().to_path_buf();
                fx.with_vm(|vm, _| {
                    Box::pin(async move {
                        vm.reset_to("clean").await?;
                        // /etc/docker on a tmpfs with exactly the pages its
                        // files use: the fix's backups (under /var) succeed,
                        // and its new daemon.json finds the disk full.
                        sh(vm, "set -e; cp -a /etc/docker /root/etc-docker; n=$(find /etc/docker -type f -size +0 | wc -l); mount -t tmpfs -o size=$(( (n > 0 ? n : 1) * 4 ))k tmpfs /etc/docker; cp -a /root/etc-docker/. /etc/docker/; [ $n -gt 0 ] || head -c 4096 /dev/zero > /etc/docker/.filler").await?;
                        let state = "ls -la /etc/docker | tail -n +2 | awk '{print $1, $5, $NF}'; sha256sum /etc/docker/* 2>&1; systemctl show -p MainPID -p ActiveState docker.service";
                        let before = sh(vm, state).await?;
                        let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipshape"))
                            .args(["fix", "--target", &vm.record.name, "--control", "icc"])
                            .env("SHIPSHAPE_HOME", &home)
                            .output()?;
                        // The control's outcome (failed, with the reason) is in
                        // the summary on stdout.
                        let err = format!(
                            "{}{}",
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        );
                        let after = sh(vm, state).await?;
                        sh(vm, "umount /etc/docker").await?;
                        if out.status.code() != Some(1) || !err.contains("No space left on device") {
                            return Err(format!(
                                "fix on a full disk: exit {:?}, stderr:\n{err}",
                                out.status.code()
                            )
                            .into());
                        }
                        if before != after {
                            return Err(diff_lines("the failed fix left /etc/docker changed", &before, &after));
                        }
                        if after.contains("shipshape-new") {
                            return Err(format!("a half-written file is left:\n{after}").into());
                        }
                        Ok(())
                    })
                })
            },
        ));
    }
    {
        let fx = fx.clone();
        trials.push(Trial::test("fix_refuses_a_disk_with_a_filesystem_and_writes_nothing", move || {
            fx.with_vm(|vm, _| Box::pin(async move {
                vm.reset_to("clean").await?;
                let hash = &format!("sha256sum /etc/fstab; blkid -p -o export /dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_shipshape-data | sort; ls -la {} 2>&1; findmnt -no SOURCE /var/lib/docker; ls /var/lib/docker.pre-shipshape 2>&1; true", shipshape_harness::fix::apply::BACKUP_ROOT);
                sh(vm, &format!("mkfs.ext4 -q -L someone-elses {}", shipshape_harness::driver::qemu::DATA_DISK)).await?;
                let before = sh(vm, hash).await?;
                let run = audit_vm(vm).await?;
                let ctx = shipshape_harness::fix::FixContext::from(shipshape_harness::driver::Machine::host(&*vm));
                let s = vm.ssh().await?;
                let asked = ["docker-root-mount".to_string()];
                let req = fix::Request { controls: &asked, dry_run: false };
                let r = fix::converge(&Conn::Ssh(s), &run.findings, &run.facts, &Policy::default(), &ctx, &req, |_, _| {}).await?;
                match r.outcome_of("docker-root-mount") {
                    Some(fix::ControlOutcome::Skipped { kind: fix::SkipKind::Prerequisite, why }) => {
                        if !why.contains("refusing to format /dev/sd") {
                            return Err(format!("refusal does not say why: {why}").into());
                        }
                    }
                    other => return Err(format!("expected a refusal, got {other:?}").into()),
                }
                if r.exit_code() != 1 || r.restarts != Some(0) {
                    return Err(format!("a refused fix must exit 1 and restart nothing: {}", r.render()).into());
                }
                let after = sh(vm, hash).await?;
                if before != after {
                    return Err(format!("the target changed:\n{before}\n---\n{after}").into());
                }
                Ok(())
            }))
        }));
    }
    {
        let fx = fx.clone();
        trials.push(Trial::test("fix_rolls_back_when_dockerd_does_not_come_back", move || {
            fx.with_vm(|vm, _| Box::pin(async move {
                vm.reset_to("clean").await?;
                // The same option as a flag and as a daemon.json key: dockerd refuses to start.
                let unit = format!("[Service]\nExecStart=\nExecStart={BASE_EXEC} --live-restore\n");
                sh(vm, "mkdir -p /etc/systemd/system/docker.service.d").await?;
                vm.ssh().await?.upload(unit.as_bytes(), DROPIN, 0o644).await?;
                sh(vm, RESTART).await?;
                let before = sh(vm, "cat /etc/docker/daemon.json 2>&1; sha256sum /etc/systemd/system/docker.service.d/*").await?;
                let change = fix::Change {
                    edits: vec![fix::FileEdit { path: "/etc/docker/daemon.json".into(), content: Some("{\"live-restore\": true}\n".into()), mode: 0o644 }],
                    daemon: fix::DaemonAction::Restart,
                    ..Default::default()
                };
                let s = vm.ssh().await?;
                let conn = Conn::Ssh(s);
                let current = fix::read_files(&conn, &["/etc/docker/daemon.json".to_string()]).await?;
                let outcome = fix::apply(&conn, &change, &current).await?;
                let journal = match outcome {
                    fix::Outcome::RolledBack { journal, .. } => journal,
                    other => return Err(format!("expected a rollback, got {other:?}").into()),
                };
                if !journal.contains("flag and in the configuration file") {
                    return Err(format!("the report does not show dockerd's complaint: {journal}").into());
                }
                let after = sh(vm, "cat /etc/docker/daemon.json 2>&1; sha256sum /etc/systemd/system/docker.service.d/*").await?;
                if before != after {
                    return Err(format!("files not restored:\n{before}\n---\n{after}").into());
                }
                let active = sh(vm, "systemctl is-active docker; docker info -f '{{.LiveRestoreEnabled}}'").await?;
                if active != "active\ntrue\n" {
                    return Err(format!("dockerd is not back on the old config: {active:?}").into());
                }
                Ok(())
            }))
        }));
    }
    {
        let fx = fx.clone();
        trials.push(Trial::test("whole_host_fix_rolls_back_the_daemon_set_only", move || {
            fx.with_vm(|vm, _| Box::pin(async move {
                vm.reset_to("clean").await?;
                // mallory in the docker group (a host change) and a policy whose
                // log driver dockerd does not have: the daemon set cannot start.
                sh(vm, "useradd -m mallory && usermod -aG docker mallory").await?;
                let hashes = "cat /etc/docker/daemon.json 2>&1; ls /etc/systemd/system/docker.service.d 2>&1; cat /etc/sysctl.d/90-shipshape-userns.conf 2>&1; true";
                let before = sh(vm, hashes).await?;
                let policy: Policy = serde_json::from_value(serde_json::json!({"log_driver": "no-such-driver"}))?;
                let ctx = shipshape_harness::fix::FixContext::from(shipshape_harness::driver::Machine::host(&*vm));
                let s = vm.ssh().await?;
                let conn = Conn::Ssh(s);
                let run = shipshape_harness::audit::run(&conn, &policy).await?;
                let req = fix::Request { controls: &[], dry_run: false };
                let r = fix::converge(&conn, &run.findings, &run.facts, &policy, &ctx, &req, |_, _| {}).await?;
                let text = r.render();
                for id in ["log-config", "icc", "live-restore", "userns-remap"] {
                    match r.outcome_of(id) {
                        Some(fix::ControlOutcome::Failed { rolled_back: true, .. }) => {}
                        other => return Err(format!("{id}: expected failed and rolled back, got {other:?}\n{text}").into()),
                    }
                }
                for id in ["docker-group", "audit-dockerd"] {
                    if r.outcome_of(id) != Some(&fix::ControlOutcome::Fixed) {
                        return Err(format!("{id} is not fixed: the rollback must undo the daemon set only\n{text}").into());
                    }
                }
                if r.exit_code() != 1 {
                    return Err(format!("exit code {} (expected 1)\n{text}", r.exit_code()).into());
                }
                let after = sh(vm, hashes).await?;
                if before != after {
                    return Err(format!("the daemon set's files are not restored:\n{before}\n---\n{after}").into());
                }
                let state = sh(vm, "systemctl is-active docker; id -nG mallory").await?;
                if state != "active\nmallory\n" {
                    return Err(format!("dockerd not back, or mallory still in the docker group: {state:?}").into());
                }
                Ok(())
            }))
        }));
    }
    for case in cases() {
        let key_name = format!(
            "misconfigured_{}_as_daemon_json_key_flips_only_it",
            case.control
        );
        let fx1 = fx.clone();
        let (control, key, value) = (case.control, case.key, case.json.clone());
        let also = case.drop_also;
        let evidence = case.evidence;
        trials.push(Trial::test(key_name, move || {
            fx1.with_vm(|vm, cache| {
                Box::pin(async move {
                    let base = Fixture::hardened_vm(vm, cache).await?;
                    let mut cfg = hardened();
                    if value.is_null() {
                        cfg.as_object_mut().unwrap().remove(key);
                    } else {
                        cfg[key] = value;
                    }
                    for k in also {
                        cfg.as_object_mut().unwrap().remove(*k);
                    }
                    write_daemon_json(vm, &cfg).await?;
                    sh(vm, RESTART).await?;
                    check_only(control, also, evidence, &base, &audit_vm(vm).await?)
                })
            })
        }));
        if let Some(flags) = case.flags {
            let fx2 = fx.clone();
            trials.push(Trial::test(
                format!(
                    "misconfigured_{}_as_dropin_flag_flips_only_it",
                    case.control
                ),
                move || {
                    fx2.with_vm(|vm, cache| {
                        Box::pin(async move {
                            let base = Fixture::hardened_vm(vm, cache).await?;
                            // One place per option: the key leaves daemon.json.
                            let mut cfg = hardened();
                            cfg.as_object_mut().unwrap().remove(key);
                            for k in also {
                                cfg.as_object_mut().unwrap().remove(*k);
                            }
                            write_daemon_json(vm, &cfg).await?;
                            let unit =
                                format!("[Service]\nExecStart=\nExecStart={BASE_EXEC} {flags}\n");
                            sh(vm, "mkdir -p /etc/systemd/system/docker.service.d").await?;
                            vm.ssh()
                                .await?
                                .upload(unit.as_bytes(), DROPIN, 0o644)
                                .await?;
                            sh(vm, RESTART).await?;
                            let now = audit_vm(vm).await?;
                            let argv = now.facts.dockerd.argv.join(" ");
                            if !argv.contains(flags.split(' ').next().unwrap()) {
                                return Err(
                                    format!("dockerd does not run with {flags}: {argv}").into()
                                );
                            }
                            check_only(control, also, evidence, &base, &now)
                        })
                    })
                },
            ));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    for slot in &fx.slots {
        if let Some((vm, _)) = slot.lock().unwrap_or_else(|e| e.into_inner()).take() {
            fx.rt.block_on(vm.destroy());
        }
    }
    conclusion.exit();
}
