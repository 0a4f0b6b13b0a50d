//! A libvirt Vagrant box made from one of shipshape's images: the image's
//! qcow2 as `box.img`, its kernel and initrd (the image has no bootloader),
//! and a box Vagrantfile that points libvirt at them. Named by the image's
//! recipe hash, so a rebuilt image gets a new box and the old one goes.

use std::path::Path;
use std::time::Duration;

use crate::driver::error::io;
use crate::driver::vagrant::tool::{command, run_logged, vagrant_home};
use crate::driver::DriverError;
use crate::image::Image;
use crate::paths::{self, Home};

/// `shipshape/debian-12-<recipe hash>`.
pub fn box_name(image: &Image) -> String {
    format!(
        "shipshape/{}-{}",
        image.platform.name(),
        image.meta.recipe_hash
    )
}

/// Vagrant's on-disk name for a box (`/` becomes `-VAGRANTSLASH-`).
fn box_dir_name(name: &str) -> String {
    name.replace('/', "-VAGRANTSLASH-")
}

const BOX_VAGRANTFILE: &str = r#"# Made by shipshape from its own image, which boots without a bootloader.
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |lv|
    lv.kernel = File.expand_path("vmlinuz", __dir__)
    lv.initrd = File.expand_path("initrd.img", __dir__)
  end
end
"#;

/// Adds the box for `image` to shipshape's Vagrant home unless it is there,
/// and removes boxes of older images of the same platform. Returns its name.
pub async fn ensure(home: &Home, image: &Image) -> Result<String, DriverError> {
    let name = box_name(image);
    let boxes = vagrant_home(home).join("boxes");
    paths::private_dir(&vagrant_home(home)).map_err(io("creating the Vagrant home"))?;
    let _lock = paths::lock_exclusive(&home.root().join(".lock-vagrant-boxes"))
        .await
        .map_err(io("locking the Vagrant boxes"))?;
    if boxes
        .join(box_dir_name(&name))
        .join("0")
        .join("libvirt")
        .join("box.img")
        .exists()
    {
        return Ok(name);
    }
    let work = tempfile::Builder::new()
        .prefix(".box-")
        .tempdir_in(home.root())
        .map_err(io("creating a folder for the box"))?;
    let _guard = crate::cleanup::remove_on_signal(work.path());
    let w = work.path();
    // A hard link where the image is on the same filesystem: no copy of ~750 MB.
    if std::fs::hard_link(&image.qcow2, w.join("box.img")).is_err() {
        std::fs::copy(&image.qcow2, w.join("box.img")).map_err(io("copying the image"))?;
    }
    std::fs::copy(&image.kernel, w.join("vmlinuz")).map_err(io("copying the kernel"))?;
    std::fs::copy(&image.initrd, w.join("initrd.img")).map_err(io("copying the initrd"))?;
    let gib = virtual_size_gib(&image.qcow2).await?;
    std::fs::write(
        w.join("metadata.json"),
        serde_json::json!({"provider": "libvirt", "format": "qcow2", "virtual_size": gib})
            .to_string(),
    )
    .map_err(io("writing metadata.json"))?;
    std::fs::write(w.join("Vagrantfile"), BOX_VAGRANTFILE)
        .map_err(io("writing the box Vagrantfile"))?;
    let tar = w.join("shipshape.box");
    let st = tokio::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(w)
        .args([
            "metadata.json",
            "Vagrantfile",
            "box.img",
            "vmlinuz",
            "initrd.img",
        ])
        .status()
        .await
        .map_err(io("running tar"))?;
    if !st.success() {
        return Err(DriverError::Tool {
            tool: "tar".into(),
            detail: format!("packing the box: {st}"),
        });
    }
    let log = w.join("box-add.log");
    let mut add = command(home, None);
    add.args(["box", "add", "--force", "--name", &name])
        .arg(&tar);
    run_logged(add, &log, "vagrant box add", Duration::from_secs(600)).await?;
    remove_older(home, image, &name).await;
    Ok(name)
}

async fn virtual_size_gib(qcow2: &Path) -> Result<u64, DriverError> {
    let out = tokio::process::Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(qcow2)
        .output()
        .await
        .map_err(io("running qemu-img info"))?;
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| DriverError::Tool {
            tool: "qemu-img info".into(),
            detail: e.to_string(),
        })?;
    let bytes = v["virtual-size"].as_u64().unwrap_or(0);
    Ok(bytes.div_ceil(1 << 30).max(1))
}

/// Boxes of the same platform made from older images, and the copies
/// vagrant-libvirt uploaded of them into libvirt's pool.
async fn remove_older(home: &Home, image: &Image, keep: &str) {
    let prefix = format!("shipshape/{}-", image.platform.name());
    let Ok(out) = tokio::process::Command::from({
        let mut c = command(home, None);
        c.args(["box", "list"]);
        c
    })
    .output()
    .await
    else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        if name.starts_with(&prefix) && name != keep {
            let mut rm = command(home, None);
            rm.args(["box", "remove", "--force", "--all", name]);
            let _ = tokio::process::Command::from(rm).output().await;
            let vol_prefix = format!("{}_vagrant_box_image_", box_dir_name(name));
            if let Ok(vols) = tokio::process::Command::new("virsh")
                .args(["-c", "qemu:///system", "vol-list", "default"])
                .output()
                .await
            {
                for v in String::from_utf8_lossy(&vols.stdout).lines() {
                    if let Some(vol) = v
                        .split_whitespace()
                        .next()
                        .filter(|v| v.starts_with(&vol_prefix))
                    {
                        let _ = tokio::process::Command::new("virsh")
                            .args([
                                "-c",
                                "qemu:///system",
                                "vol-delete",
                                "--pool",
                                "default",
                                vol,
                            ])
                            .output()
                            .await;
                    }
                }
            }
        }
    }
}
