//! `shipshape test`: the plan (scenarios × runs, the shard), one driver
//! per run, the scheduler, and the reporters; the exit code comes from the
//! run's stats.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Result};

use shipshape_harness::driver::image_file::ImageFileDriver;
use shipshape_harness::driver::vagrant::VagrantPlatform;
use shipshape_harness::driver::{
    ContainerDriver, Driver, QemuDriver, SshHostDriver, VagrantDriver,
};
use shipshape_harness::gate;
use shipshape_harness::paths::Home;
use shipshape_harness::platform::Platform;
use shipshape_harness::report::console::Console;
use shipshape_harness::report::junit::JunitFile;
use shipshape_harness::report::{HtmlFile, JsonFile, Reporter, Reporters, RunStats};
use shipshape_harness::scenario::{self, Scenario};
use shipshape_harness::suite::{self, Partition, RunScenarios};
use shipshape_harness::target::{self, Target};

use super::{load_policy, scenarios_dir, SshArgs};

#[derive(clap::Args)]
pub(super) struct TestArgs {
    /// Platform to run on; repeat for several (default: debian-12).
    #[arg(long = "platform")]
    pub(super) platforms: Vec<Platform>,
    /// Only scenarios whose name matches this glob; repeatable.
    #[arg(long = "scenario")]
    pub(super) scenarios: Vec<String>,
    /// JUnit XML output path.
    #[arg(long, default_value = "artifacts/shipshape-test.xml")]
    pub(super) junit: PathBuf,
    /// Folder of scenario files (default: ./scenarios, else the one shipped with the source).
    #[arg(long)]
    pub(super) scenarios_dir: Option<PathBuf>,
    #[arg(long)]
    pub(super) policy: Option<PathBuf>,
    /// Worker VMs run side by side (default: one per core; one with
    /// `--image`, which resets through its snapshot). Each is its own
    /// VM from the same image and snapshot; results are the same as with 1.
    #[arg(long, short = 'j')]
    pub(super) jobs: Option<usize>,
    /// Also write a self-contained HTML report here.
    #[arg(long)]
    pub(super) html: Option<PathBuf>,
    /// Also write the run as JSON here (every result, its steps, the counts).
    #[arg(long)]
    pub(super) json: Option<PathBuf>,
    /// Run only shard k of n (e.g. 2/3); `junit merge` combines the shards.
    #[arg(long)]
    pub(super) partition: Option<suite::Partition>,
    /// What brings the machines up: `qemu` (built in), `vagrant` (a box per
    /// --platform, made from shipshape's image, or per --vagrant-platform
    /// file) or `container` (the image as a systemd container on the local
    /// Docker daemon; scenarios needing a reboot or a disk are skipped).
    #[arg(long, value_enum, default_value = "qemu")]
    pub(super) driver: DriverKind,
    /// A Vagrant platform file (e.g. vagrant/platforms/centos-7.yaml); repeatable.
    #[arg(long = "vagrant-platform")]
    pub(super) vagrant_platforms: Vec<PathBuf>,
    /// The Vagrant provider.
    #[arg(long, default_value = "libvirt")]
    pub(super) vagrant_provider: shipshape_harness::driver::vagrant::Provider,
    /// Run on an existing host instead of fresh VMs: ssh://user@host[:port]
    /// or a running VM's name. Needs --disposable.
    #[arg(long, conflicts_with_all = ["platforms", "jobs", "partition"])]
    pub(super) target: Option<String>,
    /// The --target host may be changed for good: scenarios rewrite its
    /// Docker configuration, restart dockerd, format its data disk and reboot
    /// it, one after another with no reset in between.
    #[arg(long, requires = "target")]
    pub(super) disposable: bool,
    /// The empty disk a disposable host lends to the data-disk scenario.
    #[arg(long, default_value = "/dev/sdb", requires = "target")]
    pub(super) data_disk: String,
    #[command(flatten)]
    pub(super) ssh: SshArgs,
    #[command(flatten)]
    pub(super) img: super::audit_image::ImageArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum DriverKind {
    Qemu,
    Vagrant,
    Container,
}

pub(super) async fn run(home: &Home, args: TestArgs) -> Result<ExitCode> {
    // Everything is read and checked before any machine comes up: a bad
    // file or target changes nothing.
    let policy = load_policy(&args.policy)?;
    let dir = scenarios_dir(args.scenarios_dir.clone());
    let all = scenario::load_dir(&dir)?;
    let chosen = suite::select(&all, &args.scenarios);
    if chosen.is_empty() {
        bail!(
            "no scenario in {} matches {:?}",
            dir.display(),
            args.scenarios
        );
    }
    let platforms = if args.platforms.is_empty() {
        vec![Platform::Debian12]
    } else {
        args.platforms.clone()
    };
    let mut reporters: Vec<Box<dyn Reporter>> = vec![
        Box::new(Console {
            junit: Some(args.junit.clone()),
        }),
        Box::new(JunitFile(args.junit.clone())),
    ];
    if let Some(h) = &args.html {
        reporters.push(Box::new(HtmlFile(h.clone())));
    }
    if let Some(j) = &args.json {
        reporters.push(Box::new(JsonFile(j.clone())));
    }
    let reporters = Arc::new(Reporters::new(reporters));
    let runner = RunScenarios { policy };
    let jobs = args.jobs.unwrap_or_else(suite::default_jobs).max(1);
    let images = shipshape_harness::bake::images();
    let stats = if let Some(file) = &args.img.image {
        let before = gate::sha256_file(file)?;
        let drivers = vec![ImageFileDriver::new(home, args.img.boot(file))];
        // One image VM unless asked: its snapshot reset takes ~2 s against a
        // firmware boot of 53-66 s per extra worker, and two image guests
        // of 2 vCPUs on a 2-core TCG host stalled and never reached SSH.
        let jobs = args.jobs.unwrap_or(1).max(1);
        let stats = schedule(drivers, &chosen, args.partition, jobs, runner, &reporters).await;
        anyhow::ensure!(
            gate::sha256_file(file)? == before,
            "{} changed during the run",
            file.display()
        );
        stats
    } else if let Some(t) = &args.target {
        if !args.disposable {
            bail!(
                "refusing to run scenarios on {t}: they rewrite its Docker configuration, restart dockerd, \
                 format {} and reboot it. Pass --disposable if this host may be changed for good, \
                 or use `shipshape audit --target {t}`, which only reads",
                args.data_disk
            );
        }
        let resolved = target::resolve(home, Some(t), false, &args.ssh.options(), "test")?;
        let Some(ssh) = resolved.ssh_target()? else {
            bail!("`{t}` is a platform, not a host: use ssh://user@host[:port] or a running VM's name");
        };
        if matches!(resolved, Target::Vm(_)) {
            eprintln!("shipshape test: {t} is a running VM: it is used as a disposable host");
        }
        let drivers = vec![SshHostDriver::new(ssh, args.data_disk.clone())];
        schedule(drivers, &chosen, None, 1, runner, &reporters).await
    } else if args.driver == DriverKind::Vagrant || !args.vagrant_platforms.is_empty() {
        let mut drivers = Vec::new();
        for f in &args.vagrant_platforms {
            drivers.push(VagrantDriver::from_file(
                home,
                VagrantPlatform::load(f)?,
                args.vagrant_provider,
                images.clone(),
            ));
        }
        if args.vagrant_platforms.is_empty() || !args.platforms.is_empty() {
            for p in &platforms {
                drivers.push(VagrantDriver::from_image(
                    home,
                    *p,
                    args.vagrant_provider,
                    images.clone(),
                ));
            }
        }
        schedule(drivers, &chosen, args.partition, jobs, runner, &reporters).await
    } else if args.driver == DriverKind::Container {
        let drivers = platforms
            .iter()
            .map(|p| ContainerDriver::new(home, *p, images.clone()))
            .collect();
        schedule(drivers, &chosen, args.partition, jobs, runner, &reporters).await
    } else {
        let drivers = platforms
            .iter()
            .map(|p| QemuDriver::new(home, *p, images.clone()))
            .collect();
        schedule(drivers, &chosen, args.partition, jobs, runner, &reporters).await
    };
    if let Some(e) = reporters.take_error() {
        return Err(e.into());
    }
    Ok(ExitCode::from(stats.exit_code()))
}

/// Each run's scenarios, cut to the shard, on the one scheduler.
async fn schedule<D: Driver + 'static>(
    drivers: Vec<D>,
    chosen: &[&Scenario],
    partition: Option<Partition>,
    jobs: usize,
    runner: RunScenarios,
    reporters: &Arc<Reporters>,
) -> RunStats {
    let ids: Vec<_> = drivers.iter().map(Driver::id).collect();
    let plan = suite::plan(&ids, chosen, partition);
    let runs = suite::run(drivers, plan, jobs, runner, reporters.clone()).await;
    RunStats::of(&runs)
}
