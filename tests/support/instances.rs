//! The instance folders a driver leaves under the cache, for tests that
//! check a run cleaned up after itself.

use shipshape_harness::paths::Home;

/// Names of the folders under the instances folder that start with `prefix`.
pub fn named(home: &Home, prefix: &str) -> Vec<String> {
    std::fs::read_dir(home.instances())
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}
