//! The running daemon's own answer: `GET /info` and `GET /version`.
//! Field names are the Engine API's; older daemons lack some, and a missing
//! field is "unknown", never a default.

use serde_json::Value;

#[derive(Debug, Clone, Copy, Default)]
pub struct Api<'a> {
    pub info: Option<&'a Value>,
    pub version: Option<&'a Value>,
}

/// The built-in insecure range every daemon reports; not the user's doing.
pub const BUILTIN_INSECURE_CIDRS: &[&str] = &["127.0.0.0/8", "::1/128"];

impl<'a> Api<'a> {
    pub fn new(info: Option<&'a Value>, version: Option<&'a Value>) -> Self {
        Api { info, version }
    }

    fn info_field(&self, key: &str) -> Option<&'a Value> {
        self.info?.get(key)
    }

    pub fn info_str(&self, key: &str) -> Option<&'a str> {
        self.info_field(key)?.as_str().filter(|s| !s.is_empty())
    }

    pub fn info_bool(&self, key: &str) -> Option<bool> {
        self.info_field(key)?.as_bool()
    }

    /// The engine version with the field it came from: `/version`'s
    /// `Version` (probe version 1), else `/info`'s `ServerVersion`.
    pub fn server_version_cited(&self) -> Option<(&'a str, &'static str)> {
        self.version
            .and_then(|v| v.get("Version"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|v| (v, "/version: Version"))
            .or_else(|| {
                self.info_str("ServerVersion")
                    .map(|v| (v, "/info: ServerVersion"))
            })
    }

    /// `SecurityOptions`: `name=seccomp,profile=builtin`, `name=userns`, …
    /// (old daemons print bare words like `seccomp`).
    pub fn security_options(&self) -> Option<Vec<&'a str>> {
        let arr = self.info_field("SecurityOptions")?.as_array()?;
        Some(arr.iter().filter_map(Value::as_str).collect())
    }

    /// `Some(profile)` when seccomp is listed, e.g. `builtin`, `default`,
    /// `unconfined` or a file path.
    pub fn seccomp_profile(&self) -> Option<Option<String>> {
        let opts = self.security_options()?;
        Some(opts.iter().find_map(|o| {
            let fields = security_option_fields(o);
            (fields.iter().any(|(k, v)| *k == "name" && *v == "seccomp")).then(|| {
                fields
                    .iter()
                    .find(|(k, _)| *k == "profile")
                    .map_or_else(|| "default".to_string(), |(_, v)| v.to_string())
            })
        }))
    }

    pub fn has_security_option(&self, name: &str) -> Option<bool> {
        let opts = self.security_options()?;
        Some(opts.iter().any(|o| {
            security_option_fields(o)
                .iter()
                .any(|(k, v)| *k == "name" && *v == name)
        }))
    }

    /// `Server.Experimental` from /version, else `ExperimentalBuild` from
    /// /info; with the label to cite.
    pub fn experimental(&self) -> Option<(bool, &'static str)> {
        if let Some(b) = self
            .version
            .and_then(|v| v.get("Experimental"))
            .and_then(Value::as_bool)
        {
            return Some((b, "/version: Experimental"));
        }
        self.info_bool("ExperimentalBuild")
            .map(|b| (b, "/info: ExperimentalBuild"))
    }

    /// `inactive`, `active`, `pending`, `error`, `locked`.
    pub fn swarm_state(&self) -> Option<&'a str> {
        self.info_field("Swarm")?
            .get("LocalNodeState")?
            .as_str()
            .filter(|s| !s.is_empty())
    }

    /// Insecure registries besides the built-in loopback ranges: CIDRs, and
    /// index entries marked not secure.
    pub fn insecure_registries(&self) -> Option<Vec<String>> {
        let reg = self.info_field("RegistryConfig")?;
        let mut out = Vec::new();
        if let Some(cidrs) = reg.get("InsecureRegistryCIDRs").and_then(Value::as_array) {
            for c in cidrs.iter().filter_map(Value::as_str) {
                if !BUILTIN_INSECURE_CIDRS.contains(&c) {
                    out.push(c.to_string());
                }
            }
        }
        if let Some(idx) = reg.get("IndexConfigs").and_then(Value::as_object) {
            for (name, cfg) in idx {
                if cfg.get("Secure").and_then(Value::as_bool) == Some(false) {
                    out.push(name.clone());
                }
            }
        }
        Some(out)
    }

    /// What shows that Podman answered instead of dockerd (podman-docker
    /// links the Docker socket to Podman's), to cite; `None` for a Docker
    /// engine. Podman's compat `/info` is Docker's struct plus its own
    /// fields, `BuildahVersion` first (pkg/api/handlers/types.go, in every
    /// Podman with that API); its `/version` names the component `Podman
    /// Engine`; podman-docker's `docker` runs `podman info`, whose JSON has
    /// `host.buildahVersion`.
    /// Markers rather than guesses from values: a dockerd may well keep its
    /// data under /var/lib/containers or report no process of its own.
    pub fn podman(&self) -> Option<String> {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("?").to_string();
        if let Some(info) = self.info {
            if info.get("BuildahVersion").is_some() {
                return Some(format!(
                    "/info has Podman's BuildahVersion {}, ServerVersion {}, DockerRootDir {}",
                    s(info.get("BuildahVersion")),
                    s(info.get("ServerVersion")),
                    s(info.get("DockerRootDir"))
                ));
            }
            if let Some(b) = info.get("host").and_then(|h| h.get("buildahVersion")) {
                return Some(format!(
                    "the docker CLI answered with `podman info`: host.buildahVersion {}, version.Version {}",
                    s(Some(b)),
                    s(info.get("version").and_then(|v| v.get("Version")))
                ));
            }
        }
        let components = self.version?.get("Components")?.as_array()?;
        components.iter().find_map(|c| {
            let name = c.get("Name")?.as_str()?;
            name.contains("Podman").then(|| {
                format!(
                    "/version names the component {name:?} {}",
                    s(c.get("Version"))
                )
            })
        })
    }

    /// `Plugins.Authorization` (null when none).
    pub fn authorization_plugins(&self) -> Option<Vec<String>> {
        let plugins = self.info_field("Plugins")?;
        Some(match plugins.get("Authorization") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        })
    }
}

