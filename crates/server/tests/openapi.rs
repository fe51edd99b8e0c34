//! The OpenAPI description the server serves at `/openapi.json` against the server itself:
//! every operation it describes, called as it describes it, answers a status it lists with
//! a body of the schema it names; and every `/v1` route the router serves is described.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Value, json};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[tokio::test]
async fn the_description_matches_what_the_server_answers() {
    let dir = tempfile::tempdir().unwrap();
    // with a model registry and its admin token, which every request below carries
    let server = Server::with_registry(|t| t, dir.path(), Some(ADMIN_TOKEN), true).await;
    let (status, spec) = server.get_json("/openapi.json").await;
    assert_eq!(status, 200, "{spec:#}");
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"), "{:#}", spec["openapi"]);

    // the spec's own examples fit its schemas
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        if let Some(example) = schema.get("example") {
            let errors = check(&spec, schema, example, name);
            assert!(errors.is_empty(), "the example of {name} does not fit it: {errors:#?}");
        }
    }

    // the request the spec shows (the example system's) is answered
    let example = &spec["components"]["schemas"]["PredictRequest"]["example"];
    assert_eq!(example["features"], page(), "the spec's example is the example system's");
    let (status, answer) = server.predict(example.clone()).await;
    assert_eq!(status, 200, "{answer:#}");

    // a prediction for the routes that name one
    let (status, answer) = server.predict(json!({"unit": "user-1", "features": page()})).await;
    assert_eq!(status, 200, "{answer:#}");
    let id = answer["prediction_id"].as_str().unwrap().to_string();

    let mut called = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            called.insert((method.to_uppercase(), path.clone()));
            for (request, body) in requests(method, path, &id) {
                let described = operation.pointer("/requestBody/content/application~1json/schema");
                if let (true, Some(body), Some(schema)) = (request.valid, &body, described) {
                    let errors = check(&spec, schema, body, "request");
                    assert!(errors.is_empty(), "{method} {path}: the test's body does not fit: {errors:#?}");
                }
                let verb = if method == "put" { reqwest::Method::PUT } else { reqwest::Method::POST };
                let sent = match &body {
                    Some(body) => server.client.request(verb, server.url(&request.path)).body(body.to_string()),
                    None if request.raw.is_some() => {
                        server.client.request(verb, server.url(&request.path)).body(request.raw.clone().unwrap())
                    }
                    None => server.client.get(server.url(&request.path)),
                };
                let answer =
                    sent.header("content-type", "application/json").bearer_auth(ADMIN_TOKEN).send().await.unwrap();
                let status = answer.status().as_u16();
                let content_type =
                    answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let text = answer.text().await.unwrap();
                let what = format!("{} {}: {status} {text}", method.to_uppercase(), request.path);
                if request.valid {
                    assert!((200..300).contains(&status), "a request the spec describes failed: {what}");
                }
                let response = operation["responses"]
                    .get(status.to_string())
                    .unwrap_or_else(|| panic!("{what}: status {status} is not among the operation's responses"));
                let content = &response["content"];
                let Some((media, described)) = content.as_object().and_then(|c| c.iter().next()) else {
                    assert!(text.is_empty(), "{what}: a body the spec does not describe");
                    continue;
                };
                assert!(content_type.starts_with(media.as_str()), "{what}: {content_type}, the spec says {media}");
                if media == "application/json" {
                    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e})"));
                    let errors = check(&spec, &described["schema"], &body, "body");
                    assert!(errors.is_empty(), "{what}\ndoes not fit the spec: {errors:#?}");
                }
            }
        }
    }
    assert!(called.contains(&("POST".into(), "/v1/components/{name}/predict".into())), "{called:?}");

    // every /v1 route the router serves is described, and every described route is served
    let served: BTreeSet<(String, String)> =
        rein_server::routes().into_iter().map(|(method, path)| (method.to_string(), path.to_string())).collect();
    for route in served.iter().filter(|(_, path)| path.starts_with("/v1")) {
        assert!(called.contains(route), "{} {} is served but not described", route.0, route.1);
    }
    for route in &called {
        assert!(served.contains(route), "{} {} is described but not served", route.0, route.1);
    }
    server.stop().await;
}

/// A request to send: its path with its parameters filled in, and whether the spec says it
/// succeeds.
struct Request {
    path: String,
    valid: bool,
    /// A body that is not JSON.
    raw: Option<Vec<u8>>,
}

