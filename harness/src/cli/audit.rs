//! `shipshape audit`: one probe, the verdicts, a report in the format asked.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use shipshape_harness::driver::{BootOptions, QemuVm};
use shipshape_harness::paths::Home;
use shipshape_harness::progress::Progress;
use shipshape_harness::report::{self, Format};
use shipshape_harness::target::{self, Target};
use shipshape_harness::transport::{ssh, Conn};
use shipshape_harness::{audit as auditing, bake, gate};

use super::{load_policy, parse_benchmark, SshArgs};

#[derive(clap::Args)]
pub(super) struct AuditArgs {
    /// ssh://user@host[:port], a running VM's name (`vm list`), or a platform
    /// (debian-12, debian-13) to boot a fresh VM of it.
    #[arg(long, conflicts_with_all = ["local", "image"])]
    pub(super) target: Option<String>,
    /// Audit this machine.
    #[arg(long, conflicts_with = "image")]
    pub(super) local: bool,
    #[command(flatten)]
    pub(super) ssh: SshArgs,
    /// Policy file (YAML): allowed docker users, ulimits, TLS paths, minimum version.
    #[arg(long)]
    pub(super) policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub(super) format: Format,
    /// Write the report here instead of stdout.
    #[arg(long)]
    pub(super) output: Option<PathBuf>,
    /// Show the evidence of every control in the table.
    #[arg(short, long)]
    pub(super) verbose: bool,
    /// Also save the probe's raw JSON here (how the test fixtures are captured).
    #[arg(long)]
    pub(super) save_probe: Option<PathBuf>,
    /// Which benchmark version's ids label the report: cis-1.6.0 (the
    /// default: docker-bench-security's numbering) or cis-1.8.0.
    #[arg(long, default_value = "cis-1.6.0", value_parser = parse_benchmark)]
    pub(super) benchmark: shipshape_checks::Benchmark,
    /// Waivers (YAML: `waivers: [{control, reason, expires: YYYY-MM-DD}]`):
    /// a waived failing control does not fail the gate until it expires.
    #[arg(long)]
    pub(super) waivers: Option<PathBuf>,
    /// The lowest severity that fails the gate (default: any failure);
    /// controls below it are reported but do not fail the exit code.
    #[arg(long, value_enum, default_value = "any")]
    pub(super) fail_on: gate::FailOn,
    #[command(flatten)]
    pub(super) img: super::audit_image::ImageArgs,
}

pub(super) async fn run(home: &Home, args: AuditArgs) -> Result<ExitCode> {
    // Everything that can be wrong with the input is checked before the
    // target is touched.
    let policy = load_policy(&args.policy)?;
    let waivers = match &args.waivers {
        Some(p) => gate::load_waivers(p)?,
        None => Vec::new(),
    };
    let policy_sha256 = match &args.policy {
        Some(p) => Some(gate::sha256_file(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    if let Some(file) = &args.img.image {
        return super::audit_image::run(home, &args, file, &policy, &waivers, policy_sha256).await;
    }
    let target = target::resolve(
        home,
        args.target.as_deref(),
        args.local,
        &args.ssh.options(),
        "audit",
    )?;
    let mut vm_holder = None;
    let ssh_target = match &target {
        Target::Platform(platform) => {
            let progress = Progress::new(&format!("audit {platform}"));
            let image = bake::ensure(home, *platform, &progress).await?;
            progress.stage("booting");
            let mut opts = BootOptions::new(format!("audit-{}-{}", platform, std::process::id()));
            opts.snapshot = false;
            let vm = QemuVm::boot(home, &image, opts).await?;
            let t = vm.ssh_target().clone();
            progress.finish("booted");
            vm_holder = Some(vm);
            Some(t)
        }
        other => other.ssh_target()?,
    };
    let session = match &ssh_target {
        Some(t) => Some(ssh::connect_checked(t).await?),
        None => None,
    };
    let conn = match &session {
        Some(s) => Conn::Ssh(s),
        None => Conn::Local,
    };
    let run = auditing::run(&conn, &policy).await?;
    if let Some(vm) = vm_holder {
        vm.destroy().await;
    }
    let judged = gate::Judged::Host {
        host: run
            .facts
            .hostname
            .clone()
            .map_or(run.target.clone(), |h| format!("{h} ({})", run.target)),
        boot_id: run
            .facts
            .boot_id
            .clone()
            .unwrap_or_else(|| "unknown".into()),
    };
    let j = judgement(
        &run,
        &waivers,
        args.fail_on,
        args.benchmark,
        judged,
        policy_sha256,
    );
    emit(&run, &args, &j)
}

/// Writes the report where it was asked for (the table still goes to
/// stderr when a file gets another format), and the gate's exit code.
pub(super) fn emit(
    run: &auditing::AuditRun,
    args: &AuditArgs,
    j: &gate::Judgement,
) -> Result<ExitCode> {
    if let Some(p) = &args.save_probe {
        std::fs::write(p, &run.probe_output).with_context(|| format!("writing {}", p.display()))?;
    }
    let text = render(run, args, j)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            if args.format != Format::Table {
                eprint!("{}", report::table::render(run, false, args.benchmark, j));
            }
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::from(j.gate.exit_code()))
}

/// The gate's decisions and what was judged, for every format.
pub(super) fn judgement(
    run: &auditing::AuditRun,
    waivers: &[gate::Waiver],
    fail_on: gate::FailOn,
    benchmark: shipshape_checks::Benchmark,
    judged: gate::Judged,
    policy_sha256: Option<String>,
) -> gate::Judgement {
    gate::Judgement {
        gate: gate::Gate::judge(&run.findings, waivers, fail_on, gate::Date::today()),
        subject: gate::Subject {
            judged,
            shipshape_version: env!("CARGO_PKG_VERSION").into(),
            benchmark: benchmark.name().into(),
            benchmark_version: benchmark.version().into(),
            policy_sha256,
            time: gate::now_rfc3339(),
        },
    }
}

fn render(run: &auditing::AuditRun, args: &AuditArgs, j: &gate::Judgement) -> Result<String> {
    Ok(match args.format {
        Format::Table => report::table::render(run, args.verbose, args.benchmark, j),
        Format::Json => {
            serde_json::to_string_pretty(&report::json::render(run, args.benchmark, j))? + "\n"
        }
        Format::Junit => report::junit::render(run, args.benchmark, j),
        Format::Html => report::html::audit(&[run], args.benchmark, j),
    })
}
