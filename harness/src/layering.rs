//! The harness's modules import one another without cycles: the graph of
//! `crate::…` paths, read from the source, is checked here. A module is a
//! file (`driver/qemu/mod.rs` is `driver::qemu`); a path names the deepest
//! module it reaches. A module using its own parent or child is the tree
//! itself, not a cycle, and is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of `src`, with the modules it names.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(dir: &Path, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("src").flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                let mut pre = prefix.to_vec();
                pre.push(name);
                walk(&p, &pre, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let mut m = prefix.to_vec();
                if !matches!(name.as_str(), "mod" | "lib" | "main") {
                    m.push(name);
                }
                out.push((m, std::fs::read_to_string(&p).expect("read")));
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &[], &mut files);
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.join("::")).collect();
    let re = regex::Regex::new(r"crate::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*)").unwrap();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, text) in &files {
        let me = m.join("::");
        let deps = g.entry(me.clone()).or_default();
        // Tests may reach anywhere; the layering is about the code.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for c in re.captures_iter(code) {
            let parts: Vec<&str> = c[1].split("::").collect();
            let target = (1..=parts.len())
                .rev()
                .map(|n| parts[..n].join("::"))
                .find(|p| modules.contains(p));
            let Some(t) = target else { continue };
            let related = t == me
                || me.starts_with(&format!("{t}::"))
                || t.starts_with(&format!("{me}::"))
                || t.is_empty();
            if !related {
                deps.insert(t);
            }
        }
    }
    g
}

/// The cycles of `g`, each as the modules on it.
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Reachability by DFS from each node; a cycle is a node reaching itself.
    let mut found: Vec<Vec<String>> = Vec::new();
    for start in g.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in g.get(&node).into_iter().flatten() {
                if next == start {
                    let mut c = path.clone();
                    c.sort();
                    if !found.contains(&c) {
                        found.push(c);
                    }
                } else if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    found
}

#[test]
fn no_import_cycles_between_modules() {
    let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(g.contains_key("driver::qemu") || g.contains_key("driver"));
    let found = cycles(&g);
    assert!(found.is_empty(), "import cycles: {found:#?}");
    // And between the top-level modules (folders taken whole): the image
    // builder boots a VM, so it sits above the drivers, not inside `image`.
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let head = |m: &str| m.split("::").next().unwrap_or_default().to_string();
    for (m, deps) in &g {
        let e = top.entry(head(m)).or_default();
        e.extend(deps.iter().map(|d| head(d)).filter(|d| *d != head(m)));
    }
    let found = cycles(&top);
    assert!(
        found.is_empty(),
        "import cycles between top-level modules: {found:#?}"
    );
}

#[test]
fn the_checker_sees_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    g.entry("d".into()).or_default().insert("a".into());
    assert_eq!(
        cycles(&g),
        vec![vec!["a".to_string(), "b".into(), "c".into()]]
    );
}
