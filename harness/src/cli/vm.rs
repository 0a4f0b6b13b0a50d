//! `shipshape vm up|ssh|reset|reboot|down|list`: VMs by hand, like
//! `kitchen create/login/destroy`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use shipshape_harness::driver::qemu::instance;
use shipshape_harness::driver::{BootOptions, QemuVm};
use shipshape_harness::paths::Home;
use shipshape_harness::platform::Platform;
use shipshape_harness::progress::Progress;
use shipshape_harness::shell;
use shipshape_harness::transport::SshSession;

use super::parse::{parse_size, validate_name};

#[derive(Subcommand)]
pub(super) enum VmCmd {
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

fn find(home: &Home, name: &str) -> Result<instance::InstanceRecord> {
    instance::find(home, name).with_context(|| {
        format!("no VM named `{name}`; `shipshape vm list` shows the running ones")
    })
}

pub(super) async fn run(home: &Home, cmd: VmCmd) -> Result<ExitCode> {
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
