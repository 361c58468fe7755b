//! The house rule of `proxy/src/`: no import circle between its top-level modules. Read from the
//! sources (every `crate::name` outside a file's tests), so a new circle fails here before a
//! reader meets it. `cargo test -p gu1-kyc-proxy --test modules -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every top-level module of `proxy/src/` and the top-level modules its code names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = BTreeMap::new();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // A file's unit tests may use anything; the graph is the code's.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let deps: &mut BTreeSet<String> = graph.entry(top.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // `use crate::{a, b}` names several.
            if name.is_empty() {
                let list = &code[i + 7..];
                if let Some(list) = list.strip_prefix('{') {
                    let list = &list[..list.find('}').unwrap_or(0)];
                    for n in list.split(',') {
                        let n = n.trim().split("::").next().unwrap_or("").trim();
                        if !n.is_empty() && n != top {
                            deps.insert(n.to_owned());
                        }
                    }
                }
            } else if name != top {
                deps.insert(name);
            }
        }
    }
    graph
}

/// A circle through `start`, if there is one: the path back to it.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == start {
                let mut found = path.clone();
                found.push(next.clone());
                return Some(found);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let graph = graph();
    for (module, deps) in &graph {
        let deps: Vec<_> = deps.iter().map(String::as_str).collect();
        println!("{module:>10} -> {}", deps.join(", "));
    }
    assert!(graph.len() > 10, "the sources were not found: {graph:?}");
    let circles: Vec<_> = graph.keys().filter_map(|m| circle(&graph, m)).collect();
    assert!(circles.is_empty(), "import circles: {circles:?}");
    // Simulate-mode code stays out of production modules.
    for (module, deps) in &graph {
        assert!(
            module == "sim" || !deps.contains("sim"),
            "{module} imports sim"
        );
    }
}
