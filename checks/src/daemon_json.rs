//! `daemon.json`: the file as read, parsed, and the fragments people paste
//! from `grep` (`"insecure-registries":[…],`).

use serde_json::{Map, Value};

/// daemon.json as the controls see it.
#[derive(Debug, Clone, PartialEq)]
pub enum DaemonJson {
    /// The probe could not tell (file not captured).
    Unknown,
    /// No file: dockerd uses its defaults (and is fine with that).
    Absent { path: String },
    /// Present but not a JSON object: dockerd will refuse to start.
    Invalid { path: String, error: String },
    Parsed {
        path: String,
        map: Map<String, Value>,
    },
}

impl DaemonJson {
    pub fn from_content(path: &str, exists: bool, content: Option<&str>) -> DaemonJson {
        let path = path.to_string();
        match (exists, content) {
            (false, _) => DaemonJson::Absent { path },
            (true, None) => DaemonJson::Unknown,
            // dockerd treats an empty file as no configuration.
            (true, Some(c)) if c.trim().is_empty() => DaemonJson::Parsed {
                path,
                map: Map::new(),
            },
            (true, Some(c)) => match serde_json::from_str::<Value>(c) {
                Ok(Value::Object(map)) => DaemonJson::Parsed { path, map },
                Ok(other) => DaemonJson::Invalid {
                    path,
                    error: format!("top level is {}, not an object", kind(&other)),
                },
                Err(e) => DaemonJson::Invalid {
                    path,
                    error: e.to_string(),
                },
            },
        }
    }

    pub fn path(&self) -> &str {
        match self {
            DaemonJson::Unknown => "daemon.json",
            DaemonJson::Absent { path }
            | DaemonJson::Invalid { path, .. }
            | DaemonJson::Parsed { path, .. } => path,
        }
    }

    /// The value of `key`; old spellings are looked up too (`graph` for
    /// `data-root`).
    pub fn get(&self, key: &str) -> Option<(&str, &Value)> {
        let DaemonJson::Parsed { map, .. } = self else {
            return None;
        };
        std::iter::once(key)
            .chain(aliases(key).iter().copied())
            .find_map(|k| map.get_key_value(k).map(|(k, v)| (k.as_str(), v)))
    }
}

fn aliases(key: &str) -> &'static [&'static str] {
    match key {
        "data-root" => &["graph"],
        _ => &[],
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `"key": value` as it would appear in the file, for evidence.
pub fn show(key: &str, v: &Value) -> String {
    format!("\"{key}\": {v}")
}

/// Parses what `grep key daemon.json` prints: one or more `"key": value`
/// members, maybe with a trailing comma, maybe a whole object.
pub fn parse_fragment(text: &str) -> Result<Map<String, Value>, String> {
    let t = text.trim().trim_end_matches(',').trim();
    let doc = if t.starts_with('{') {
        t.to_string()
    } else {
        format!("{{{t}}}")
    };
    match serde_json::from_str::<Value>(&doc) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("not a JSON object".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        assert!(matches!(
            DaemonJson::from_content("/d", false, None),
            DaemonJson::Absent { .. }
        ));
        assert!(matches!(
            DaemonJson::from_content("/d", true, Some("")),
            DaemonJson::Parsed { .. }
        ));
        assert!(matches!(
            DaemonJson::from_content("/d", true, Some("{\"a\":")),
            DaemonJson::Invalid { .. }
        ));
        assert!(matches!(
            DaemonJson::from_content("/d", true, Some("[]")),
            DaemonJson::Invalid { .. }
        ));
        let d = DaemonJson::from_content("/d", true, Some(r#"{"graph":"/data"}"#));
        assert_eq!(d.get("data-root").unwrap().0, "graph");
    }

    #[test]
    fn grep_fragments() {
        let m = parse_fragment(r#"     "insecure-registries":["a","b"],"#).unwrap();
        assert_eq!(m["insecure-registries"][1], "b");
        let m = parse_fragment(r#""userland-proxy": false,"#).unwrap();
        assert_eq!(m["userland-proxy"], false);
        assert!(parse_fragment("nonsense").is_err());
    }
}
