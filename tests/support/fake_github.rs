//! A fake GitHub REST server for tests: in-process (axum on 127.0.0.1, port 0, its own thread
//! and runtime, so sync tests that run the binary can use it too), with simple state so that
//! read-after-write works, and realistic answers built from the examples in GitHub's own API
//! description.
//!
//! Every request is recorded and validated against GitHub's OpenAPI description: the subset in
//! `../shared/spec/github/rest-subset.openapi.json`, extracted from npm `@octokit/openapi`
//! 23.0.2 (GitHub's official description plus the Octokit extension). Method and path must be
//! an operation of the description, path and query parameters must match their schemas,
//! unknown query parameters are refused, and JSON bodies are validated with the `jsonschema`
//! crate (OpenAPI 3.0 schemas are draft-4 JSON Schema plus `nullable`, converted on load).
//! The required headers (`Authorization: Bearer`, `Accept: application/vnd.github+json`,
//! `X-GitHub-Api-Version: 2022-11-28`) are checked too. Anything wrong is a *violation*; tests
//! call [`FakeGithub::assert_no_violations`]. Answers are validated against the description's
//! response schemas as well, and a mismatch (a bug in this fake) is a violation too.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use jsonschema::Validator;
use regex::Regex;
use serde_json::{Map, Value, json};
use sha2::Digest;

// ---------------------------------------------------------------------------------------------
// The API description, compiled once per test binary.
// ---------------------------------------------------------------------------------------------

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum In {
    Path,
    Query,
}

struct Param {
    name: String,
    location: In,
    required: bool,
    kind: String,
    validator: Validator,
}

/// One operation of the description.
pub struct Operation {
    pub id: String,
    pub method: Method,
    pub template: String,
    regex: Regex,
    path_names: Vec<String>,
    literal_len: usize,
    params: Vec<Param>,
    body: Option<Validator>,
    body_required: bool,
    responses: HashMap<u16, Validator>,
}

/// The compiled description: operations and the named examples.
pub struct Spec {
    pub operations: Vec<Operation>,
    examples: Map<String, Value>,
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    doc.pointer(reference.trim_start_matches('#'))
        .unwrap_or_else(|| panic!("dangling $ref {reference}"))
}

/// Inlines `$ref`s (a cycle becomes `{}`) and turns OpenAPI's `nullable: true` into a JSON
/// Schema union with null.
fn to_json_schema(value: &Value, doc: &Value, stack: &mut Vec<String>) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                if stack.contains(reference) {
                    return json!({});
                }
                stack.push(reference.clone());
                let out = to_json_schema(resolve(doc, reference), doc, stack);
                stack.pop();
                return out;
            }
            let mut out: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "example" | "examples" | "description"))
                .map(|(k, v)| (k.clone(), to_json_schema(v, doc, stack)))
                .collect();
            if out.remove("nullable") == Some(Value::Bool(true)) {
                return json!({"anyOf": [Value::Object(out), {"type": "null"}]});
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| to_json_schema(v, doc, stack))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn compile(schema: &Value, doc: &Value) -> Validator {
    let schema = to_json_schema(schema, doc, &mut Vec::new());
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

fn deref<'a>(value: &'a Value, doc: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => deref(resolve(doc, reference), doc),
        None => value,
    }
}

fn compile_operation(template: &str, method: &str, op: &Value, doc: &Value) -> Operation {
    let mut params = Vec::new();
    let mut multi_segment = Vec::new();
    for param in op["parameters"].as_array().into_iter().flatten() {
        let param = deref(param, doc);
        let location = match param["in"].as_str() {
            Some("path") => In::Path,
            Some("query") => In::Query,
            _ => continue,
        };
        let name = param["name"].as_str().unwrap_or_default().to_string();
        if param["x-multi-segment"] == json!(true) {
            multi_segment.push(name.clone());
        }
        let schema = param.get("schema").cloned().unwrap_or(json!({}));
        params.push(Param {
            kind: deref(&schema, doc)["type"]
                .as_str()
                .unwrap_or("string")
                .to_string(),
            validator: compile(&schema, doc),
            required: param["required"] == json!(true),
            location,
            name,
        });
    }
    let mut path_names = Vec::new();
    let mut pattern = String::from("^");
    let mut literal_len = 0;
    for piece in Regex::new(r"\{([^}]+)\}|[^{]+")
        .unwrap()
        .captures_iter(template)
    {
        match piece.get(1) {
            Some(name) => {
                path_names.push(name.as_str().to_string());
                let greedy = multi_segment.iter().any(|m| m == name.as_str());
                pattern.push_str(if greedy { "(.+)" } else { "([^/]+)" });
            }
            None => {
                literal_len += piece[0].len();
                pattern.push_str(&regex::escape(&piece[0]));
            }
        }
    }
    pattern.push('$');
    let request_body = op.get("requestBody").map(|b| deref(b, doc));
    let body = request_body
        .and_then(|b| b.pointer("/content/application~1json/schema"))
        .map(|schema| compile(schema, doc));
    let mut responses = HashMap::new();
    for (code, response) in op["responses"].as_object().into_iter().flatten() {
        let response = deref(response, doc);
        if let (Ok(code), Some(schema)) = (
            code.parse::<u16>(),
            response.pointer("/content/application~1json/schema"),
        ) {
            responses.insert(code, compile(schema, doc));
        }
    }
    Operation {
        id: op["operationId"].as_str().unwrap_or_default().to_string(),
        method: method.to_uppercase().parse().unwrap(),
        template: template.to_string(),
        regex: Regex::new(&pattern).unwrap(),
        path_names,
        literal_len,
        params,
        body,
        body_required: request_body.is_some_and(|b| b["required"] == json!(true)),
        responses,
    }
}

impl Spec {
    /// Compiles the description at `path`.
    pub fn load(path: &Path) -> Spec {
        Spec::load_paths(path, None)
    }

