//! Parses the command line and dispatches, one file per command; errors
//! become one clear message and exit code 2.

mod audit;
mod audit_image;
mod fix;
mod image;
mod misc;
mod parse;
mod test;
mod vm;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use shipshape_harness::cleanup;
use shipshape_harness::driver::qemu::instance;
use shipshape_harness::paths::Home;
use shipshape_harness::{policy, target};

#[derive(Parser)]
#[command(
    name = "shipshape",
    version,
    about = "Docker host hardening baseline as code, proven in real VMs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build and list the VM images.
    #[command(subcommand)]
    Image(image::ImageCmd),
    /// Bring VMs up and down by hand, like `kitchen create/login/destroy`.
    #[command(subcommand)]
    Vm(vm::VmCmd),
    /// Audit a host against the baseline (read-only). Exit 0: nothing fails;
    /// 1: something fails; 2: the audit could not run.
    Audit(audit::AuditArgs),
    /// Run the scenarios (scenarios × platforms) on fresh VMs and write JUnit.
    Test(test::TestArgs),
    /// Fix controls on a target (backs up, restarts dockerd, rolls back on failure).
    Fix(fix::FixArgs),
    /// List the controls of the catalogue.
    Controls {
        /// Which benchmark version's ids to show.
        #[arg(long, default_value = "cis-1.6.0", value_parser = parse_benchmark)]
        benchmark: shipshape_checks::Benchmark,
    },
    /// Measure image build (warm), boot, reset, reboot, audit and the suite.
    Bench(misc::BenchArgs),
    /// Work with JUnit reports.
    #[command(subcommand)]
    Junit(misc::JunitCmd),
}

/// How to reach and trust an ssh:// target.
#[derive(clap::Args)]
pub(super) struct SshArgs {
    /// Private key for an ssh:// target (default ~/.ssh/id_ed25519).
    #[arg(short = 'i', long = "identity")]
    pub(super) identity: Option<PathBuf>,
    /// The target's host key ("ssh-ed25519 AAAA…"); default: looked up in --known-hosts.
    #[arg(long)]
    pub(super) host_key: Option<String>,
    /// known_hosts file for ssh:// targets (default ~/.ssh/known_hosts).
    #[arg(long)]
    pub(super) known_hosts: Option<PathBuf>,
}

impl SshArgs {
    fn options(&self) -> target::SshOptions {
        target::SshOptions {
            identity: self.identity.clone(),
            host_key: self.host_key.clone(),
            known_hosts: self.known_hosts.clone(),
        }
    }
}

fn parse_benchmark(s: &str) -> Result<shipshape_checks::Benchmark, String> {
    s.parse()
        .map_err(|e: shipshape_checks::benchmark::UnknownBenchmark| e.to_string())
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async {
        cleanup::install_signal_handlers();
        run(cli).await
    });
    // The runtime keeps running the signal handler's teardown meanwhile.
    cleanup::wait_if_interrupted();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", render_error(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, skipping a cause whose text its parent's
/// message already carries.
fn render_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        src = s.source();
    }
    msg
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let home = Home::from_env();
    let reaped = instance::reap_stale(&home);
    if !reaped.is_empty() {
        eprintln!(
            "reaped instances left by a killed run: {}",
            reaped.join(", ")
        );
    }
    match cli.command {
        Command::Image(cmd) => image::run(&home, cmd).await,
        Command::Vm(cmd) => vm::run(&home, cmd).await,
        Command::Audit(args) => audit::run(&home, args).await,
        Command::Test(args) => test::run(&home, args).await,
        Command::Fix(args) => fix::run(&home, args).await,
        Command::Junit(cmd) => misc::junit(cmd),
        Command::Bench(args) => misc::bench(&home, args).await,
        Command::Controls { benchmark } => misc::controls(benchmark),
    }
}

/// `./scenarios` when run from a checkout, else the one shipped with the source.
fn scenarios_dir(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| {
        let here = PathBuf::from("scenarios");
        if here.is_dir() {
            here
        } else {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios"))
        }
    })
}

fn load_policy(path: &Option<PathBuf>) -> Result<shipshape_checks::Policy> {
    Ok(match path {
        Some(p) => policy::load(p)?,
        None => shipshape_checks::Policy::default(),
    })
}

#[cfg(test)]
mod tests {
    /// clap checks the definitions only when a command is parsed: every
    /// subcommand's arguments are checked here instead.
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
