//! YAML errors as editors and CI annotations read them: `path:line:col: …`.

use std::path::Path;

/// Replaces serde-saphyr's `<input>` with the file's path, and puts
/// `path:line:column` first so editors and CI annotations can jump to it.
pub fn error_at(path: &Path, err: &serde_saphyr::Error) -> String {
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