    /// Compiles the operations of the description at `path` whose path templates are in
    /// `only` (all when `None`): a full description (thousands of operations) is cut down to
    /// the paths a test exercises.
    pub fn load_paths(path: &Path, only: Option<&[String]>) -> Spec {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let doc: Value = serde_json::from_str(&text).expect("the description is JSON");
        let mut operations = Vec::new();
        for (template, item) in doc["paths"].as_object().expect("paths") {
            if only.is_some_and(|only| !only.contains(template)) {
                continue;
            }
            for (method, op) in item.as_object().expect("path item") {
                if matches!(method.as_str(), "get" | "post" | "patch" | "put" | "delete") {
                    operations.push(compile_operation(template, method, op, &doc));
                }
            }
        }
        let examples = doc["components"]["examples"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        Spec {
            operations,
            examples,
        }
    }

    /// The path templates of the description at `path`.
    pub fn path_templates(path: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(path).expect("the description is readable");
        let doc: Value = serde_json::from_str(&text).expect("the description is JSON");
        doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .cloned()
            .collect()
    }

    /// The description at `path` (restricted to `only`), compiled once per test binary.
    pub fn cached(path: &Path, only: Option<&[String]>) -> Arc<Spec> {
        type Key = (std::path::PathBuf, Option<Vec<String>>);
        static SPECS: OnceLock<Mutex<HashMap<Key, Arc<Spec>>>> = OnceLock::new();
        let specs = SPECS.get_or_init(Default::default);
        let mut specs = specs.lock().unwrap_or_else(|e| e.into_inner());
        specs
            .entry((path.to_path_buf(), only.map(<[String]>::to_vec)))
            .or_insert_with(|| Arc::new(Spec::load_paths(path, only)))
            .clone()
    }

    /// The description in `../shared`, compiled once per test binary.
    pub fn shared(path: &Path) -> Arc<Spec> {
        Spec::cached(path, None)
    }

    /// An example body from the description (`check-run`, `release-items`…).
    pub fn example(&self, name: &str) -> Value {
        self.examples
            .get(name)
            .and_then(|e| e.get("value"))
            .cloned()
            .unwrap_or_else(|| panic!("no example `{name}` in the description"))
    }

    /// The operation for a method and path: the most literal template that matches wins
    /// (`/releases/latest` before `/releases/{release_id}`). `Err` says why nothing matched.
    fn find(
        &self,
        method: &Method,
        path: &str,
    ) -> Result<(&Operation, HashMap<String, String>), String> {
        let mut candidates: Vec<&Operation> = self
            .operations
            .iter()
            .filter(|op| op.regex.is_match(path))
            .collect();
        if candidates.is_empty() {
            return Err(format!("{method} {path}: no such path in the description"));
        }
        candidates.retain(|op| op.method == *method);
        candidates.sort_by_key(|op| std::cmp::Reverse(op.literal_len));
        let op = candidates
            .first()
            .ok_or_else(|| format!("{method} {path}: the path exists but not with {method}"))?;
        let captures = op.regex.captures(path).expect("matched above");
        let params = op
            .path_names
            .iter()
            .zip(captures.iter().skip(1))
            .map(|(name, value)| {
                let raw = value.map_or("", |m| m.as_str());
                (name.clone(), percent_decode(raw))
            })
            .collect();
        Ok((op, params))
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// A parameter value as its schema's type (query and path values arrive as strings).
fn typed(kind: &str, raw: &str) -> Value {
    match kind {
        "integer" => raw.parse::<i64>().map(Value::from).unwrap_or(json!(raw)),
        "number" => raw.parse::<f64>().map(Value::from).unwrap_or(json!(raw)),
        "boolean" => raw.parse::<bool>().map(Value::from).unwrap_or(json!(raw)),
        _ => json!(raw),
    }
}

fn schema_errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at `{}`", e, e.instance_path()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Recorded traffic, state and faults.
// ---------------------------------------------------------------------------------------------

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub operation: Option<String>,
    pub body: Option<Value>,
    /// The `Authorization` header, if any (tests check the token is sent only there).
    pub authorization: Option<String>,
    pub status: u16,
}

/// An answer to force on the next matching requests (retry and error tests).
#[derive(Debug, Clone)]
pub struct Fault {
    /// Operation id to match (`checks/create`), or `None` for any request.
    pub operation: Option<String>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Fault {
    pub fn status(status: u16, message: &str) -> Fault {
        Fault {
            operation: None,
            status,
            headers: Vec::new(),
            body: json!({"message": message, "documentation_url": "https://docs.github.com/rest"}),
        }
    }

    /// GitHub's secondary rate limit answer: 403 with `Retry-After`.
    pub fn secondary_rate_limit(retry_after_secs: u64) -> Fault {
        let mut fault = Fault::status(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        );
        fault
            .headers
            .push(("retry-after".into(), retry_after_secs.to_string()));
        fault
    }

    pub fn on(mut self, operation: &str) -> Fault {
        self.operation = Some(operation.to_string());
        self
    }
}

#[derive(Default)]
struct StateInner {
    next_id: u64,
    requests: Vec<Recorded>,
    violations: Vec<String>,
    faults: VecDeque<Fault>,
    comments: BTreeMap<u64, (u64, Value)>,
    check_runs: BTreeMap<u64, Value>,
    annotations: BTreeMap<u64, Vec<Value>>,
    statuses: Vec<(String, Value)>,
    deployments: BTreeMap<u64, Value>,
    deployment_statuses: BTreeMap<u64, Vec<Value>>,
    releases: BTreeMap<u64, Value>,
    refs: BTreeMap<String, (String, String)>,
    tags: BTreeMap<String, Value>,
    pulls: HashMap<String, Vec<Value>>,
    sarifs: BTreeMap<String, Value>,
    /// Changed files by `base...head`, as GitHub's diff entries.
    compares: HashMap<String, Vec<Value>>,
}

impl StateInner {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        1000 + self.next_id
    }
}

struct Shared {
    spec: Arc<Spec>,
    token: String,
    prefix: String,
    owner: String,
    repo: String,
    state: Mutex<StateInner>,
}

/// The running fake. Dropping it stops the server.
pub struct FakeGithub {
    base_url: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The token the fake accepts by default.
pub const TOKEN: &str = "ghs_fakeGithubToken0123456789";

impl FakeGithub {
    /// Starts the fake for `acme/shop` at the root (like api.github.com), validating against
    /// the description at `spec_path`.
    pub fn start(spec_path: &Path) -> FakeGithub {
        FakeGithub::start_with(spec_path, "")
    }

    /// Starts the fake under a path prefix, the way GitHub Enterprise Server serves the API
    /// (`/api/v3`).
    pub fn start_with(spec_path: &Path, prefix: &str) -> FakeGithub {
        FakeGithub::start_with_spec(Spec::shared(spec_path), prefix)
    }

    /// Starts the fake on an already compiled description (e.g. a GHES one) under `prefix`.
    pub fn start_with_spec(spec: Arc<Spec>, prefix: &str) -> FakeGithub {
        let shared = Arc::new(Shared {
            spec,
            token: TOKEN.to_string(),
            prefix: prefix.trim_end_matches('/').to_string(),
            owner: "acme".into(),
            repo: "shop".into(),
            state: Mutex::new(StateInner::default()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let base_url = format!("http://{}{}", listener.local_addr().unwrap(), shared.prefix);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        FakeGithub {
            base_url,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The API base URL to hand to the client as `GITHUB_API_URL`.
    pub fn url(&self) -> &str {
        &self.base_url
    }

    /// `acme/shop`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.shared.owner, self.shared.repo)
    }

    fn with<T>(&self, f: impl FnOnce(&mut StateInner) -> T) -> T {
        f(&mut self.shared.state.lock().unwrap())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    /// The requests for one operation id, in order.
    pub fn requests_for(&self, operation: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.operation.as_deref() == Some(operation))
            .collect()
    }

    pub fn violations(&self) -> Vec<String> {
        self.with(|s| s.violations.clone())
    }

    /// Fails the test with every violation listed.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "requests that GitHub's API description does not allow:\n{}",
            violations.join("\n")
        );
    }

    /// Answers the next matching request with `fault` instead of serving it.
    pub fn inject(&self, fault: Fault) {
        self.with(|s| s.faults.push_back(fault));
    }

    /// Makes `GET /commits/{sha}/pulls` return these PRs: `(number, title, author login)`.
    pub fn seed_pull_requests(&self, sha: &str, prs: &[(u64, &str, &str)]) {
        let template = self.shared.spec.example("pull-request-simple-items")[0].clone();
        let list = prs
            .iter()
            .map(|(number, title, login)| {
                let mut pr = template.clone();
                pr["number"] = json!(number);
                pr["title"] = json!(title);
                pr["html_url"] = json!(format!("https://github.com/acme/shop/pull/{number}"));
                pr["user"]["login"] = json!(login);
                pr["merged_at"] = json!("2026-01-02T03:04:05Z");
                // The description's own example lacks `type` on its team, which its schema requires.
                pr["requested_teams"] = json!([]);
                pr
            })
            .collect();
        self.with(|s| s.pulls.insert(sha.to_string(), list));
    }

    /// Makes `GET /compare/{base}...{head}` answer with these changed files: `(filename,
    /// patch)`, where no patch is a binary file (GitHub leaves `patch` out). Comparisons not
    /// registered are 404, as for commits GitHub does not know.
    pub fn with_compare(&self, base: &str, head: &str, files: &[(&str, Option<&str>)]) {
        let entries = files
            .iter()
            .map(|(name, patch)| diff_entry(name, *patch, head))
            .collect();
        self.with(|s| s.compares.insert(format!("{base}...{head}"), entries));
    }

    /// Creates a ref (`tags/v1`, `heads/main`) pointing at a commit.
    pub fn seed_ref(&self, short: &str, sha: &str) {
        self.with(|s| {
            s.refs.insert(
                format!("refs/{short}"),
                (sha.to_string(), "commit".to_string()),
            )
        });
    }

    /// Adds a comment by someone else to an issue or PR.
    pub fn seed_comment(&self, issue: u64, body: &str) -> u64 {
        let comment = self.comment_body(body);
        self.with(|s| {
            let id = s.id();
            let mut comment = comment;
            comment["id"] = json!(id);
            s.comments.insert(id, (issue, comment));
            id
        })
    }

    fn comment_body(&self, body: &str) -> Value {
        let mut comment = self.shared.spec.example("issue-comment");
        comment["body"] = json!(body);
        comment
    }

    /// Bodies of the comments on an issue or PR, oldest first.
    pub fn comment_bodies(&self, issue: u64) -> Vec<String> {
        self.with(|s| {
            s.comments
                .values()
                .filter(|(n, _)| *n == issue)
                .map(|(_, c)| c["body"].as_str().unwrap_or_default().to_string())
                .collect()
        })
    }

    pub fn check_run(&self, id: u64) -> Option<Value> {
        self.with(|s| s.check_runs.get(&id).cloned())
    }

    /// Every annotation sent for a check run, in order.
    pub fn annotations(&self, id: u64) -> Vec<Value> {
        self.with(|s| s.annotations.get(&id).cloned().unwrap_or_default())
    }

    /// Commit statuses as `(sha, status)`.
    pub fn commit_statuses(&self) -> Vec<(String, Value)> {
        self.with(|s| s.statuses.clone())
    }

    /// States of a deployment's statuses, oldest first.
    pub fn deployment_states(&self, id: u64) -> Vec<String> {
        self.with(|s| {
            s.deployment_statuses
                .get(&id)
                .map(|list| {
                    list.iter()
                        .map(|st| st["state"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    pub fn releases(&self) -> Vec<Value> {
        self.with(|s| s.releases.values().cloned().collect())
    }

    /// Refs as `full name → (sha, object type)`.
    pub fn refs(&self) -> BTreeMap<String, (String, String)> {
        self.with(|s| s.refs.clone())
    }

    /// The SARIF documents uploaded to code scanning, decoded.
    pub fn sarif_uploads(&self) -> Vec<Value> {
        self.with(|s| s.sarifs.values().cloned().collect())
    }

    /// The tag object a sha names, if one was created.
    pub fn tag_object(&self, sha: &str) -> Option<Value> {
        self.with(|s| s.tags.get(sha).cloned())
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request handling: validate, record, serve.
// ---------------------------------------------------------------------------------------------

type Answer = (u16, Option<Value>);

fn message(status: u16, text: &str) -> Answer {
    (
        status,
        Some(json!({"message": text, "documentation_url": "https://docs.github.com/rest"})),
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Header problems: a missing `Authorization` is a violation; a wrong token is GitHub's 401.
fn check_headers(
    shared: &Shared,
    headers: &HeaderMap,
    violations: &mut Vec<String>,
) -> Option<Answer> {
    let accept = header(headers, "accept").unwrap_or_default();
    if !accept.contains("application/vnd.github+json") {
        violations.push(format!(
            "Accept is `{accept}`, not application/vnd.github+json"
        ));
    }
    match header(headers, "x-github-api-version") {
        Some("2022-11-28") => {}
        other => violations.push(format!("X-GitHub-Api-Version is {other:?}, not 2022-11-28")),
    }
    if header(headers, "user-agent").is_none() {
        violations.push("no User-Agent (GitHub rejects requests without one)".into());
    }
    match header(headers, "authorization") {
        None => {
            violations.push("no Authorization header".into());
            Some(message(401, "Requires authentication"))
        }
        Some(value) if value == format!("Bearer {}", shared.token) => None,
        Some(_) => Some(message(401, "Bad credentials")),
    }
}

/// Path, query and body checks against the operation.
fn check_request(
    op: &Operation,
    path_params: &HashMap<String, String>,
    query: &[(String, String)],
    content_type: Option<&str>,
    body: &[u8],
    violations: &mut Vec<String>,
) -> Option<Value> {
    let label = format!("{} {} ({})", op.method, op.template, op.id);
    for param in &op.params {
        let value = match param.location {
            In::Path => path_params.get(&param.name).cloned(),
            In::Query => query
                .iter()
                .find(|(k, _)| *k == param.name)
                .map(|(_, v)| v.clone()),
        };
        match value {
            None if param.required => violations.push(format!(
                "{label}: required parameter `{}` missing",
                param.name
            )),
            None => {}
            Some(raw) => {
                for error in schema_errors(&param.validator, &typed(&param.kind, &raw)) {
                    violations.push(format!("{label}: parameter `{}`: {error}", param.name));
                }
            }
        }
    }
    for (name, _) in query {
        if !op
            .params
            .iter()
            .any(|p| p.location == In::Query && p.name == *name)
        {
            violations.push(format!("{label}: unknown query parameter `{name}`"));
        }
    }
    if body.is_empty() {
        if op.body_required {
            violations.push(format!("{label}: the request body is required"));
        }
        return None;
    }
    let Some(validator) = &op.body else {
        violations.push(format!("{label}: takes no request body"));
        return None;
    };
    if !content_type
        .unwrap_or_default()
        .starts_with("application/json")
    {
        violations.push(format!(
            "{label}: Content-Type is {content_type:?}, not application/json"
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(json) => {
            for error in schema_errors(validator, &json) {
                violations.push(format!("{label}: body: {error}"));
            }
            Some(json)
        }
        Err(e) => {
            violations.push(format!("{label}: the body is not JSON: {e}"));
            None
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut violations = Vec::new();
    let full_path = uri.path().to_string();
    let query = parse_query(uri.query().unwrap_or_default());
    let path = match full_path.strip_prefix(&shared.prefix) {
        Some(path) if !path.is_empty() => path.to_string(),
        _ => {
            violations.push(format!(
                "{full_path}: outside the API prefix `{}`",
                shared.prefix
            ));
            full_path.clone()
        }
    };
    let mut recorded = Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        operation: None,
        body: serde_json::from_slice(&body).ok(),
        authorization: header(&headers, "authorization").map(str::to_string),
        status: 0,
    };
    let auth_failure = check_headers(&shared, &headers, &mut violations);
    let (answer, extra_headers) = match shared.spec.find(&method, &path) {
        Err(problem) => {
            violations.push(problem);
            (message(404, "Not Found"), Vec::new())
        }
        Ok((op, params)) => {
            recorded.operation = Some(op.id.clone());
            let json = check_request(
                op,
                &params,
                &query,
                header(&headers, "content-type"),
                &body,
                &mut violations,
            );
            let fault = {
                let mut state = shared.state.lock().unwrap();
                let index = state
                    .faults
                    .iter()
                    .position(|f| f.operation.as_deref().is_none_or(|o| o == op.id));
                index.and_then(|i| state.faults.remove(i))
            };
            match (auth_failure, fault) {
                (Some(answer), _) => (answer, Vec::new()),
                (None, Some(fault)) => ((fault.status, Some(fault.body)), fault.headers),
                (None, None) if !violations.is_empty() => {
                    (message(422, "Invalid request."), Vec::new())
                }
                (None, None) => {
                    let answer = serve(
                        &shared,
                        &op.id,
                        &params,
                        &query,
                        json.unwrap_or(Value::Null),
                    );
                    let validator = op.responses.get(&answer.0);
                    if let (Some(validator), Some(body)) = (validator, &answer.1) {
                        for error in schema_errors(validator, body) {
                            violations
                                .push(format!("fake bug: {} answer {}: {error}", op.id, answer.0));
                        }
                    }
                    (answer, Vec::new())
                }
            }
        }
    };
    recorded.status = answer.0;
    {
        let mut state = shared.state.lock().unwrap();
        state.requests.push(recorded);
        state.violations.extend(violations);
    }
    let mut response = match answer.1 {
        Some(body) => (StatusCode::from_u16(answer.0).unwrap(), axum::Json(body)).into_response(),
        None => StatusCode::from_u16(answer.0).unwrap().into_response(),
    };
    for (name, value) in extra_headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A 40-hex "sha" derived from content, for objects the fake creates.
fn fake_sha(seed: &str) -> String {
    hex::encode(sha2::Sha256::digest(seed.as_bytes()))[..40].to_string()
}

fn page(items: &[Value], query: &[(String, String)]) -> Vec<Value> {
    let get = |name: &str, default: usize| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(default)
    };
    let per_page = get("per_page", 30).clamp(1, 100);
    let page = get("page", 1).max(1);
    items
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect()
}

fn param_u64(params: &HashMap<String, String>, name: &str) -> u64 {
    params.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Serves a valid request from the state.
fn serve(
    shared: &Shared,
    operation: &str,
    params: &HashMap<String, String>,
    query: &[(String, String)],
    body: Value,
) -> Answer {
    let spec = &shared.spec;
    let mut state = shared.state.lock().unwrap();
    let s = &mut *state;
    match operation {
        "rate_limit/get" => (200, Some(spec.example("rate-limit-overview"))),
        "checks/create" | "checks/update" => check_run_write(spec, s, operation, params, body),
        "checks/get" => match s.check_runs.get(&param_u64(params, "check_run_id")) {
            Some(run) => (200, Some(run.clone())),
            None => message(404, "Not Found"),
        },
        "checks/list-annotations" => {
            let all = s
                .annotations
                .get(&param_u64(params, "check_run_id"))
                .cloned()
                .unwrap_or_default();
            (200, Some(Value::Array(page(&all, query))))
        }
        "repos/create-commit-status" => {
            let mut status = spec.example("status");
            let id = s.id();
            for key in ["state", "description", "target_url"] {
                status[key] = body.get(key).cloned().unwrap_or(Value::Null);
            }
            status["id"] = json!(id);
            status["context"] = body.get("context").cloned().unwrap_or(json!("default"));
            status["created_at"] = json!(now());
            status["updated_at"] = json!(now());
            s.statuses.push((params["sha"].clone(), status.clone()));
            (201, Some(status))
        }
        "issues/list-comments" => {
            let issue = param_u64(params, "issue_number");
            let all: Vec<Value> = s
                .comments
                .values()
                .filter(|(n, _)| *n == issue)
                .map(|(_, c)| c.clone())
                .collect();
            (200, Some(Value::Array(page(&all, query))))
        }
        "issues/create-comment" => {
            let issue = param_u64(params, "issue_number");
            let id = s.id();
            let mut comment = spec.example("issue-comment");
            comment["id"] = json!(id);
            comment["body"] = body["body"].clone();
            comment["html_url"] = json!(format!(
                "https://github.com/acme/shop/pull/{issue}#issuecomment-{id}"
            ));
            comment["created_at"] = json!(now());
            comment["updated_at"] = json!(now());
            s.comments.insert(id, (issue, comment.clone()));
            (201, Some(comment))
        }
        "issues/get-comment" | "issues/update-comment" | "issues/delete-comment" => {
            let id = param_u64(params, "comment_id");
            let Some((_, comment)) = s.comments.get_mut(&id) else {
                return message(404, "Not Found");
            };
            match operation {
                "issues/update-comment" => {
                    comment["body"] = body["body"].clone();
                    comment["updated_at"] = json!(now());
                    (200, Some(comment.clone()))
                }
                "issues/delete-comment" => {
                    s.comments.remove(&id);
                    (204, None)
                }
                _ => (200, Some(comment.clone())),
            }
        }
        op if op.contains("deployment") => deployments(spec, s, op, params, query, body),
        op if op.contains("release") => releases(spec, s, op, params, query, body),
        op if op.starts_with("git/") => git(spec, s, op, params, body),
        "code-scanning/upload-sarif" => upload_sarif(s, body),
        "code-scanning/get-sarif" => match s.sarifs.contains_key(&params["sarif_id"]) {
            true => {
                let mut status = spec.example("code-scanning-sarif-upload-status");
                status["analyses_url"] = json!(format!(
                    "https://api.github.com/repos/acme/shop/code-scanning/analyses?sarif_id={}",
                    params["sarif_id"]
                ));
                (200, Some(status))
            }
            false => message(404, "Not Found"),
        },
        "repos/compare-commits" => compare(spec, s, params, query),
        "repos/list-pull-requests-associated-with-commit" => {
            let list = s
                .pulls
                .get(&params["commit_sha"])
                .cloned()
                .unwrap_or_default();
            (200, Some(Value::Array(page(&list, query))))
        }
        other => message(501, &format!("the fake does not serve {other}")),
    }
}

/// One file of a comparison, in GitHub's `diff-entry` shape, with counts from the patch.
fn diff_entry(name: &str, patch: Option<&str>, head: &str) -> Value {
    let count = |sign: char| patch.map_or(0, |p| p.lines().filter(|l| l.starts_with(sign)).count());
    let (additions, deletions) = (count('+'), count('-'));
    let status = match patch {
        Some(p) if p.starts_with("@@ -0,0 ") => "added",
        _ => "modified",
    };
    let mut entry = json!({
        "sha": fake_sha(&format!("{name} {patch:?}")),
        "filename": name,
        "status": status,
        "additions": additions,
        "deletions": deletions,
        "changes": additions + deletions,
        "blob_url": format!("https://github.com/acme/shop/blob/{head}/{name}"),
        "raw_url": format!("https://github.com/acme/shop/raw/{head}/{name}"),
        "contents_url": format!("https://api.github.com/repos/acme/shop/contents/{name}?ref={head}"),
    });
    if let Some(patch) = patch {
        entry["patch"] = json!(patch);
    }
    entry
}

/// A comparison from the registered files; the commits, like GitHub's, are paged.
fn compare(
    spec: &Spec,
    s: &StateInner,
    params: &HashMap<String, String>,
    query: &[(String, String)],
) -> Answer {
    let basehead = &params["basehead"];
    let Some(files) = s.compares.get(basehead) else {
        return message(404, "Not Found");
    };
    let mut comparison = spec.example("commit-comparison");
    let commits = comparison["commits"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    comparison["commits"] = Value::Array(page(&commits, query));
    comparison["status"] = json!("ahead");
    comparison["behind_by"] = json!(0);
    for key in ["url", "html_url", "diff_url", "patch_url"] {
        let base = if key == "url" {
            "https://api.github.com/repos/acme/shop/compare"
        } else {
            "https://github.com/acme/shop/compare"
        };
        let suffix = match key {
            "diff_url" => ".diff",
            "patch_url" => ".patch",
            _ => "",
        };
        comparison[key] = json!(format!("{base}/{basehead}{suffix}"));
    }
    comparison["files"] = Value::Array(files.clone());
    (200, Some(comparison))
}

/// Decodes the upload (base64 of gzip, as GitHub requires) and keeps the SARIF document.
fn upload_sarif(s: &mut StateInner, body: Value) -> Answer {
    use base64::Engine as _;
    use std::io::Read;
    let encoded = body["sarif"].as_str().unwrap_or_default();
    let Ok(gzipped) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return message(400, "The sarif field is not base64.");
    };
    let mut text = String::new();
    if flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_string(&mut text)
        .is_err()
    {
        return message(400, "The sarif field is not gzip-compressed.");
    }
    let Ok(sarif) = serde_json::from_str::<Value>(&text) else {
        return message(400, "The SARIF is not JSON.");
    };
    let id = uuid::Uuid::new_v4().to_string();
    s.sarifs.insert(id.clone(), sarif);
    let url = format!("https://api.github.com/repos/acme/shop/code-scanning/sarifs/{id}");
    (202, Some(json!({"id": id, "url": url})))
}

fn check_run_write(
    spec: &Spec,
    s: &mut StateInner,
    operation: &str,
    params: &HashMap<String, String>,
    body: Value,
) -> Answer {
    let id = match operation {
        "checks/create" => {
            let id = s.id();
            let mut run = spec.example("check-run");
            run["id"] = json!(id);
            run["external_id"] = json!("");
            run["status"] = json!("queued");
            run["conclusion"] = Value::Null;
            run["started_at"] = json!(now());
            run["completed_at"] = Value::Null;
            run["output"] = json!({"title": null, "summary": null, "text": null, "annotations_count": 0,
                "annotations_url": format!("https://api.github.com/repos/acme/shop/check-runs/{id}/annotations")});
            run["html_url"] = json!(format!("https://github.com/acme/shop/runs/{id}"));
            s.check_runs.insert(id, run);
            id
        }
        _ => param_u64(params, "check_run_id"),
    };
    let Some(run) = s.check_runs.get_mut(&id) else {
        return message(404, "Not Found");
    };
    for key in [
        "name",
        "head_sha",
        "status",
        "conclusion",
        "started_at",
        "completed_at",
        "details_url",
        "external_id",
    ] {
        if let Some(value) = body.get(key) {
            run[key] = value.clone();
        }
    }
    if body.get("conclusion").is_some_and(|c| !c.is_null()) {
        run["status"] = json!("completed");
        if run["completed_at"].is_null() {
            run["completed_at"] = json!(now());
        }
    }
    if let Some(output) = body.get("output") {
        for key in ["title", "summary", "text"] {
            if let Some(value) = output.get(key) {
                run["output"][key] = value.clone();
            }
        }
        let added = output
            .get("annotations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let list = s.annotations.entry(id).or_default();
        list.extend(added.into_iter().map(|mut a| {
            a["blob_href"] = json!(format!(
                "https://github.com/acme/shop/blob/sha/{}",
                a["path"].as_str().unwrap_or("")
            ));
            a["start_column"] = a.get("start_column").cloned().unwrap_or(Value::Null);
            a["end_column"] = a.get("end_column").cloned().unwrap_or(Value::Null);
            a["title"] = a.get("title").cloned().unwrap_or(Value::Null);
            a["raw_details"] = a.get("raw_details").cloned().unwrap_or(Value::Null);
            a
        }));
        run["output"]["annotations_count"] = json!(list.len());
    }
    let status = if operation == "checks/create" {
        201
    } else {
        200
    };
    (status, Some(run.clone()))
}

fn deployments(
    spec: &Spec,
    s: &mut StateInner,
    op: &str,
    params: &HashMap<String, String>,
    query: &[(String, String)],
    body: Value,
) -> Answer {
    match op {
        "repos/create-deployment" => {
            let id = s.id();
            let mut d = spec.example("deployment");
            let environment = body
                .get("environment")
                .and_then(Value::as_str)
                .unwrap_or("production")
                .to_string();
            let git_ref = body["ref"].as_str().unwrap_or_default().to_string();
            let sha = if git_ref.len() == 40 && git_ref.chars().all(|c| c.is_ascii_hexdigit()) {
                git_ref.clone()
            } else {
                s.refs
                    .get(&format!("refs/heads/{git_ref}"))
                    .map(|(sha, _)| sha.clone())
                    .unwrap_or_else(|| fake_sha(&git_ref))
            };
            d["id"] = json!(id);
            d["sha"] = json!(sha);
            d["ref"] = json!(git_ref);
            d["task"] = body.get("task").cloned().unwrap_or(json!("deploy"));
            d["payload"] = body.get("payload").cloned().unwrap_or(json!({}));
            d["environment"] = json!(environment);
            d["original_environment"] = json!(environment);
            d["description"] = body.get("description").cloned().unwrap_or(Value::Null);
            d["transient_environment"] = body
                .get("transient_environment")
                .cloned()
                .unwrap_or(json!(false));
            d["production_environment"] = body
                .get("production_environment")
                .cloned()
                .unwrap_or(json!(environment == "production"));
            d["created_at"] = json!(now());
            d["updated_at"] = json!(now());
            d["url"] = json!(format!(
                "https://api.github.com/repos/acme/shop/deployments/{id}"
            ));
            d["statuses_url"] = json!(format!(
                "https://api.github.com/repos/acme/shop/deployments/{id}/statuses"
            ));
            s.deployments.insert(id, d.clone());
            (201, Some(d))
        }
        "repos/list-deployments" => {
            let filter = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            let all: Vec<Value> = s
                .deployments
                .values()
                .rev()
                .filter(|d| filter("environment").is_none_or(|e| d["environment"] == json!(e)))
                .filter(|d| filter("task").is_none_or(|t| d["task"] == json!(t)))
                .filter(|d| filter("sha").is_none_or(|t| d["sha"] == json!(t)))
                .filter(|d| filter("ref").is_none_or(|t| d["ref"] == json!(t)))
                .cloned()
                .collect();
            (200, Some(Value::Array(page(&all, query))))
        }
        "repos/get-deployment" => match s.deployments.get(&param_u64(params, "deployment_id")) {
            Some(d) => (200, Some(d.clone())),
            None => message(404, "Not Found"),
        },
        "repos/create-deployment-status" => {
            let id = param_u64(params, "deployment_id");
            let Some(deployment) = s.deployments.get(&id).cloned() else {
                return message(404, "Not Found");
            };
            let status_id = s.id();
            let mut st = spec.example("deployment-status");
            st["id"] = json!(status_id);
            st["state"] = body["state"].clone();
            st["description"] = body.get("description").cloned().unwrap_or(json!(""));
            st["environment"] = deployment["environment"].clone();
            // GitHub answers "" for an unset URL, which the description's `format: uri`
            // refuses; the fake leaves the (optional) fields out instead.
            for key in ["log_url", "target_url", "environment_url"] {
                let given = body.get(key).or(if key == "target_url" {
                    body.get("log_url")
                } else {
                    None
                });
                match given {
                    Some(url) => st[key] = url.clone(),
                    None => {
                        st.as_object_mut().unwrap().remove(key);
                    }
                }
            }
            st["created_at"] = json!(now());
            st["updated_at"] = json!(now());
            st["deployment_url"] = deployment["url"].clone();
            if body["state"] == "success" && body.get("auto_inactive") != Some(&json!(false)) {
                auto_inactivate(spec, s, &deployment);
            }
            s.deployment_statuses
                .entry(id)
                .or_default()
                .push(st.clone());
            (201, Some(st))
        }
        "repos/list-deployment-statuses" => {
            let id = param_u64(params, "deployment_id");
            if !s.deployments.contains_key(&id) {
                return message(404, "Not Found");
            }
            let mut all = s.deployment_statuses.get(&id).cloned().unwrap_or_default();
            all.reverse();
            (200, Some(Value::Array(page(&all, query))))
        }
        other => message(501, &format!("the fake does not serve {other}")),
    }
}

/// GitHub's `auto_inactive`: earlier successful, non-transient, non-production deployments of
/// the same environment get an `inactive` status.
fn auto_inactivate(spec: &Spec, s: &mut StateInner, current: &Value) {
    let earlier: Vec<u64> = s
        .deployments
        .values()
        .filter(|d| d["id"] != current["id"] && d["environment"] == current["environment"])
        .filter(|d| {
            d["transient_environment"] != json!(true) && d["production_environment"] != json!(true)
        })
        .filter_map(|d| d["id"].as_u64())
        .collect();
    for id in earlier {
        let list = s.deployment_statuses.entry(id).or_default();
        let latest_success = list.last().is_some_and(|st| st["state"] == "success");
        if latest_success {
            let mut st = list
                .last()
                .cloned()
                .unwrap_or_else(|| spec.example("deployment-status"));
            st["state"] = json!("inactive");
            st["created_at"] = json!(now());
            list.push(st);
        }
    }
}

fn releases(
    spec: &Spec,
    s: &mut StateInner,
    op: &str,
    params: &HashMap<String, String>,
    query: &[(String, String)],
    body: Value,
) -> Answer {
    match op {
        "repos/create-release" => {
            let tag = body["tag_name"].as_str().unwrap_or_default().to_string();
            if s.releases.values().any(|r| r["tag_name"] == json!(tag)) {
                return (
                    422,
                    Some(
                        json!({"message": "Validation Failed", "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}], "documentation_url": "https://docs.github.com/rest/releases/releases#create-a-release"}),
                    ),
                );
            }
            let id = s.id();
            let mut r = spec.example("release");
            r["id"] = json!(id);
            r["tag_name"] = json!(tag);
            r["target_commitish"] = body
                .get("target_commitish")
                .cloned()
                .unwrap_or(json!("main"));
            r["name"] = body.get("name").cloned().unwrap_or(json!(tag));
            r["body"] = body.get("body").cloned().unwrap_or(Value::Null);
            r["draft"] = body.get("draft").cloned().unwrap_or(json!(false));
            r["prerelease"] = body.get("prerelease").cloned().unwrap_or(json!(false));
            r["html_url"] = json!(format!("https://github.com/acme/shop/releases/tag/{tag}"));
            r["upload_url"] = json!(format!(
                "https://uploads.github.com/repos/acme/shop/releases/{id}/assets{{?name,label}}"
            ));
            r["url"] = json!(format!(
                "https://api.github.com/repos/acme/shop/releases/{id}"
            ));
            r["assets"] = json!([]);
            r["created_at"] = json!(now());
            r["published_at"] = if r["draft"] == json!(true) {
                Value::Null
            } else {
                json!(now())
            };
            s.releases.insert(id, r.clone());
            (201, Some(r))
        }
        "repos/get-release-by-tag" => {
            let tag = &params["tag"];
            match s
                .releases
                .values()
                .find(|r| r["tag_name"] == json!(tag) && r["draft"] != json!(true))
            {
                Some(r) => (200, Some(r.clone())),
                None => message(404, "Not Found"),
            }
        }
        "repos/list-releases" => {
            let all: Vec<Value> = s.releases.values().rev().cloned().collect();
            (200, Some(Value::Array(page(&all, query))))
        }
        "repos/get-release" | "repos/update-release" => {
            let Some(r) = s.releases.get_mut(&param_u64(params, "release_id")) else {
                return message(404, "Not Found");
            };
            if op == "repos/update-release" {
                for key in [
                    "tag_name",
                    "target_commitish",
                    "name",
                    "body",
                    "draft",
                    "prerelease",
                ] {
                    if let Some(value) = body.get(key) {
                        r[key] = value.clone();
                    }
                }
                if r["draft"] == json!(false) && r["published_at"].is_null() {
                    r["published_at"] = json!(now());
                }
            }
            (200, Some(r.clone()))
        }
        other => message(501, &format!("the fake does not serve {other}")),
    }
}

fn ref_body(name: &str, sha: &str, kind: &str) -> Value {
    json!({
        "ref": name,
        "node_id": "MDM6UmVmcmVmcy9oZWFkcy9mZWF0dXJlQQ==",
        "url": format!("https://api.github.com/repos/acme/shop/git/{name}"),
        "object": {"type": kind, "sha": sha, "url": format!("https://api.github.com/repos/acme/shop/git/{kind}s/{sha}")},
    })
}

fn git(
    spec: &Spec,
    s: &mut StateInner,
    op: &str,
    params: &HashMap<String, String>,
    body: Value,
) -> Answer {
    let unprocessable = |text: &str| message(422, text);
    match op {
        "git/create-tag" => {
            let sha = fake_sha(&format!("tag {} {}", body["tag"], body["object"]));
            let mut tag = spec.example("git-tag");
            tag["sha"] = json!(sha);
            tag["tag"] = body["tag"].clone();
            tag["message"] = body["message"].clone();
            tag["object"] = json!({"type": body["type"], "sha": body["object"], "url": format!("https://api.github.com/repos/acme/shop/git/commits/{}", body["object"].as_str().unwrap_or(""))});
            if let Some(tagger) = body.get("tagger") {
                tag["tagger"]["name"] = tagger["name"].clone();
                tag["tagger"]["email"] = tagger["email"].clone();
                tag["tagger"]["date"] = tagger.get("date").cloned().unwrap_or(json!(now()));
            }
            tag["url"] = json!(format!(
                "https://api.github.com/repos/acme/shop/git/tags/{sha}"
            ));
            s.tags.insert(sha, tag.clone());
            (201, Some(tag))
        }
        "git/get-tag" => match s.tags.get(&params["tag_sha"]) {
            Some(tag) => (200, Some(tag.clone())),
            None => message(404, "Not Found"),
        },
        "git/create-ref" => {
            let name = body["ref"].as_str().unwrap_or_default().to_string();
            if !name.starts_with("refs/") || name.matches('/').count() < 2 {
                return unprocessable(
                    "Reference name must start with 'refs/' and have at least two slashes.",
                );
            }
            if s.refs.contains_key(&name) {
                return unprocessable("Reference already exists");
            }
            let sha = body["sha"].as_str().unwrap_or_default().to_string();
            let kind = if s.tags.contains_key(&sha) {
                "tag"
            } else {
                "commit"
            };
            s.refs.insert(name.clone(), (sha.clone(), kind.to_string()));
            (201, Some(ref_body(&name, &sha, kind)))
        }
        "git/get-ref" => match s.refs.get(&format!("refs/{}", params["ref"])) {
            Some((sha, kind)) => (
                200,
                Some(ref_body(&format!("refs/{}", params["ref"]), sha, kind)),
            ),
            None => message(404, "Not Found"),
        },
        "git/update-ref" => {
            let name = format!("refs/{}", params["ref"]);
            let Some((current, _)) = s.refs.get(&name).cloned() else {
                return unprocessable("Reference does not exist");
            };
            let sha = body["sha"].as_str().unwrap_or_default().to_string();
            // The fake keeps no commit graph: any move without force counts as non-fast-forward.
            if current != sha && body.get("force") != Some(&json!(true)) {
                return unprocessable("Update is not a fast forward");
            }
            let kind = if s.tags.contains_key(&sha) {
                "tag"
            } else {
                "commit"
            };
            s.refs.insert(name.clone(), (sha.clone(), kind.to_string()));
            (200, Some(ref_body(&name, &sha, kind)))
        }
        "git/delete-ref" => match s.refs.remove(&format!("refs/{}", params["ref"])) {
            Some(_) => (204, None),
            None => unprocessable("Reference does not exist"),
        },
        "git/list-matching-refs" => {
            let prefix = format!("refs/{}", params["ref"]);
            let list: Vec<Value> = s
                .refs
                .iter()
                .filter(|(name, _)| name.starts_with(&prefix))
                .map(|(name, (sha, kind))| ref_body(name, sha, kind))
                .collect();
            (200, Some(Value::Array(list)))
        }
        other => message(501, &format!("the fake does not serve {other}")),
    }
}

// ---------------------------------------------------------------------------------------------
// A webhook sink for chat notification tests.
// ---------------------------------------------------------------------------------------------

/// One webhook delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Path and query, e.g. `/robot/send?access_token=…&timestamp=…&sign=…`.
    pub path_and_query: String,
    pub content_type: Option<String>,
    pub body: Value,
}

struct SinkShared {
    deliveries: Mutex<Vec<Delivery>>,
    /// Answers by path prefix: `(prefix, status, body, once)`; the first match wins and a
    /// `once` answer is used up.
    answers: Mutex<Vec<(String, u16, String, bool)>>,
}

/// A local HTTP server that records every POSTed body and answers as configured.
pub struct WebhookSink {
    pub base_url: String,
    shared: Arc<SinkShared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WebhookSink {
    pub fn start() -> WebhookSink {
        let shared = Arc::new(SinkShared {
            deliveries: Mutex::new(Vec::new()),
            answers: Mutex::new(Vec::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(sink)
            .with_state(shared.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        WebhookSink {
            base_url,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Answers requests whose path starts with `prefix` with `status` and `body`.
    pub fn answer(&self, prefix: &str, status: u16, body: &str) {
        self.shared.answers.lock().unwrap().push((
            prefix.to_string(),
            status,
            body.to_string(),
            false,
        ));
    }

    /// Answers the next request whose path starts with `prefix` with `status` and `body`.
    pub fn answer_once(&self, prefix: &str, status: u16, body: &str) {
        let mut answers = self.shared.answers.lock().unwrap();
        answers.insert(0, (prefix.to_string(), status, body.to_string(), true));
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries.lock().unwrap().clone()
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn sink(
    State(shared): State<Arc<SinkShared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    shared.deliveries.lock().unwrap().push(Delivery {
        path_and_query,
        content_type: header(&headers, "content-type").map(str::to_string),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let answer = {
        let mut answers = shared.answers.lock().unwrap();
        let index = answers
            .iter()
            .position(|(prefix, ..)| uri.path().starts_with(prefix.as_str()));
        index.map(|i| {
            let (_, status, body, once) = answers[i].clone();
            if once {
                answers.remove(i);
            }
            (status, body)
        })
    };
    let (status, body) = answer.unwrap_or((200, r#"{"errcode":0,"errmsg":"ok"}"#.to_string()));
    (StatusCode::from_u16(status).unwrap(), body).into_response()
}