/// What the test sends to `method path`: a request the spec describes as valid, built from
/// the example system's features as the other tests do, and requests it refuses.
fn requests(method: &str, path: &str, id: &str) -> Vec<(Request, Option<Value>)> {
    let fill = |name: &str, id: &str| {
        let version = if name == "phishing" { "sha256:d019131ec354" } else { "nope" };
        path.replace("{name}", name).replace("{id}", id).replace("{version}", version).replace("{alias}", "challenger")
    };
    let valid = |path: String| Request { path, valid: true, raw: None };
    let refused = |path: String| Request { path, valid: false, raw: None };
    let mut sent = Vec::new();
    match method {
        "get" if path == "/v1/predictions" => {
            sent.push((valid(format!("{path}?component=phishing&limit=10")), None));
            sent.push((refused(format!("{path}?since=yesterday")), None));
            sent.push((refused(format!("{path}?component=nope")), None));
            sent.push((refused(format!("{path}?cursor=garbage")), None));
        }
        "get" if path == "/v1/monitors" => {
            sent.push((valid(format!("{path}?windows=3")), None));
            sent.push((refused(format!("{path}?windows=garbage")), None));
        }
        "get" if path == "/v1/alerts" => {
            sent.push((valid(format!("{path}?state=open&since=2026-01-01T00:00:00Z&limit=5")), None));
            sent.push((refused(format!("{path}?state=sometimes")), None));
        }
        "get" if path == "/v1/goals" => {
            sent.push((valid(format!("{path}?windows=3")), None));
            sent.push((refused(format!("{path}?windows=abc")), None));
            sent.push((refused(format!("{path}?at=yesterday")), None));
        }
        "get" if path == "/v1/components/{name}/shadow" => {
            sent.push((valid(fill("phishing", id)), None));
            sent.push((
                valid(format!("{}?since=2026-01-01T00:00:00Z&until=4102444800000&experiment=e", fill("phishing", id))),
                None,
            ));
            sent.push((refused(format!("{}?since=yesterday", fill("phishing", id))), None));
            sent.push((refused(format!("{}?window=1d", fill("phishing", id))), None));
            sent.push((refused(fill("nope", id)), None));
        }
        "get" if path == "/v1/models/{name}/history" => {
            sent.push((valid(fill("phishing", id)), None));
            sent.push((valid(format!("{}?prediction={id}", fill("phishing", id))), None));
            sent.push((valid(format!("{}?at=2099-01-01T00:00:00Z", fill("phishing", id))), None));
            sent.push((refused(format!("{}?unit=user-1", fill("phishing", id))), None));
            sent.push((refused(fill("nope", id)), None));
        }
        "get" if path == "/v1/components/{name}/rollout" => {
            // no plan under analysis here: no rollout (tests/rollouts.rs runs them)
            sent.push((refused(fill("phishing", id)), None));
            sent.push((refused(fill("nope", id)), None));
        }
        "get" => {
            sent.push((valid(fill("phishing", id)), None));
            if path.contains('{') {
                sent.push((refused(fill("nope", "nope")), None));
            }
        }
        "post" if path == "/v1/models/{name}/versions" => {
            let model = Request { path: fill("phishing", id), valid: true, raw: Some(example_model_variant(b'3')) };
            sent.push((model, None));
            let again = Request { path: fill("phishing", id), valid: true, raw: Some(example_model_variant(b'3')) };
            sent.push((again, None));
            let broken = Request { path: fill("phishing", id), valid: false, raw: Some(b"not a model".to_vec()) };
            sent.push((broken, None));
            let other = Request { path: fill("nope", id), valid: false, raw: Some(example_model_variant(b'3')) };
            sent.push((other, None));
        }
        "put" if path == "/v1/components/{name}/traffic" => {
            let plan = json!({"experiment": "spec", "split": [
                {"variant": "a", "alias": "champion", "weight": 1},
                {"variant": "b", "version": "sha256:d019131ec354", "weight": 1}]});
            sent.push((valid(fill("phishing", id)), Some(plan.clone())));
            sent.push((refused(fill("phishing", id)), Some(json!({"experiment": "spec", "holdout": {"share": 2}}))));
            sent.push((refused(fill("phishing", id)), Some(json!({"experiment": "spec", "splits": []}))));
            sent.push((refused(fill("nope", id)), Some(plan)));
            sent.push((valid(fill("phishing", id)), Some(Value::Null)));
        }
        "put" => {
            sent.push((valid(fill("phishing", id)), Some(json!({"version": "sha256:d019131ec354", "reason": "spec"}))));
            sent.push((refused(fill("phishing", id)), Some(json!({"version": "nope"}))));
            sent.push((refused(fill("phishing", id)), Some(json!({"versions": "typo"}))));
            let malformed = Request { path: fill("phishing", id), valid: false, raw: Some(b"{\"version\": ".to_vec()) };
            sent.push((malformed, None));
        }
        "post" if path == "/v1/components/{name}/rollout/{command}" => {
            let command = |name: &str, c: &str| fill(name, id).replace("{command}", c);
            sent.push((refused(command("phishing", "pause")), Some(json!({"by": "spec", "reason": "no rollout"}))));
            sent.push((refused(command("phishing", "explode")), Some(json!({}))));
            sent.push((refused(command("nope", "pause")), Some(json!({}))));
        }
        "post" => {
            let body = match path {
                "/v1/components/{name}/predict" => json!({"unit": "user-1", "features": page()}),
                "/v1/feedback" => json!({"prediction_id": id, "kind": "incorrect", "label": "legit", "unit": "user-1"}),
                "/v1/outcomes" => json!({"name": "left_page", "unit": "user-1", "prediction_id": id}),
                other => panic!("the spec describes POST {other}: give this test a valid body for it"),
            };
            sent.push((valid(fill("phishing", id)), Some(body)));
            if path.ends_with("/predict") {
                let mut bad = page();
                bad["url_length"] = json!("long");
                let batch = json!({"instances": [{"unit": "user-2", "features": page()}, {"features": bad}]});
                sent.push((valid(fill("phishing", id)), Some(batch)));
            }
            sent.push((refused(fill("phishing", id)), Some(json!([1, 2]))));
            let malformed = Request { path: fill("phishing", id), valid: false, raw: Some(b"{\"unit\": ".to_vec()) };
            sent.push((malformed, None));
            if path.contains("{name}") {
                sent.push((refused(fill("nope", id)), Some(json!({"features": page()}))));
            }
        }
        other => panic!("the spec describes {other} {path}: teach this test to call it"),
    }
    sent
}

