//! The proxy's answers checked against its contract, `proxy/openapi.yaml`: the answer's status
//! must be one the operation documents, its required headers present and matching their
//! schemas, and its JSON body valid against the documented schema (JSON Schema 2020-12, the
//! dialect of OpenAPI 3.1, checked by the `jsonschema` crate).

use std::sync::OnceLock;

use serde_json::{json, Value};

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
        let text = std::fs::read_to_string(path).expect("proxy/openapi.yaml");
        serde_norway::from_str(&text).expect("proxy/openapi.yaml is YAML")
    })
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve(v: &Value) -> &Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => spec()
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => v,
    }
}

fn validate(schema: &Value, instance: &Value) -> Result<(), String> {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": spec()["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&root).map_err(|e| format!("bad schema: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Whether an answer to `method path` is one the contract documents.
pub fn check(
    method: &str,
    path: &str,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> Result<(), String> {
    let op = &spec()["paths"][path][method.to_ascii_lowercase()];
    if !op.is_object() {
        return Err(format!("the contract has no {method} {path}"));
    }
    let Some(resp) = op["responses"].get(status.to_string()).map(resolve) else {
        return Err(format!("the contract has no {status} for {method} {path}"));
    };
    if let Some(declared) = resp["headers"].as_object() {
        for (name, h) in declared {
            let h = resolve(h);
            match headers.get(name).map(|v| v.to_str().unwrap_or_default()) {
                None if h["required"] == json!(true) => {
                    return Err(format!("{status} {method} {path}: no {name} header"))
                }
                None => {}
                Some(v) => validate(&h["schema"], &json!(v))
                    .map_err(|e| format!("{status} {method} {path}: header {name}: {e}"))?,
            }
        }
    }
    if let Some(schema) = resp["content"]["application/json"].get("schema") {
        let value: Value = serde_json::from_str(body)
            .map_err(|_| format!("{status} {method} {path}: the body is not JSON: {body}"))?;
        validate(schema, &value).map_err(|e| format!("{status} {method} {path}: {e}: {body}"))?;
    }
    Ok(())
}

/// Panics unless the answer is one the contract documents.
#[track_caller]
pub fn assert(
    method: &str,
    path: &str,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) {
    if let Err(e) = check(method, path, status, headers, body) {
        panic!("against proxy/openapi.yaml: {e}");
    }
}
