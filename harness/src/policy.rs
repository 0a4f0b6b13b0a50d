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

pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    serde_saphyr::from_str::<Policy>(&text)
        .map_err(|e| PolicyError::Parse(crate::yaml::error_at(path, &e)))
}
