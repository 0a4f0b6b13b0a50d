//! The image file as a driver: a machine per worker, booted from the file
//! with the scenarios' local image made in it, then `loadvm` resets.

use std::time::Duration;

use super::{ImageBoot, ImageFileVm};
use crate::driver::error::io;
use crate::driver::DriverError;
use crate::paths::Home;

const LOCAL_IMAGE: &str = include_str!("../../../../scenarios/lib/local-image.sh");

/// Machines of one image file: a boot per worker, then `loadvm` resets.
pub struct ImageFileDriver {
    home: Home,
    boot: ImageBoot,
}

impl ImageFileDriver {
    pub fn new(home: &Home, boot: ImageBoot) -> Self {
        Self {
            home: home.clone(),
            boot,
        }
    }
}

impl crate::driver::Driver for ImageFileDriver {
    type M = ImageFileVm;
    fn id(&self) -> crate::driver::RunId {
        crate::driver::RunId::Image(
            self.boot
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
    }
    async fn prepare(&mut self) -> Result<(), DriverError> {
        std::fs::metadata(&self.boot.file).map_err(io(format!(
            "reading the image {}",
            self.boot.file.display()
        )))?;
        Ok(())
    }
    async fn create(&self, seq: usize) -> Result<ImageFileVm, DriverError> {
        let name = format!("image-{}-{seq}", std::process::id());
        let vm = ImageFileVm::boot(&self.home, &name, &self.boot).await?;
        // No registry is reachable from a test machine: the scenarios'
        // local image is made from the image's busybox, as on any host
        // shipshape did not build.
        let s = vm.session().expect("booted");
        let out = s
            .exec_with(LOCAL_IMAGE, None, Duration::from_secs(300))
            .await
            .map_err(vm.ssh_during("making the local image"))?;
        if out.status != 0 {
            return Err(DriverError::Tool {
                tool: "the local image".into(),
                detail: out.stderr.trim().to_string(),
            });
        }
        let mut vm = vm;
        vm.take_snapshot().await;
        Ok(vm)
    }
}
