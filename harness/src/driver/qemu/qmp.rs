//! A minimal QMP client: savevm/loadvm, migration to and from a file, quit.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("QMP socket {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("QMP closed the connection")]
    Closed,
    #[error("QMP command `{command}` failed: {message}")]
    Command { command: String, message: String },
    #[error("QMP command `{0}` timed out")]
    Timeout(String),
}

pub struct Qmp {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
    path: String,
}

impl Qmp {
    pub async fn connect(path: &Path) -> Result<Self, QmpError> {
        let p = path.display().to_string();
        let stream = UnixStream::connect(path)
            .await
            .map_err(|source| QmpError::Io {
                path: p.clone(),
                source,
            })?;
        let (r, w) = stream.into_split();
        let mut qmp = Self {
            reader: BufReader::new(r),
            writer: w,
            path: p,
        };
        qmp.read_message().await?; // greeting
        qmp.execute("qmp_capabilities", json!({})).await?;
        Ok(qmp)
    }

    async fn read_message(&mut self) -> Result<Value, QmpError> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self
                .reader
                .read_line(&mut line)
                .await
                .map_err(|source| QmpError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            if n == 0 {
                return Err(QmpError::Closed);
            }
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                return Ok(v);
            }
        }
    }

    pub async fn execute(&mut self, command: &str, arguments: Value) -> Result<Value, QmpError> {
        let msg = json!({"execute": command, "arguments": arguments});
        self.writer
            .write_all(format!("{msg}\n").as_bytes())
            .await
            .map_err(|source| QmpError::Io {
                path: self.path.clone(),
                source,
            })?;
        loop {
            let v = self.read_message().await?;
            if let Some(ret) = v.get("return") {
                return Ok(ret.clone());
            }
            if let Some(err) = v.get("error") {
                return Err(QmpError::Command {
                    command: command.to_string(),
                    message: err["desc"].as_str().unwrap_or("unknown").to_string(),
                });
            }
            // Anything else is an asynchronous event: skip it.
        }
    }

    /// Runs a human-monitor command; HMP reports failure only as text.
    pub async fn hmp(&mut self, command_line: &str, limit: Duration) -> Result<String, QmpError> {
        let fut = self.execute(
            "human-monitor-command",
            json!({"command-line": command_line}),
        );
        let out = tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| QmpError::Timeout(command_line.to_string()))??;
        let text = out.as_str().unwrap_or_default().to_string();
        if text.to_ascii_lowercase().contains("error") {
            return Err(QmpError::Command {
                command: command_line.to_string(),
                message: text.trim().to_string(),
            });
        }
        Ok(text)
    }

    /// Polls `query-migrate` until the migration (outgoing or incoming)
    /// completes; a failed or cancelled one is an error with QEMU's reason.
    pub async fn wait_migration(&mut self, limit: Duration) -> Result<(), QmpError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let st = self.execute("query-migrate", json!({})).await?;
            match st["status"].as_str().unwrap_or("") {
                "completed" => return Ok(()),
                s @ ("failed" | "cancelled") => {
                    return Err(QmpError::Command {
                        command: "migrate".into(),
                        message: format!(
                            "{s}: {}",
                            st["error-desc"].as_str().unwrap_or("no reason given")
                        ),
                    })
                }
                _ => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(QmpError::Timeout("migrate".into()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Presses the machine's reset button (`system_reset`), blocking: for a
/// caller that polls without a runtime to hand, such as a reboot's watch.
pub fn system_reset(path: &Path) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, Write};
    let stream = std::os::unix::net::UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut w = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?; // the greeting
    for cmd in ["qmp_capabilities", "system_reset"] {
        w.write_all(format!("{{\"execute\":\"{cmd}\"}}\n").as_bytes())?;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("QMP closed"));
            }
            if line.contains("\"return\"") {
                break;
            }
            if line.contains("\"error\"") {
                return Err(std::io::Error::other(line.trim().to_string()));
            }
        }
    }
    Ok(())
}
