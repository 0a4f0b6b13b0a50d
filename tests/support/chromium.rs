//! Headless Chromium from the distribution's packages (`.ci/host-deps`
//! installs chromium-headless-shell): loads a report and returns the DOM it
//! built, and keeps a screenshot with the test artifacts.

use std::path::{Path, PathBuf};
use std::process::Command;

fn browser() -> Result<PathBuf, String> {
    for name in [
        "chromium-headless-shell",
        "chromium",
        "chromium-browser",
        "google-chrome",
    ] {
        for dir in ["/usr/bin", "/usr/local/bin", "/snap/bin"] {
            let p = Path::new(dir).join(name);
            if p.exists() {
                return Ok(p);
            }
        }
    }
    Err("no headless Chromium: run `bash .ci/host-deps` (installs chromium-headless-shell)".into())
}

fn run(args: &[String]) -> Result<std::process::Output, String> {
    let b = browser()?;
    let out = Command::new("timeout")
        .arg("120")
        .arg(&b)
        // Root has no user namespace sandbox here; the page is our own file.
        .args(["--no-sandbox", "--disable-gpu", "--headless"])
        .args(args)
        .output()
        .map_err(|e| format!("starting {}: {e}", b.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {:?} failed: {}",
            b.display(),
            args,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out)
}

/// The DOM Chromium built from `page`.
pub fn dom(page: &Path) -> Result<String, String> {
    let url = format!(
        "file://{}",
        page.canonicalize().map_err(|e| e.to_string())?.display()
    );
    let out = run(&["--dump-dom".into(), url])?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A PNG of `page` at `png`.
pub fn screenshot(page: &Path, png: &Path) -> Result<(), String> {
    let url = format!(
        "file://{}",
        page.canonicalize().map_err(|e| e.to_string())?.display()
    );
    run(&[
        format!("--screenshot={}", png.display()),
        "--window-size=1400,1800".into(),
        url,
    ])?;
    let len = std::fs::metadata(png).map(|m| m.len()).unwrap_or(0);
    if len < 1000 {
        return Err(format!("screenshot {} is {len} bytes", png.display()));
    }
    Ok(())
}

/// Key material that must never reach a report.
pub fn secrets_in(text: &str) -> Vec<&'static str> {
    [
        "PRIVATE KEY-----",
        "BEGIN OPENSSH PRIVATE",
        "BEGIN RSA PRIVATE",
        "BEGIN EC PRIVATE",
    ]
    .into_iter()
    .filter(|m| text.contains(m))
    .collect()
}
