//! `shipshape fix`: audit, then converge the host in one pass.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};

use shipshape_harness::audit as auditing;
use shipshape_harness::fix;
use shipshape_harness::paths::Home;
use shipshape_harness::target::{self, Target};
use shipshape_harness::transport::{ssh, Conn};

use super::{load_policy, SshArgs};

#[derive(clap::Args)]
pub(super) struct FixArgs {
    /// ssh://user@host[:port], or a running VM's name from `vm list`.
    #[arg(long, conflicts_with = "local")]
    pub(super) target: Option<String>,
    #[arg(long)]
    pub(super) local: bool,
    #[command(flatten)]
    pub(super) ssh: SshArgs,
    /// Control id to fix; repeatable (default: every failing fixable control).
    #[arg(long = "control")]
    pub(super) controls: Vec<String>,
    /// Show the change as one merged diff per file and change nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
    #[arg(long)]
    pub(super) policy: Option<PathBuf>,
    /// `table` (the summary) or `json` (the same per-control outcomes).
    #[arg(long, value_enum, default_value = "table")]
    pub(super) format: FixFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum FixFormat {
    Table,
    Json,
}

pub(super) async fn run(home: &Home, args: FixArgs) -> Result<ExitCode> {
    let policy = load_policy(&args.policy)?;
    for id in &args.controls {
        if shipshape_checks::find_control(id).is_none() {
            bail!("unknown control `{id}`; `shipshape controls` lists them");
        }
    }
    let target = target::resolve(
        home,
        args.target.as_deref(),
        args.local,
        &args.ssh.options(),
        "fix",
    )?;
    if let Target::Platform(p) = &target {
        bail!("`{p}` is a platform, not a host: use ssh://user@host[:port] or a running VM's name");
    }
    let session = match target.ssh_target()? {
        Some(t) => Some(ssh::connect_checked(&t).await?),
        None => None,
    };
    let conn = match &session {
        Some(s) => Conn::Ssh(s),
        None => Conn::Local,
    };
    let run = auditing::run(&conn, &policy).await?;
    let ids = args.controls.clone();
    let ctx = fix::FixContext::from(target.host_info(home)?);
    let req = fix::Request {
        controls: &ids,
        dry_run: args.dry_run,
    };
    let report = fix::converge(
        &conn,
        &run.findings,
        &run.facts,
        &policy,
        &ctx,
        &req,
        |id, notes| {
            if args.format == FixFormat::Table {
                for n in notes {
                    eprintln!("{id}: note: {n}");
                }
            }
        },
    )
    .await?;
    match args.format {
        FixFormat::Table => {
            let mut r = report.clone();
            if !args.dry_run {
                // Said above, before the fix acted.
                for c in &mut r.controls {
                    c.notes.retain(|n| n.starts_with("dockerd's root is now"));
                }
            }
            print!("{}", r.render());
        }
        FixFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(ExitCode::from(report.exit_code()))
}
