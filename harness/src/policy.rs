//! Loading a policy file, with errors that point at file:line:column.

use std::path::Path;

use shipshape_checks::Policy;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Parse(String),
}

/// Replaces serde-saphyr's `<input>` with the file's path, and puts
/// `path:line:column` first so editors and CI annotations can jump to it.
pub fn yaml_error(path: &Path, err: &serde_saphyr::Error) -> String {
    let text = err
        .to_string()
        .replace("<input>", &path.display().to_string());
    let first = text.lines().next().unwrap_or_default();
    let loc = first.strip_prefix("error: line ").and_then(|rest| {
        let (line, rest) = rest.split_once(" column ")?;
        let (col, msg) = rest.split_once(": ")?;
        Some(format!("{}:{line}:{col}: {msg}", path.display()))
    });
    match loc {
        Some(head) => {
            let rest: Vec<&str> = text.lines().skip(1).collect();
            format!("{head}\n{}", rest.join("\n"))
        }
        None => format!("{}: {text}", path.display()),
    }
}

pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    serde_saphyr::from_str::<Policy>(&text).map_err(|e| PolicyError::Parse(yaml_error(path, &e)))
}
