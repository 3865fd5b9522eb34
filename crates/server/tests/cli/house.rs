//! The rules of the house (docs/design/architecture.md), read from `cargo metadata` and the
//! sources: a crate imports only crates on lower floors, crates on one floor never import each
//! other, every product crate has a floor, the test kit imports no product crate but `domain`,
//! and only `server` (and the stores themselves) name a concrete backend.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Each product crate's floor.
const FLOORS: &[(&str, u8)] = &[
    ("portcullis-domain", 0),
    ("portcullis-store", 1),
    ("portcullis-sessions", 1),
    ("portcullis-auth", 2),
    ("portcullis-signin", 3),
    ("portcullis-oidc", 3),
    ("portcullis-saml", 3),
    ("portcullis-broker", 3),
    ("portcullis-portal", 4),
    ("portcullis-admin", 4),
    ("portcullis", 5),
];
/// Beside the house: they drive it from outside and may not be imported by it.
const BESIDE: &[&str] = &["portcullis-testkit", "portcullis-bench", "portcullis-e2e"];
/// What names a concrete backend in code.
const BACKENDS: &[&str] = &[
    "portcullis_store::postgres",
    "portcullis_store::sqlite",
    "portcullis_sessions::redis",
    "portcullis_sessions::embedded",
    "PostgresDirectory",
    "SqliteDirectory",
    "RedisSessions",
    "EmbeddedSessions",
];
/// The crates that may name them: the backends' own crates and the wiring.
const MAY_NAME_BACKENDS: &[&str] = &["store", "sessions", "server"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Each workspace package and the workspace packages it depends on for its library and binary
/// (not its tests, which may use anything).
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let mut deps = BTreeMap::new();
    for package in meta["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().expect("name").to_owned();
        let normal = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null() && d["path"].is_string())
            .map(|d| d["name"].as_str().expect("dependency name").to_owned())
            .collect();
        deps.insert(name, normal);
    }
    deps
}

fn floor(name: &str) -> Option<u8> {
    FLOORS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

#[test]
fn every_crate_imports_only_lower_floors() {
    let deps = dependencies();
    let mut broken = Vec::new();
    for (name, uses) in &deps {
        if BESIDE.contains(&name.as_str()) {
            continue;
        }
        let Some(own) = floor(name) else {
            broken.push(format!("{name} has no floor: give it one in the house"));
            continue;
        };
        for dep in uses {
            match floor(dep) {
                Some(f) if f < own => {}
                Some(f) if f == own => {
                    broken.push(format!("{name} imports its sibling {dep} (floor {f})"))
                }
                Some(f) => broken.push(format!("{name} (floor {own}) imports {dep} (floor {f})")),
                None => broken.push(format!("{name} imports {dep}, which is beside the house")),
            }
        }
    }
    assert!(
        broken.is_empty(),
        "the house is broken:\n{}",
        broken.join("\n")
    );
    // The rule is checked against the crates that exist, not a list that could go stale.
    for (name, _) in FLOORS {
        assert!(
            deps.contains_key(*name),
            "{name} is in the house but not the workspace"
        );
    }
}

#[test]
fn the_test_kit_imports_no_product_crate_but_domain() {
    let deps = dependencies();
    let kit = deps.get("portcullis-testkit").expect("the test kit exists");
    let product: Vec<&String> = kit
        .iter()
        .filter(|d| floor(d).is_some_and(|f| f > 0))
        .collect();
    assert!(product.is_empty(), "testkit imports {product:?}");
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_server_names_a_concrete_backend() {
    let crates = workspace().join("crates");
    let mut named = Vec::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(&crates).expect("crates/").flatten() {
        let dir = entry.file_name().to_string_lossy().into_owned();
        let package = if dir == "server" {
            "portcullis".to_owned()
        } else {
            format!("portcullis-{dir}")
        };
        if MAY_NAME_BACKENDS.contains(&dir.as_str()) || floor(&package).is_none() {
            continue;
        }
        let mut files = Vec::new();
        sources(&entry.path().join("src"), &mut files);
        for file in files {
            checked += 1;
            let text = std::fs::read_to_string(&file).expect("read a source file");
            for backend in BACKENDS {
                if text.contains(backend) {
                    named.push(format!("{} names {backend}", file.display()));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} source files were read");
    assert!(named.is_empty(), "{}", named.join("\n"));
}
