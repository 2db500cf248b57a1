//! The deploy action and the demo: config files, the schema, and end-to-end runs through the CLI.

use std::path::PathBuf;

use deploy_tcb::config::{self, ConfigFile};

fn crate_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The committed schema is what the types generate. `DEPLOY_TCB_UPDATE_SCHEMA=1` rewrites it.
#[test]
fn config_schema_is_current() {
    let path = crate_path("schema/deploy-tcb.schema.json");
    let generated = config::schema_json();
    if std::env::var("DEPLOY_TCB_UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema/deploy-tcb.schema.json is out of date; run DEPLOY_TCB_UPDATE_SCHEMA=1 cargo test --test integration deploy::config_schema_is_current"
    );
}

/// Every example config parses, and each of its environments resolves.
#[test]
fn example_configs_parse() {
    let dir = crate_path("examples/config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            let config =
                ConfigFile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for name in config.environments.keys() {
                config.resolve(Some(name), "example").unwrap();
            }
            seen += 1;
        }
    }
    assert!(seen > 0, "no example config in {}", dir.display());
}