/// `name=seccomp,profile=default` → [("name","seccomp"),("profile","default")];
/// a bare `seccomp` (pre-1.13 daemons) counts as its name.
fn security_option_fields(opt: &str) -> Vec<(&str, &str)> {
    opt.split(',')
        .map(|kv| kv.split_once('=').unwrap_or(("name", kv)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn security_options() {
        let info = json!({"SecurityOptions": ["name=apparmor", "name=seccomp,profile=builtin", "name=userns", "name=cgroupns"]});
        let api = Api::new(Some(&info), None);
        assert_eq!(api.seccomp_profile(), Some(Some("builtin".to_string())));
        assert_eq!(api.has_security_option("userns"), Some(true));
        assert_eq!(api.has_security_option("selinux"), Some(false));
        let old = json!({"SecurityOptions": ["apparmor", "seccomp"]});
        assert_eq!(
            Api::new(Some(&old), None).seccomp_profile(),
            Some(Some("default".to_string()))
        );
        let none = json!({"SecurityOptions": ["name=apparmor"]});
        assert_eq!(Api::new(Some(&none), None).seccomp_profile(), Some(None));
        assert_eq!(Api::default().seccomp_profile(), None);
    }

    #[test]
    fn insecure_registries_skip_builtin() {
        let info = json!({"RegistryConfig": {
            "InsecureRegistryCIDRs": ["127.0.0.0/8", "::1/128", "10.0.0.0/8"],
            "IndexConfigs": {"docker.io": {"Name": "docker.io", "Secure": true}, "gcr.azk8s.cn": {"Name": "gcr.azk8s.cn", "Secure": false}}
        }});
        assert_eq!(
            Api::new(Some(&info), None).insecure_registries().unwrap(),
            ["10.0.0.0/8", "gcr.azk8s.cn"]
        );
    }

    #[test]
    fn experimental_prefers_version() {
        let info = json!({"ExperimentalBuild": true});
        let ver = json!({"Version": "26.1.5", "Experimental": false});
        let api = Api::new(Some(&info), Some(&ver));
        assert_eq!(api.experimental(), Some((false, "/version: Experimental")));
        assert_eq!(
            Api::new(Some(&info), None).experimental(),
            Some((true, "/info: ExperimentalBuild"))
        );
        assert_eq!(
            api.server_version_cited(),
            Some(("26.1.5", "/version: Version"))
        );
        let info = json!({"ServerVersion": "26.1.5"});
        assert_eq!(
            Api::new(Some(&info), None).server_version_cited(),
            Some(("26.1.5", "/info: ServerVersion"))
        );
    }
}
