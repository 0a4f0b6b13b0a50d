//! Warm starts. Under TCG a cold boot to a settled guest takes 40–100 s; a
//! saved one resumes in a few seconds. The first boot of an image in a given
//! VM shape saves its settled state once, next to the image: the root
//! overlay as it was, and QEMU's migration stream. Later instances put their
//! own overlay on that layer and resume the stream with `-incoming`.
//!
//! Everything the stream has to match (vCPUs, memory, the data disk's size,
//! the accelerator, the QEMU build) is in the template's key, so a changed
//! shape makes a new template instead of a failed resume.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cleanup;
use crate::driver::qemu::accel::Accel;
use crate::driver::qemu::qmp::Qmp;
use crate::driver::qemu::BootOptions;
use crate::driver::DriverError;
use crate::image::Image;
use crate::paths;

/// Saving writes a few hundred MB; resuming reads them back.
const MIGRATION_LIMIT: Duration = Duration::from_secs(300);

/// A saved, settled boot of one image in one VM shape.
#[derive(Debug, Clone)]
pub struct Template {
    pub dir: PathBuf,
    /// The root overlay at the moment of the save (its backing file is the image).
    pub disk: PathBuf,
    /// QEMU's migration stream: RAM and device state.
    pub state: PathBuf,
}

impl Template {
    /// The template folder for `image` booted with `opts` under `accel`.
    pub fn dir_for(image: &Image, opts: &BootOptions, accel: Accel) -> PathBuf {
        let mut h = Sha256::new();
        h.update(qemu_version().as_bytes());
        let qemu: String = h
            .finalize()
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect();
        let accel = match accel {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        };
        image.dir.join(format!(
            "warm-{}cpu-{}m-{}b-{accel}-{qemu}",
            opts.cpus, opts.memory_mb, opts.data_disk_bytes
        ))
    }

    fn at(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            disk: dir.join("root.qcow2"),
            state: dir.join("state"),
        }
    }

    /// The finished template in `dir`, if there is one.
    pub fn find(dir: &Path) -> Option<Self> {
        let t = Self::at(dir);
        (t.disk.is_file() && t.state.is_file()).then_some(t)
    }

    /// Removes a template that failed to resume, so the next boot saves a new one.
    pub fn discard(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Serializes the saving of one template across processes: a second booter
/// waits, then resumes what the first one saved, instead of booting cold
/// beside it (two cold boots side by side take 75–105 s each on 2 cores).
pub async fn lock(dir: &Path) -> Result<std::fs::File, DriverError> {
    let path = dir.with_extension("lock");
    paths::lock_exclusive(&path)
        .await
        .map_err(|source| DriverError::Io {
            context: format!("locking {}", path.display()),
            source,
        })
}

/// Saves the running, settled VM behind `qmp` as the template in `dir`, then
/// lets it run on. The guest must hold no SSH session: a resumed copy would
/// keep a half-open connection to a client that is gone.
pub async fn save(qmp: &mut Qmp, overlay: &Path, dir: &Path) -> Result<Template, DriverError> {
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    paths::private_dir(&tmp).map_err(|source| DriverError::Io {
        context: format!("creating {}", tmp.display()),
        source,
    })?;
    let _partial = cleanup::remove_on_signal(&tmp);
    let staged = Template::at(&tmp);
    qmp.execute("stop", json!({})).await?;
    let saved = async {
        qmp.execute(
            "migrate",
            json!({ "uri": format!("exec:cat > {}", sh_quote(&staged.state)) }),
        )
        .await?;
        qmp.wait_migration(MIGRATION_LIMIT).await?;
        // The migration left every disk flushed and inactive: the overlay
        // file is complete as it stands.
        std::fs::copy(overlay, &staged.disk).map_err(|source| DriverError::Io {
            context: format!("copying {}", overlay.display()),
            source,
        })?;
        Ok::<(), DriverError>(())
    }
    .await;
    // The VM runs on whatever happened to the copy.
    let resumed = qmp.execute("cont", json!({})).await;
    if let Err(e) = saved {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    resumed?;
    std::fs::rename(&tmp, dir).map_err(|source| DriverError::Io {
        context: format!("moving {} into place", tmp.display()),
        source,
    })?;
    Ok(Template::at(dir))
}

/// Feeds the template's stream to a QEMU started with `-incoming defer` and
/// lets the guest run.
pub async fn resume(qmp: &mut Qmp, template: &Template) -> Result<(), DriverError> {
    qmp.execute(
        "migrate-incoming",
        json!({ "uri": format!("exec:cat {}", sh_quote(&template.state)) }),
    )
    .await?;
    qmp.wait_migration(MIGRATION_LIMIT).await?;
    let status = qmp.execute("query-status", json!({})).await?;
    if status["status"].as_str() != Some("running") {
        qmp.execute("cont", json!({})).await?;
    }
    Ok(())
}

/// QEMU's version line, read once: a stream from another build may not load.
fn qemu_version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        std::process::Command::new("qemu-system-x86_64")
            .arg("--version")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .unwrap_or_default()
    })
}

/// QEMU runs `exec:` URIs through `/bin/sh -c`.
fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_spaces_and_quotes() {
        assert_eq!(
            sh_quote(Path::new("/a b/it's")),
            r"'/a b/it'\''s'".to_string()
        );
    }
}
