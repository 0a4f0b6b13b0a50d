//! `docker info` as people paste it (the human-readable text, whole or a
//! `grep`ped line), turned into the `/info` JSON shape so the same verdict
//! code reads both.

use serde_json::{json, Map, Value};

/// Converts `docker info` text into an `/info`-shaped object. Unknown lines
/// are skipped; the `Client:` section is ignored.
pub fn parse_docker_info_text(text: &str) -> Value {
    let mut info = Map::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut in_client = false;
    let mut security: Vec<String> = Vec::new();
    let mut insecure_cidrs: Vec<Value> = Vec::new();
    let mut index_configs = Map::new();
    let mut mirrors: Vec<Value> = Vec::new();
    let mut driver_status: Vec<Value> = Vec::new();
    let mut plugins = Map::new();
    let mut saw_registry = false;

    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        if indent == 0 && (t == "Client:" || t.starts_with("Client:")) {
            in_client = true;
            stack.clear();
            continue;
        }
        if indent == 0 && t == "Server:" {
            in_client = false;
            stack.clear();
            continue;
        }
        if in_client {
            continue;
        }
        let parent = stack.last().map(|(_, k)| k.as_str());
        match parent {
            Some("Security Options") => {
                if let Some(p) = t.strip_prefix("Profile:") {
                    if let Some(last) = security.last_mut() {
                        last.push_str(&format!(",profile={}", p.trim()));
                    }
                } else {
                    security.push(format!("name={t}"));
                }
                continue;
            }
            Some("Insecure Registries") => {
                saw_registry = true;
                if looks_like_cidr(t) {
                    insecure_cidrs.push(json!(t));
                } else {
                    index_configs.insert(t.to_string(), json!({"Name": t, "Secure": false}));
                }
                continue;
            }
            Some("Registry Mirrors") => {
                saw_registry = true;
                mirrors.push(json!(t));
                continue;
            }
            Some("Labels") => continue,
            _ => {}
        }
        let (key, value) = match t.split_once(':') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => continue,
        };
        match parent {
            Some("Storage Driver") => {
                driver_status.push(json!([key, value]));
                continue;
            }
            Some("Plugins") => {
                plugins.insert(
                    key.to_string(),
                    Value::Array(
                        value
                            .split_whitespace()
                            .map(|w| json!(w.trim_end_matches(',')))
                            .collect(),
                    ),
                );
                continue;
            }
            Some("Swarm") | Some("Containers") => continue,
            _ => {}
        }
        let as_bool = |v: &str| match v {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        };
        let mut put = |k: &str, v: Value| {
            info.insert(k.to_string(), v);
        };
        match key {
            "Server Version" => put("ServerVersion", json!(value)),
            "Storage Driver" => put("Driver", json!(value)),
            "Logging Driver" => put("LoggingDriver", json!(value)),
            "Cgroup Driver" => put("CgroupDriver", json!(value)),
            "Cgroup Version" => put("CgroupVersion", json!(value)),
            "Docker Root Dir" => put("DockerRootDir", json!(value)),
            "Kernel Version" => put("KernelVersion", json!(value)),
            "Operating System" => put("OperatingSystem", json!(value)),
            "Default Runtime" => put("DefaultRuntime", json!(value)),
            "Debug Mode" => {
                if let Some(b) = as_bool(value) {
                    put("Debug", b);
                }
            }
            "Experimental" => {
                if let Some(b) = as_bool(value) {
                    put("ExperimentalBuild", b);
                }
            }
            "Live Restore Enabled" => {
                if let Some(b) = as_bool(value) {
                    put("LiveRestoreEnabled", b);
                }
            }
            "Swarm" => put("Swarm", json!({"LocalNodeState": value})),
            _ => {}
        }
        if value.is_empty() || matches!(key, "Storage Driver" | "Swarm" | "Containers") {
            stack.push((indent, key.to_string()));
        }
    }

    if !security.is_empty() {
        info.insert("SecurityOptions".to_string(), json!(security));
    }
    if !driver_status.is_empty() {
        info.insert("DriverStatus".to_string(), Value::Array(driver_status));
    }
    if !plugins.is_empty() {
        info.insert("Plugins".to_string(), Value::Object(plugins));
    }
    if saw_registry {
        info.insert(
            "RegistryConfig".to_string(),
            json!({"InsecureRegistryCIDRs": insecure_cidrs, "IndexConfigs": index_configs, "Mirrors": mirrors}),
        );
    }
    Value::Object(info)
}

fn looks_like_cidr(s: &str) -> bool {
    match s.split_once('/') {
        Some((ip, bits)) => bits.parse::<u8>().is_ok() && (ip.parse::<std::net::IpAddr>().is_ok()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_grepped_line() {
        // `docker info |grep "Storage Driver:"` from the seed, verbatim.
        let v = parse_docker_info_text(" Storage Driver: overlay2");
        assert_eq!(v["Driver"], "overlay2");
    }

    #[test]
    fn nested_sections() {
        let text = "Client:\n Debug Mode: true\n\nServer:\n Storage Driver: overlay2\n  Backing Filesystem: extfs\n Plugins:\n  Volume: local\n  Authorization: opa-docker-authz\n Swarm: inactive\n Security Options:\n  apparmor\n  seccomp\n   Profile: builtin\n  userns\n Debug Mode: false\n Insecure Registries:\n  gcr.azk8s.cn\n  127.0.0.0/8\n Live Restore Enabled: true\n";
        let v = parse_docker_info_text(text);
        assert_eq!(
            v["Debug"], false,
            "the Client section's Debug Mode is not the server's"
        );
        assert_eq!(v["DriverStatus"][0][0], "Backing Filesystem");
        assert_eq!(v["Plugins"]["Authorization"][0], "opa-docker-authz");
        assert_eq!(v["Swarm"]["LocalNodeState"], "inactive");
        assert_eq!(
            v["SecurityOptions"],
            json!([
                "name=apparmor",
                "name=seccomp,profile=builtin",
                "name=userns"
            ])
        );
        assert_eq!(
            v["RegistryConfig"]["InsecureRegistryCIDRs"],
            json!(["127.0.0.0/8"])
        );
        assert_eq!(
            v["RegistryConfig"]["IndexConfigs"]["gcr.azk8s.cn"]["Secure"],
            false
        );
        assert_eq!(v["LiveRestoreEnabled"], true);
    }
}
