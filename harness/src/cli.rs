//! Parses the command line and dispatches; errors become one clear message
//! and exit code 2.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use shipshape_harness::cleanup;
use shipshape_harness::driver::qemu::instance;
use shipshape_harness::driver::{BootOptions, QemuVm, SshHost};
use shipshape_harness::image::{self, Image};
use shipshape_harness::paths::Home;
use shipshape_harness::platform::Platform;
use shipshape_harness::progress::Progress;
use shipshape_harness::report::{self, Format};
use shipshape_harness::shell;
use shipshape_harness::target::{self, Conn, TargetSpec};
use shipshape_harness::transport::{SshSession, SshTarget};
use shipshape_harness::{audit as auditing, bench, fix, policy, scenario, suite};

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
    Image(ImageCmd),
    /// Bring VMs up and down by hand, like `kitchen create/login/destroy`.
    #[command(subcommand)]
    Vm(VmCmd),
    /// Audit a host against the baseline (read-only). Exit 0: nothing fails;
    /// 1: something fails; 2: the audit could not run.
    Audit(AuditArgs),
    /// Run the scenarios (scenarios × platforms) on fresh VMs and write JUnit.
    Test(TestArgs),
    /// Fix controls on a target (backs up, restarts dockerd, rolls back on failure).
    Fix(FixArgs),
    /// List the controls of the catalogue.
    Controls {
        /// Which benchmark version's ids to show.
        #[arg(long, default_value = "cis-1.6.0", value_parser = parse_benchmark)]
        benchmark: shipshape_checks::Benchmark,
    },
    /// Measure image build (warm), boot, reset, reboot, audit and the suite.
    Bench(BenchArgs),
    /// Work with JUnit reports.
    #[command(subcommand)]
    Junit(JunitCmd),
}

