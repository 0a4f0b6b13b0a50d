//! `shipshape image build|list`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use shipshape_harness::bake;
use shipshape_harness::image::{self, Image};
use shipshape_harness::paths::Home;
use shipshape_harness::platform::Platform;
use shipshape_harness::progress::Progress;

#[derive(Subcommand)]
pub(super) enum ImageCmd {
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

pub(super) async fn run(home: &Home, cmd: ImageCmd) -> Result<ExitCode> {
    match cmd {
        ImageCmd::Build { platform, force } => {
            let progress = Progress::new(&format!("image {platform}"));
            let image = if force {
                bake::build(home, platform, &progress).await?
            } else {
                let cached = Image::cached(home, platform).is_some();
                let image = bake::ensure(home, platform, &progress).await?;
                if cached {
                    eprintln!("image {platform}: cached, recipe unchanged");
                }
                image
            };
            println!("{}", image.qcow2.display());
        }
        ImageCmd::List => {
            println!(
                "{:<16} {:<14} {:<22} {:>8}  PATH",
                "PLATFORM", "RECIPE", "DOCKER", "BUILD"
            );
            for img in image::list(home) {
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
    }
    Ok(ExitCode::SUCCESS)
}
