//! Commands on this machine, for `--local` and for tests of the runner.

use std::time::{Duration, Instant};

use super::ssh::{ExecOutput, SshError};

pub(super) async fn local_exec(
    command: &str,
    stdin: Option<&[u8]>,
    limit: Duration,
) -> Result<ExecOutput, SshError> {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let started = Instant::now();
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| SshError::Connect {
            target: "localhost".into(),
            source,
        })?;
    let mut input = child.stdin.take().expect("piped");
    let data = stdin.map(<[u8]>::to_vec).unwrap_or_default();
    tokio::spawn(async move {
        let _ = input.write_all(&data).await;
    });
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(ExecOutput {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            status: out.status.code().map(|c| c as u32).unwrap_or(255),
            duration: started.elapsed(),
        }),
        Ok(Err(source)) => Err(SshError::Connect {
            target: "localhost".into(),
            source,
        }),
        Err(_) => Err(SshError::CommandTimeout {
            command: command.to_string(),
            after: limit,
            stdout: String::new(),
            stderr: String::new(),
        }),
    }
}