#[derive(clap::Subcommand)]
enum JunitCmd {
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
struct BenchArgs {
    /// What to measure (default: all but the suite). `audit` alone is the
    /// audit benchmark: wall time and SSH round trips.
    #[arg(value_enum)]
    parts: Vec<bench::Part>,
    #[arg(long, default_value = "debian-12")]
    platform: Platform,
    /// Runs per cheap figure; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct TestArgs {
    /// Platform to run on; repeat for several (default: debian-12).
    #[arg(long = "platform")]
    platforms: Vec<Platform>,
    /// Only scenarios whose name matches this glob; repeatable.
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// JUnit XML output path.
    #[arg(long, default_value = "artifacts/shipshape-test.xml")]
    junit: PathBuf,
    /// Folder of scenario files (default: ./scenarios, else the one shipped with the source).
    #[arg(long)]
    scenarios_dir: Option<PathBuf>,
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Worker VMs run side by side (default: one per core). Each is its own
    /// VM from the same image and snapshot; results are the same as with 1.
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Also write a self-contained HTML report here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Run only shard k of n (e.g. 2/3); `junit merge` combines the shards.
    #[arg(long)]
    partition: Option<suite::Partition>,
    /// What brings the machines up: `qemu` (built in), `vagrant` (a box per
    /// --platform, made from shipshape's image, or per --vagrant-platform
    /// file) or `container` (the image as a systemd container on the local
    /// Docker daemon; scenarios needing a reboot or a disk are skipped).
    #[arg(long, value_enum, default_value = "qemu")]
    driver: DriverKind,
    /// A Vagrant platform file (e.g. vagrant/platforms/centos-7.yaml); repeatable.
    #[arg(long = "vagrant-platform")]
    vagrant_platforms: Vec<PathBuf>,
    /// The Vagrant provider.
    #[arg(long, default_value = "libvirt")]
    vagrant_provider: shipshape_harness::driver::vagrant::Provider,
    /// Run on an existing host instead of fresh VMs: ssh://user@host[:port]
    /// or a running VM's name. Needs --disposable.
    #[arg(long, conflicts_with_all = ["platforms", "jobs", "partition"])]
    target: Option<String>,
    /// The --target host may be changed for good: scenarios rewrite its
    /// Docker configuration, restart dockerd, format its data disk and reboot
    /// it, one after another with no reset in between.
    #[arg(long, requires = "target")]
    disposable: bool,
    /// The empty disk a disposable host lends to the data-disk scenario.
    #[arg(long, default_value = "/dev/sdb", requires = "target")]
    data_disk: String,
    #[command(flatten)]
    ssh: SshArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DriverKind {
    Qemu,
    Vagrant,
    Container,
}

/// How to reach and trust an ssh:// target.
#[derive(clap::Args)]
struct SshArgs {
    /// Private key for an ssh:// target (default ~/.ssh/id_ed25519).
    #[arg(short = 'i', long = "identity")]
    identity: Option<PathBuf>,
    /// The target's host key ("ssh-ed25519 AAAA…"); default: looked up in --known-hosts.
    #[arg(long)]
    host_key: Option<String>,
    /// known_hosts file for ssh:// targets (default ~/.ssh/known_hosts).
    #[arg(long)]
    known_hosts: Option<PathBuf>,
}

#[derive(clap::Args)]
struct FixArgs {
    /// ssh://user@host[:port], or a running VM's name from `vm list`.
    #[arg(long, conflicts_with = "local")]
    target: Option<String>,
    #[arg(long)]
    local: bool,
    #[command(flatten)]
    ssh: SshArgs,
    /// Control id to fix; repeatable (default: every failing fixable control).
    #[arg(long = "control")]
    controls: Vec<String>,
    /// Show the change as one merged diff per file and change nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long)]
    policy: Option<PathBuf>,
    /// `table` (the summary) or `json` (the same per-control outcomes).
    #[arg(long, value_enum, default_value = "table")]
    format: FixFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FixFormat {
    Table,
    Json,
}

#[derive(clap::Args)]
struct AuditArgs {
    /// ssh://user@host[:port], a running VM's name (`vm list`), or a platform
    /// (debian-12, debian-13) to boot a fresh VM of it.
    #[arg(long, conflicts_with = "local")]
    target: Option<String>,
    /// Audit this machine.
    #[arg(long)]
    local: bool,
    #[command(flatten)]
    ssh: SshArgs,
    /// Policy file (YAML): allowed docker users, ulimits, TLS paths, minimum version.
    #[arg(long)]
    policy: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write the report here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Show the evidence of every control in the table.
    #[arg(short, long)]
    verbose: bool,
    /// Also save the probe's raw JSON here (how the test fixtures are captured).
    #[arg(long)]
    save_probe: Option<PathBuf>,
    /// Which benchmark version's ids label the report: cis-1.6.0 (the
    /// default: docker-bench-security's numbering) or cis-1.8.0.
    #[arg(long, default_value = "cis-1.6.0", value_parser = parse_benchmark)]
    benchmark: shipshape_checks::Benchmark,
}

fn parse_benchmark(s: &str) -> Result<shipshape_checks::Benchmark, String> {
    s.parse()
        .map_err(|e: shipshape_checks::benchmark::UnknownBenchmark| e.to_string())
}

#[derive(Subcommand)]
enum ImageCmd {
    /// Build the image for a platform (debian-12, debian-13), or reuse the
    /// cached one when its recipe is unchanged.
    Build {
        platform: Platform,
        /// Rebuild even if an image with the same recipe is cached.
        #[arg(long)]
        force: bool,
    },
    /// List the cached images.
    List,
}

#[derive(Subcommand)]
enum VmCmd {
    /// Boot a VM (building its image first if needed) and leave it running.
    Up {
        platform: Platform,
        /// Instance name (default: the platform name).
        #[arg(long)]
        name: Option<String>,
        /// Size of the added data disk (/dev/sdb), e.g. 2G or 512M.
        #[arg(long, default_value = "2G", value_parser = parse_size)]
        data_disk: u64,
        /// Guest memory in MiB.
        #[arg(long, default_value_t = 2048)]
        memory: u32,
    },
    /// Run a command on a VM, or open an interactive shell.
    Ssh {
        name: String,
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Return a VM to its clean snapshot.
    Reset { name: String },
    /// Reboot a VM and wait for it to come back.
    Reboot { name: String },
    /// Stop a VM and delete its overlay and data disk.
    Down { name: String },
    /// List the VMs.
    List,
}

/// Parses `2G`, `512M`, `1048576` (bytes) and the like.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let unit = s[i..].to_ascii_uppercase();
            let mult: u64 = match unit.trim_end_matches("IB").trim_end_matches('B') {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                "T" => 1 << 40,
                _ => return Err(format!("unknown size unit in `{s}` (use K, M, G or T)")),
            };
            (&s[..i], mult)
        }
        None => (s, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 2G, 512M)"))?;
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))?;
    if bytes < (1 << 20) {
        return Err(format!("`{s}` is too small for a disk (at least 1M)"));
    }
    Ok(bytes)
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
        Command::Image(ImageCmd::Build { platform, force }) => {
            let progress = Progress::new(&format!("image {platform}"));
            let image = if force {
                shipshape_harness::bake::build(&home, platform, &progress).await?
            } else {
                let cached = Image::cached(&home, platform).is_some();
                let image = shipshape_harness::bake::ensure(&home, platform, &progress).await?;
                if cached {
                    eprintln!("image {platform}: cached, recipe unchanged");
                }
                image
            };
            println!("{}", image.qcow2.display());
        }
        Command::Image(ImageCmd::List) => {
            println!(
                "{:<16} {:<14} {:<22} {:>8}  PATH",
                "PLATFORM", "RECIPE", "DOCKER", "BUILD"
            );
            for img in image::list(&home) {
                let current = image::recipe::hash(img.platform) == img.meta.recipe_hash;
                println!(
                    "{:<16} {:<14} {:<22} {:>7.0}s  {}{}",
                    img.platform.name(),
                    img.meta.recipe_hash,
                    img.meta.docker_version,
                    img.meta.build_seconds,
                    img.dir.display(),
                    if current { "" } else { "  (stale recipe)" }
                );
                if !img.meta.packages.is_empty() {
                    println!("{:<16} packages: {}", "", img.meta.packages.join(", "));
                }
            }
        }
        Command::Vm(cmd) => return vm(&home, cmd).await,
        Command::Audit(args) => return audit(&home, args).await,
        Command::Test(args) => return test(&home, args).await,
        Command::Fix(args) => return fix_cmd(&home, args).await,
        Command::Junit(JunitCmd::Merge { output, inputs }) => {
            let mut texts = Vec::new();
            for p in &inputs {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                texts.push((p.display().to_string(), text));
            }
            let merged = report::junit::merge(&texts)?;
            if let Some(parent) = output.parent() {
                std::fs::create_dir_all(parent).ok();
            }
            std::fs::write(&output, merged)
                .with_context(|| format!("writing {}", output.display()))?;
            eprintln!(
                "merged {} report(s) into {}",
                inputs.len(),
                output.display()
            );
        }
        Command::Bench(args) => {
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
            let f = bench::run(&home, args.platform, &parts, args.runs.max(1), &chosen).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&f)?);
            } else {
                print!("{}", bench::render(&f));
            }
        }
        Command::Controls { benchmark } => {
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
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn find(home: &Home, name: &str) -> Result<instance::InstanceRecord> {
    instance::find(home, name).with_context(|| {
        format!("no VM named `{name}`; `shipshape vm list` shows the running ones")
    })
}

async fn vm(home: &Home, cmd: VmCmd) -> Result<ExitCode> {
    match cmd {
        VmCmd::Up {
            platform,
            name,
            data_disk,
            memory,
        } => {
            let name = name.unwrap_or_else(|| platform.name().to_string());
            validate_name(&name)?;
            let progress = Progress::new(&format!("vm {name}"));
            let image = shipshape_harness::bake::ensure(home, platform, &progress).await?;
            progress.stage("booting");
            let started = Instant::now();
            let mut opts = BootOptions::new(&name);
            opts.data_disk_bytes = data_disk;
            opts.memory_mb = memory;
            opts.persistent = true;
            let vm = QemuVm::boot(home, &image, opts).await?;
            let how = if vm.resumed {
                "resumed the saved boot"
            } else {
                "booted"
            };
            let rec = vm.detach()?;
            progress.finish(&format!(
                "up in {:.1}s ({:?}, {how}), snapshot `clean` taken",
                started.elapsed().as_secs_f64(),
                rec.accel
            ));
            let known_hosts = rec.dir.join("known_hosts");
            std::fs::write(
                &known_hosts,
                format!("[127.0.0.1]:{} {}\n", rec.ssh_port, rec.host_key),
            )?;
            println!("{}", ssh_command(&rec).join(" "));
        }
        VmCmd::Ssh { name, command } => {
            let rec = find(home, &name)?;
            if command.is_empty() {
                let argv = ssh_command(&rec);
                let err = std::os::unix::process::CommandExt::exec(
                    std::process::Command::new(&argv[0]).args(&argv[1..]),
                );
                bail!("cannot run ssh: {err}");
            }
            let vm = QemuVm::attach(rec)?;
            let session = SshSession::connect(vm.ssh_target(), Duration::from_secs(15)).await?;
            let line = if command.len() == 1 {
                command[0].clone()
            } else {
                shell::join(&command)
            };
            let out = session
                .exec_timeout(&line, Duration::from_secs(3600))
                .await?;
            print!("{}", out.stdout);
            eprint!("{}", out.stderr);
            session.close().await;
            return Ok(ExitCode::from(out.status.min(255) as u8));
        }
        VmCmd::Reset { name } => {
            let mut vm = QemuVm::attach(find(home, &name)?)?;
            let took = vm.reset().await?;
            eprintln!("{name}: reset to snapshot in {:.2}s", took.as_secs_f64());
        }
        VmCmd::Reboot { name } => {
            let mut vm = QemuVm::attach(find(home, &name)?)?;
            let took = vm.reboot(Duration::from_secs(300)).await?;
            eprintln!("{name}: rebooted in {:.1}s", took.as_secs_f64());
        }
        VmCmd::Down { name } => {
            let rec = find(home, &name)?;
            rec.destroy();
            eprintln!("{name}: stopped and removed");
        }
        VmCmd::List => {
            println!(
                "{:<16} {:<10} {:>6} {:>8} {:<5} {:<8} OWNER",
                "NAME", "PLATFORM", "PORT", "PID", "ACCEL", "STATE"
            );
            for rec in instance::list(home) {
                let state = if rec.qemu_alive() {
                    "running"
                } else {
                    "stopped"
                };
                let owner = match rec.owner {
                    Some(o) => format!("pid {}", o.pid),
                    None => "vm up".into(),
                };
                println!(
                    "{:<16} {:<10} {:>6} {:>8} {:<5} {:<8} {}",
                    rec.name,
                    rec.platform.name(),
                    rec.ssh_port,
                    rec.qemu_pid,
                    format!("{:?}", rec.accel).to_lowercase(),
                    state,
                    owner
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn audit(home: &Home, args: AuditArgs) -> Result<ExitCode> {
    // Everything that can be wrong with the input is checked before the
    // target is touched.
    let policy = load_policy(&args.policy)?;
    let mut vm_holder = None;
    let session = match (&args.target, args.local) {
        (_, true) => None,
        (None, false) => bail!("say what to audit: --target ssh://user@host[:port], --target <vm name>, --target debian-12, or --local"),
        (Some(t), false) => match instance::find(home, t) {
            Some(_) => Some(connect(home, t, &args.ssh).await?),
            None => match t.parse::<TargetSpec>()? {
                TargetSpec::Platform(platform) => {
                    let progress = Progress::new(&format!("audit {platform}"));
                    let image = shipshape_harness::bake::ensure(home, platform, &progress).await?;
                    progress.stage("booting");
                    let mut opts = BootOptions::new(format!("audit-{}-{}", platform, std::process::id()));
                    opts.snapshot = false;
                    let vm = QemuVm::boot(home, &image, opts).await?;
                    let t = vm.ssh_target().clone();
                    progress.finish("booted");
                    vm_holder = Some(vm);
                    Some(target::connect_ssh(&t).await?)
                }
                _ => Some(connect(home, t, &args.ssh).await?),
            },
        },
    };
    let conn = match &session {
        Some(s) => Conn::Ssh(s),
        None => Conn::Local,
    };
    let run = auditing::run(&conn, &policy).await?;
    if let Some(p) = &args.save_probe {
        std::fs::write(p, &run.probe_output).with_context(|| format!("writing {}", p.display()))?;
    }
    if let Some(vm) = vm_holder {
        vm.destroy().await;
    }
    let text = match args.format {
        Format::Table => report::table::render(&run, args.verbose, args.benchmark),
        Format::Json => {
            serde_json::to_string_pretty(&report::json::render(&run, args.benchmark))? + "\n"
        }
        Format::Junit => report::junit::render(&[&run], args.benchmark),
        Format::Html => report::html::audit(&[&run], args.benchmark),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            if args.format != Format::Table {
                eprint!("{}", report::table::render(&run, false, args.benchmark));
            }
        }
        None => print!("{text}"),
    }
    Ok(if run.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Connects to a running VM by name, or to an ssh:// URL with a pinned host
/// key (from --host-key, else known_hosts). All input is checked first.
async fn connect(home: &Home, t: &str, ssh: &SshArgs) -> Result<SshSession> {
    let target = resolve(home, t, ssh)?;
    Ok(target::connect_ssh(&target).await?)
}

/// Where `--target` points: a running VM by name, or an ssh:// host with its
/// key and pinned host key (checked here, before anything connects).
fn resolve(home: &Home, t: &str, ssh: &SshArgs) -> Result<SshTarget> {
    let SshArgs {
        identity,
        host_key,
        known_hosts,
    } = ssh;
    let target = if let Some(rec) = instance::find(home, t) {
        QemuVm::attach(rec)?.ssh_target().clone()
    } else {
        let TargetSpec::Ssh { user, host, port } = t.parse::<TargetSpec>()? else {
            bail!("`{t}` is a platform, not a host: use ssh://user@host[:port] or a running VM's name");
        };
        let key_path = identity.clone().unwrap_or_else(target::default_key);
        if !key_path.is_file() {
            bail!(
                "key file {} does not exist (pass -i KEY)",
                key_path.display()
            );
        }
        let host_key = match host_key {
            Some(k) => shipshape_harness::transport::ssh::parse_public_key(k)
                .map_err(|e| anyhow::anyhow!("--host-key: {e}"))?,
            None => {
                let kh = known_hosts.clone().unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                        .join(".ssh/known_hosts")
                });
                target::known_host_key(&kh, &host, port).map_err(anyhow::Error::msg)?
            }
        };
        SshTarget {
            host,
            port,
            user,
            key_path,
            host_key: Some(host_key),
        }
    };
    Ok(target)
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

async fn test(home: &Home, args: TestArgs) -> Result<ExitCode> {
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
    let runs = match &args.target {
        Some(t) => vec![test_on_host(home, t, &args, &chosen, &policy).await?],
        None if args.driver == DriverKind::Vagrant || !args.vagrant_platforms.is_empty() => {
            test_on_vagrant(home, &args, &chosen, &policy).await?
        }
        None if args.driver == DriverKind::Container => {
            test_in_containers(home, &args, &chosen, &policy).await?
        }
        None => test_on_vms(home, &args, &chosen, &policy).await,
    };
    report_test(&args, &chosen, &runs)
}

/// The scenarios on an existing host, in file order, with no reset between
/// them: only on a host the user called disposable.
async fn test_on_host(
    home: &Home,
    t: &str,
    args: &TestArgs,
    chosen: &[&scenario::Scenario],
    policy: &shipshape_checks::Policy,
) -> Result<suite::PlatformRun> {
    if !args.disposable {
        bail!(
            "refusing to run scenarios on {t}: they rewrite its Docker configuration, restart dockerd, \
             format {} and reboot it. Pass --disposable if this host may be changed for good, \
             or use `shipshape audit --target {t}`, which only reads",
            args.data_disk
        );
    }
    let target = resolve(home, t, &args.ssh)?;
    let started = Instant::now();
    let mut host = SshHost::connect(target, args.data_disk.clone()).await?;
    let label = host.describe();
    eprintln!(
        "shipshape test: {} scenario(s) on {label} (disposable; no reset between scenarios)",
        chosen.len()
    );
    let mut results = Vec::new();
    for sc in chosen {
        let r = scenario::run_scenario(&mut host, sc, policy).await;
        print_result(&label, &r);
        results.push(r);
    }
    Ok(suite::PlatformRun {
        label,
        platform: None,
        results,
        error: None,
        boot: Duration::ZERO,
        duration: started.elapsed(),
    })
}

/// Every scenario in a fresh `vagrant up` per platform: shipshape's images
/// as boxes for --platform, and the --vagrant-platform files.
async fn test_on_vagrant(
    home: &Home,
    args: &TestArgs,
    chosen: &[&scenario::Scenario],
    policy: &shipshape_checks::Policy,
) -> Result<Vec<suite::PlatformRun>> {
    use shipshape_harness::driver::vagrant::{self, boxes as vagrant_box};
    // Everything is read before any machine comes up: a bad file changes nothing.
    let mut platforms = Vec::new();
    for f in &args.vagrant_platforms {
        platforms.push((
            vagrant::VagrantPlatform::load(f).map_err(anyhow::Error::msg)?,
            None,
        ));
    }
    let images: Vec<Platform> = if args.platforms.is_empty() && args.vagrant_platforms.is_empty() {
        vec![Platform::Debian12]
    } else {
        args.platforms.clone()
    };
    let reaped = vagrant::reap(home);
    if reaped > 0 {
        eprintln!("destroyed {reaped} Vagrant instance(s) left by a killed run");
    }
    for p in images {
        let progress = Progress::new(&format!("image {p}"));
        let image = shipshape_harness::bake::ensure(home, p, &progress).await?;
        progress.stage("vagrant box");
        let name = vagrant_box::ensure(home, &image).await?;
        progress.finish(&format!("box {name}"));
        let mut vp = vagrant::VagrantPlatform::for_image(&image);
        vp.box_name = name;
        let accel = shipshape_harness::driver::qemu::accel::choose(&image.kernel, home.root());
        platforms.push((vp, Some(accel)));
    }
    let mut runs = Vec::new();
    for (vp, accel) in &platforms {
        // libvirt's "kvm" domain type only where KVM really boots a kernel.
        let driver = match (accel, &vp.libvirt_driver) {
            (_, Some(d)) => d.clone(),
            (Some(shipshape_harness::driver::qemu::accel::Accel::Tcg), None) => "qemu".to_string(),
            _ => "kvm".to_string(),
        };
        eprintln!(
            "shipshape test: {} scenario(s) on {} through Vagrant ({}, domain type {driver}), a fresh machine each",
            chosen.len(),
            vp.name,
            args.vagrant_provider.name()
        );
        let label = vp.name.clone();
        runs.push(
            suite::run_vagrant(
                home,
                vp,
                args.vagrant_provider,
                &driver,
                chosen,
                policy,
                &|r| print_result(&label, r),
            )
            .await,
        );
    }
    Ok(runs)
}

/// Every scenario in a fresh container of each --platform's image.
async fn test_in_containers(
    home: &Home,
    args: &TestArgs,
    chosen: &[&scenario::Scenario],
    policy: &shipshape_checks::Policy,
) -> Result<Vec<suite::PlatformRun>> {
    use shipshape_harness::driver::container;
    let platforms = if args.platforms.is_empty() {
        vec![Platform::Debian12]
    } else {
        args.platforms.clone()
    };
    let reaped = container::reap().await;
    if reaped > 0 {
        eprintln!("removed {reaped} container(s) left by a killed run");
    }
    let privileges = container::Privileges::detect();
    if let container::Privileges::Listed { missing, .. } = &privileges {
        eprintln!(
            "shipshape test: dockerd's capability bounding set lacks {}: containers get every other capability instead of --privileged",
            missing.join(", ")
        );
    }
    let mut runs = Vec::new();
    for p in platforms {
        let progress = Progress::new(&format!("image {p}"));
        let image = shipshape_harness::bake::ensure(home, p, &progress).await?;
        progress.stage("container image");
        let tag = container::ensure_image(home, &image).await?;
        progress.finish(&tag);
        eprintln!(
            "shipshape test: {} scenario(s) on {p} in containers of {tag}, a fresh one each",
            chosen.len()
        );
        let label = format!("{p}-container");
        runs.push(
            suite::run_containers(&image, &privileges, chosen, policy, &|r| {
                print_result(&label, r)
            })
            .await,
        );
    }
    Ok(runs)
}

fn print_result(on: &str, r: &scenario::ScenarioResult) {
    let mark = match (r.passed(), r.skipped.is_some(), r.broken) {
        (true, _, _) => "ok  ",
        (false, true, _) => "SKIP",
        (false, false, true) => "ERR ",
        (false, false, false) => "FAIL",
    };
    eprintln!(
        "{mark} {on} {:<24} {:>6.1}s",
        r.scenario,
        r.duration.as_secs_f64()
    );
    if let Some(f) = r.failure.as_ref().or(r.skipped.as_ref()) {
        eprintln!("     {}", f.lines().next().unwrap_or_default());
    }
}

async fn test_on_vms(
    home: &Home,
    args: &TestArgs,
    chosen: &[&scenario::Scenario],
    policy: &shipshape_checks::Policy,
) -> Vec<suite::PlatformRun> {
    let platforms = if args.platforms.is_empty() {
        vec![Platform::Debian12]
    } else {
        args.platforms.clone()
    };
    let jobs = args.jobs.unwrap_or_else(suite::default_jobs).max(1);
    let shard = args.partition.map(|p| p.cut(&platforms, chosen));
    if let (Some(p), Some(cases)) = (&args.partition, &shard) {
        eprintln!(
            "shipshape test: shard {}/{}: {} case(s)",
            p.k,
            p.n,
            cases.len()
        );
    }
    let keep = |p: Platform, s: &scenario::Scenario| {
        shard
            .as_ref()
            .is_none_or(|c| c.iter().any(|(x, n)| *x == p && *n == s.name))
    };
    eprintln!(
        "shipshape test: {} scenario(s) × {} platform(s) on {jobs} worker VM(s)",
        chosen.len(),
        platforms.len()
    );
    suite::run_matrix(
        home,
        &platforms,
        chosen,
        &keep,
        policy,
        jobs,
        std::sync::Arc::new(|p: Platform, r: &scenario::ScenarioResult| print_result(p.name(), r)),
    )
    .await
}

fn report_test(
    args: &TestArgs,
    chosen: &[&scenario::Scenario],
    runs: &[suite::PlatformRun],
) -> Result<ExitCode> {
    for run in runs {
        if let Some(e) = &run.error {
            eprintln!("{}: {e}", run.label);
        }
    }
    if let Some(parent) = args.junit.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(&args.junit, report::junit::scenarios(runs))
        .with_context(|| format!("writing {}", args.junit.display()))?;
    if let Some(html) = &args.html {
        std::fs::write(html, report::html::scenarios(runs))
            .with_context(|| format!("writing {}", html.display()))?;
    }
    // The summary matrix.
    print!("\n{:<24}", "scenario");
    for r in runs {
        print!(" {:<10}", r.label);
    }
    println!();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for sc in chosen {
        print!("{:<24}", sc.name);
        for r in runs {
            let cell = match r.results.iter().find(|x| x.scenario == sc.name) {
                Some(x) if x.passed() => {
                    passed += 1;
                    format!("pass {:>4.0}s", x.duration.as_secs_f64())
                }
                Some(x) if x.skipped.is_some() => {
                    skipped += 1;
                    "skipped".into()
                }
                Some(x) => {
                    failed += 1;
                    format!("FAIL {:>4.0}s", x.duration.as_secs_f64())
                }
                None => "-".into(),
            };
            print!(" {cell:<10}");
        }
        println!();
    }
    println!(
        "\n{passed} passed, {failed} failed, {skipped} skipped; JUnit: {}",
        args.junit.display()
    );
    if runs.iter().any(|r| r.error.is_some()) {
        return Ok(ExitCode::from(2));
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn fix_cmd(home: &Home, args: FixArgs) -> Result<ExitCode> {
    let policy = load_policy(&args.policy)?;
    for id in &args.controls {
        if shipshape_checks::find_control(id).is_none() {
            bail!("unknown control `{id}`; `shipshape controls` lists them");
        }
    }
    let session = if args.local {
        None
    } else {
        let t = args.target.clone().context(
            "say what to fix: --target ssh://user@host[:port], --target <vm name>, or --local",
        )?;
        Some(connect(home, &t, &args.ssh).await?)
    };
    let conn = match &session {
        Some(s) => Conn::Ssh(s),
        None => Conn::Local,
    };
    let run = auditing::run(&conn, &policy).await?;
    let ids = args.controls.clone();
    let ctx = match (&args.target, args.local) {
        (Some(t), false) => match instance::find(home, t) {
            Some(rec) => QemuVm::attach(rec)?.fix_context(),
            None => {
                let host = match t.parse::<TargetSpec>()? {
                    TargetSpec::Ssh { host, .. } => host,
                    _ => "localhost".to_string(),
                };
                fix::FixContext {
                    data_disk: "/dev/sdb".into(),
                    client_tls_dir: home.root().join("tls").join(host.replace([':', '/'], "_")),
                    ips: host.parse().into_iter().collect(),
                    names: vec![host],
                }
            }
        },
        _ => fix::FixContext {
            data_disk: "/dev/sdb".into(),
            client_tls_dir: home.root().join("tls").join("local"),
            names: vec!["localhost".into()],
            ips: vec![std::net::IpAddr::from([127, 0, 0, 1])],
        },
    };
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

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 40
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("bad VM name `{name}`: use 1-40 letters, digits, `-` or `_`");
    }
    Ok(())
}

/// The exact OpenSSH command line for a VM, host key pinned.
fn ssh_command(rec: &instance::InstanceRecord) -> Vec<String> {
    let known_hosts: PathBuf = rec.dir.join("known_hosts");
    vec![
        "ssh".into(),
        "-i".into(),
        rec.client_key.display().to_string(),
        "-p".into(),
        rec.ssh_port.to_string(),
        "-o".into(),
        format!("UserKnownHostsFile={}", known_hosts.display()),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "root@127.0.0.1".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("2X").unwrap_err().contains("unit"));
        assert!(parse_size("abc").is_err());
        assert!(parse_size("10").unwrap_err().contains("too small"));
    }
}