/// Where `value` does not fit `schema` (JSON Schema as OpenAPI 3.1 uses it: `$ref`, `type`,
/// `enum`, `oneOf`/`anyOf`/`allOf`, `properties`, `required`, `additionalProperties`,
/// `items`). An object may hold no key its schema does not list, unless the schema allows
/// other keys: so a documented shape cannot drift from the answered one.
fn check(spec: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.strip_prefix("#/components/schemas/").expect("a local reference");
        let target = &spec["components"]["schemas"][name];
        assert!(target.is_object(), "{reference} is not in the spec");
        return check(spec, target, value, &format!("{at} ({name})"));
    }
    for (key, any) in [("oneOf", true), ("anyOf", true), ("allOf", false)] {
        if let Some(alternatives) = schema.get(key).and_then(Value::as_array) {
            let results: Vec<Vec<String>> = alternatives.iter().map(|s| check(spec, s, value, at)).collect();
            let fits = results.iter().filter(|r| r.is_empty()).count();
            if (any && fits == 0) || (!any && fits < results.len()) {
                errors.push(format!("{at}: fits {fits} of {key} {results:?}"));
            }
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => panic!("type {other}"),
        };
        let fits = types.iter().any(|t| match *t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.is_i64() || value.is_u64(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("type {other}"),
        });
        if !fits {
            errors.push(format!("{at}: {value} is not of type {types:?}"));
            return errors;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(object) = value.as_object() {
        for key in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if !object.contains_key(key.as_str().unwrap()) {
                errors.push(format!("{at}: no `{}`, which the spec requires", key.as_str().unwrap()));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let others = schema.get("additionalProperties");
        for (key, v) in object {
            match (properties.and_then(|p| p.get(key)), others) {
                (Some(property), _) => errors.extend(check(spec, property, v, &format!("{at}.{key}"))),
                (None, Some(Value::Bool(false))) => errors.push(format!("{at}: `{key}` is not allowed")),
                (None, Some(Value::Bool(true))) => {}
                (None, Some(other)) => errors.extend(check(spec, other, v, &format!("{at}.{key}"))),
                (None, None) if properties.is_some() => errors.push(format!("{at}: `{key}` is not documented")),
                (None, None) => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            errors.extend(check(spec, items, v, &format!("{at}[{i}]")));
        }
    }
    errors
}

/// The check above finds a field missing, one undocumented and one of the wrong type, so
/// the test cannot pass for want of looking.
#[tokio::test]
async fn the_check_finds_what_does_not_fit() {
    let server = Server::start(|t| t).await;
    let (_, spec) = server.get_json("/openapi.json").await;
    let (status, answer) = server.predict(json!({"features": page()})).await;
    assert_eq!(status, 200, "{answer:#}");
    let prediction = json!({"$ref": "#/components/schemas/Prediction"});
    assert_eq!(check(&spec, &prediction, &answer, "answer"), Vec::<String>::new());
    let mut missing = answer.clone();
    missing.as_object_mut().unwrap().remove("decision");
    let mut extra = answer.clone();
    extra["surprise"] = json!(1);
    let mut wrong = answer.clone();
    wrong["decision"]["mode"] = json!("sometimes");
    for (broken, error) in [(missing, "no `decision`"), (extra, "`surprise` is not documented"), (wrong, "sometimes")] {
        let errors = check(&spec, &prediction, &broken, "answer");
        assert!(errors.iter().any(|e| e.contains(error)), "{error} not found: {errors:#?}");
    }
    server.stop().await;
}
