//! The progress display for long steps (image builds, boots).

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// A spinner with a stage and the latest output line; hidden when stderr is
/// not a terminal, where plain stage lines are printed instead.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    tty: bool,
}

impl Progress {
    pub fn new(prefix: &str) -> Self {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = if tty {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed:>4}] {prefix}: {msg}")
                    .expect("valid template"),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        } else {
            ProgressBar::hidden()
        };
        bar.set_prefix(prefix.to_string());
        Self { bar, tty }
    }

    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
            tty: false,
        }
    }

    /// A new stage: always shown, also in logs.
    pub fn stage(&self, msg: &str) {
        if self.tty {
            self.bar.set_message(msg.to_string());
        } else if std::env::var_os("SHIPSHAPE_QUIET").is_none() {
            eprintln!(
                "[{:>5.1}s] {}: {msg}",
                self.bar.elapsed().as_secs_f64(),
                self.bar.prefix()
            );
        }
    }

    /// Detail under the current stage (a line of tool output): only on a terminal.
    pub fn detail(&self, line: &str) {
        if self.tty {
            let line: String = line.chars().take(100).collect();
            self.bar.set_message(line);
        }
    }

    pub fn finish(&self, msg: &str) {
        if self.tty {
            self.bar.finish_and_clear();
        }
        eprintln!("{}: {msg}", self.bar.prefix());
    }
}
