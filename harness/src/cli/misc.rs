//! `shipshape controls`, `bench` and `junit merge`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use shipshape_harness::paths::Home;
use shipshape_harness::platform::Platform;
use shipshape_harness::{bench, fix, report, scenario};

use super::scenarios_dir;

#[derive(clap::Subcommand)]
pub(super) enum JunitCmd {
    /// Combine the reports of `test --partition k/n` shards into one.
    Merge {
        /// Where to write the merged report.
        #[arg(long, short = 'o')]
        output: PathBuf,
        /// The shards' reports.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
pub(super) struct BenchArgs {
    /// What to measure (default: all but the suite). `audit` alone is the
    /// audit benchmark: wall time and SSH round trips.
    #[arg(value_enum)]
    pub(super) parts: Vec<bench::Part>,
    #[arg(long, default_value = "debian-12")]
    pub(super) platform: Platform,
    /// Runs per cheap figure; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub(super) runs: usize,
    #[arg(long)]
    pub(super) json: bool,
}

pub(super) fn junit(cmd: JunitCmd) -> Result<ExitCode> {
    let JunitCmd::Merge { output, inputs } = cmd;

    let mut texts = Vec::new();
    for p in &inputs {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        texts.push((p.display().to_string(), text));
    }
    let merged = report::junit::merge(&texts)?;
    if let Some(parent) = output.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(&output, merged).with_context(|| format!("writing {}", output.display()))?;
    eprintln!(
        "merged {} report(s) into {}",
        inputs.len(),
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn bench(home: &Home, args: BenchArgs) -> Result<ExitCode> {
    let parts = if args.parts.is_empty() {
        vec![
            bench::Part::Image,
            bench::Part::Boot,
            bench::Part::Reset,
            bench::Part::Reboot,
            bench::Part::Audit,
        ]
    } else {
        args.parts.clone()
    };
    let all = scenario::load_dir(&scenarios_dir(None))?;
    let chosen: Vec<&scenario::Scenario> = all.iter().collect();
    let f = bench::run(home, args.platform, &parts, args.runs.max(1), &chosen).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
    } else {
        print!("{}", bench::render(&f));
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn controls(benchmark: shipshape_checks::Benchmark) -> Result<ExitCode> {
    println!("ids: {benchmark}");
    println!(
        "{:<30} {:<10} {:<9} {:<4} TITLE",
        "ID", "CIS", "SEVERITY", "FIX"
    );
    for c in shipshape_checks::catalogue() {
        println!(
            "{:<30} {:<10} {:<9} {:<4} {}",
            c.id,
            c.cis_label(benchmark),
            format!("{:?}", c.severity).to_lowercase(),
            if fix::has_fix(c.id) { "yes" } else { "-" },
            c.title
        );
    }
    Ok(ExitCode::SUCCESS)
}
