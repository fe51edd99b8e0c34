//! The real server on an ephemeral port, with the phishing example's real ONNX model:
//! what a client sends, good or bad, and what it gets back.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_prediction_carries_id_model_output_guardrails_and_decision() {
    let server = Server::start(|t| t).await;
    let (status, body) = server.predict(json!({"unit": "user-1", "features": page()})).await;
    assert_eq!(status, 200, "{body:#}");
    let id = uuid::Uuid::parse_str(body["prediction_id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    assert_eq!(body["model"]["name"], "model");
    assert!(body["model"]["version"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(body["output"]["label"], "phishing");
    let score = body["output"]["score"].as_f64().unwrap();
    assert!(score > 0.5, "{body:#}");
    assert!(body["decision"]["mode"].is_string());
    assert_eq!(body["decision"]["reason"]["kind"], "expected_value");
    assert!(body["server_time_us"].as_u64().is_some());

    let (_, body) = server.predict(json!({"features": benign()})).await;
    assert_eq!(body["output"]["label"], "legit", "{body:#}");
    assert_eq!(body["decision"]["mode"], "none");
    server.stop().await;
}

#[tokio::test]
async fn guardrails_act_through_the_api() {
    let server = Server::start(|t| t).await;
    let (status, body) = server.predict(json!({"features": page(), "context": {"domain": "bank.example.org"}})).await;
    assert_eq!(status, 200);
    assert_eq!(body["output"]["label"], "legit");
    assert_eq!(body["decision"]["reason"]["rule"], "never_warn_allow_listed");
    assert!(body["raw"].is_null());

    let mut f = page();
    f["url_length"] = json!(3000);
    let (_, body) = server.predict(json!({"features": f})).await;
    assert_eq!(body["decision"]["mode"], "escalate");

    let mut f = page();
    f["url_length"] = json!(5);
    f["num_dots"] = json!(5);
    let (status, body) = server.predict(json!({"features": f})).await;
    assert_eq!(status, 422);
    assert_error(&body, "rejected_by_guardrail");
    assert_eq!(body["error"]["details"]["rule"], "impossible_url");
    server.stop().await;
}

#[tokio::test]
async fn a_reject_rule_that_cannot_be_evaluated_refuses_the_request_and_is_counted() {
    // the rule reads a context key with no `has()` guard: a request without it makes it fail
    let server = Server::start(|t| {
        t.replacen(
            "when = \"has(context.domain) && context.domain in",
            "action = \"reject\"\nwhen = \"context.domain in",
            1,
        )
        .replacen("action = \"override\"\noutput = \"legit\"\nmode = \"none\"\n", "", 1)
    })
    .await;
    let (status, body) = server.predict(json!({"features": page()})).await;
    assert_eq!(status, 422, "{body}");
    assert_error(&body, "guardrail_failed");
    assert_eq!(body["error"]["details"]["rule"], "never_warn_allow_listed");
    assert!(body["error"]["details"]["error"].as_str().unwrap().contains("domain"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("denies on error"), "{body}");
    let (status, _) = server.predict(json!({"features": page(), "context": {"domain": "x.example"}})).await;
    assert_eq!(status, 200);
    let (_, metrics) = server.get("/metrics").await;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("rein_guardrail_actions_total")
                && l.contains("rule=\"never_warn_allow_listed\"")
                && l.contains("action=\"error\"")
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(line.ends_with(" 1"), "{line}");
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_get_the_right_status_and_a_useful_message() {
    let server = Server::start(|t| t).await;

    let (status, body) = server.post("/v1/components/phishing/predict", "{\"features\": {").await;
    assert_eq!(status, 400);
    assert_error(&body, "malformed_json");

    for literal in ["NaN", "Infinity", "1e999"] {
        let raw = format!("{{\"features\": {{\"url_length\": {literal}}}}}");
        let (status, body) = server.post("/v1/components/phishing/predict", raw).await;
        assert_eq!(status, 400, "{literal}: {body:#}");
        assert_error(&body, "malformed_json");
    }

    let (status, body) = server.post("/v1/components/nope/predict", page().to_string()).await;
    assert_eq!(status, 404);
    assert_error(&body, "unknown_component");
    assert_eq!(body["error"]["details"]["components"], json!(["phishing"]));

    let mut f = page();
    f["url_length"] = json!("long");
    f["num_dots"] = json!(-1);
    f.as_object_mut().unwrap().remove("uses_https");
    f["colour"] = json!("red");
    f["tld_category"] = json!("museum");
    let (status, body) = server.predict(json!({"features": f})).await;
    assert_eq!(status, 422);
    assert_error(&body, "invalid_features");
    let fields: Vec<&str> =
        body["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["url_length", "num_dots", "uses_https", "tld_category", "colour"], "{body:#}");

    let (status, body) = server.predict(json!({"feature": page()})).await;
    assert_eq!(status, 422);
    assert_error(&body, "bad_request_shape");

    // a mistake is placed in the whole body, inside a batch's instance too
    let (status, body) = server.post("/v1/components/phishing/predict", r#"{"features": "x"}"#).await;
    assert_eq!(status, 422);
    assert!(body["error"]["message"].as_str().unwrap().ends_with("expected a map at line 1 column 16"), "{body:#}");
    let batch = "{\"instances\": [\n  {\"features\": {}},\n  {\"features\": 3}, {\"nonsense\": 1}, null]}";
    let (status, body) = server.post("/v1/components/phishing/predict", batch).await;
    assert_eq!(status, 200);
    let messages: Vec<&str> =
        body["predictions"].as_array().unwrap()[1..].iter().map(|p| p["error"]["message"].as_str().unwrap()).collect();
    assert!(messages[0].ends_with("integer `3`, expected a map at line 3 column 16"), "{body:#}");
    assert!(messages[1].contains("unknown field `nonsense`") && messages[1].ends_with("line 3 column 30"), "{body:#}");
    assert!(
        messages[2]
            .contains("invalid type: null, expected an instance (an object with `features`) at line 3 column 40"),
        "{body:#}"
    );

    let (status, body) = server.predict(json!([1, 2, 3])).await;
    assert_eq!(status, 422);
    assert_error(&body, "bad_request_shape");

    let (status, body) = server.predict(json!({"unit": "u".repeat(300), "features": page()})).await;
    assert_eq!(status, 422);
    assert_error(&body, "bad_unit");

    // seconds sent as milliseconds, and a time past i64
    for time_ms in [json!(1_790_000_000u64), json!(u64::MAX)] {
        let (status, body) = server.predict(json!({"time_ms": time_ms, "features": page()})).await;
        assert_eq!(status, 422, "{time_ms}: {body:#}");
        assert_error(&body, "bad_time");
        assert!(body["error"]["details"]["hint"].as_str().unwrap().contains("unix milliseconds"));
    }

    // per-instance fields beside `instances` would be silently ignored: refused instead
    let (status, body) = server.predict(json!({"unit": "u1", "instances": [{"features": page()}]})).await;
    assert_eq!(status, 422);
    assert_error(&body, "bad_request_shape");
    assert!(body["error"]["message"].as_str().unwrap().contains("`unit`"), "{body:#}");

    let (status, body) = server.get_json("/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_error(&body, "not_found");
    assert!(body["error"]["details"]["routes"].as_array().unwrap().contains(&json!("POST /v1/feedback")), "{body:#}");
    let (status, body) = server.get_json("/v1/feedback").await;
    assert_eq!(status, 405);
    assert_error(&body, "method_not_allowed");
    server.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let server =
        Server::start(|t| t.replacen("[[components]]", "[server]\nmax_body_bytes = 2048\n\n[[components]]", 1)).await;
    let big = json!({"features": page(), "context": {"padding": "x".repeat(10_000)}});
    let (status, body) = server.predict(big).await;
    assert_eq!(status, 413);
    assert_error(&body, "body_too_large");
    let (status, _) = server.predict(json!({"features": page()})).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn unknown_features_may_be_ignored_when_the_system_says_so() {
    let server =
        Server::start(|t| t.replacen("[[components]]", "[server]\nunknown_features = \"ignore\"\n\n[[components]]", 1))
            .await;
    let mut f = page();
    f["colour"] = json!("red");
    let (status, _) = server.predict(json!({"features": f})).await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_batch_answers_one_result_per_instance_in_order() {
    let server = Server::start(|t| t.replacen("[[components]]", "[server]\nmax_batch = 4\n\n[[components]]", 1)).await;
    let mut bad = page();
    bad["url_length"] = json!(-3);
    let (status, body) = server
        .predict(json!({"instances": [
            {"features": page()}, {"features": bad}, {"features": benign(), "unit": "u"}, {"nonsense": 1}
        ]}))
        .await;
    assert_eq!(status, 200, "{body:#}");
    let p = body["predictions"].as_array().unwrap();
    assert_eq!(p.len(), 4);
    assert_eq!(p[0]["output"]["label"], "phishing");
    assert_error(&p[1], "invalid_features");
    assert_eq!(p[2]["output"]["label"], "legit");
    assert_eq!(p[2]["unit"], "u");
    assert_error(&p[3], "bad_request_shape");

    let five: Vec<Value> = (0..5).map(|_| json!({"features": page()})).collect();
    let (status, body) = server.predict(json!({ "instances": five })).await;
    assert_eq!(status, 422);
    assert_error(&body, "bad_batch");
    server.stop().await;
}

#[tokio::test]
async fn open_inference_protocol_v2() {
    let server = Server::start(|t| t).await;
    let (status, body) = server.get("/v2/health/live").await;
    assert_eq!((status, body.contains("true")), (200, true));
    let (status, body) = server.get("/v2/health/ready").await;
    assert_eq!((status, body.contains("true")), (200, true));
    let (status, body) = server.get("/v2/models/phishing/ready").await;
    assert_eq!((status, body.contains("true")), (200, true));

    let (status, meta) = server.get("/v2/models/phishing").await;
    assert_eq!(status, 200);
    let meta: Value = serde_json::from_str(&meta).unwrap();
    let inputs = meta["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 9, "{meta:#}");

    let tensors = oip_tensors(&meta, &page());
    let (status, body) =
        server.post("/v2/models/phishing/infer", json!({"id": "r1", "inputs": tensors}).to_string()).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["id"], "r1");
    let outputs = body["outputs"].as_array().unwrap();
    let label = outputs.iter().find(|o| o["name"] == "label").expect("a label output");
    assert_eq!(label["data"][0], "phishing");

    let (status, body) = server
        .post(
            "/v2/models/phishing/infer",
            json!({"inputs": [{"name": "nope", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}]}).to_string(),
        )
        .await;
    assert_eq!(status, 400, "{body:#}");
    assert_oip_error(&body, "nope");
    server.stop().await;
}

/// KServe's and Triton's clients read an OIP error as `{"error": "<message>"}`: every `/v2`
/// route answers its errors so, with the status rein's own shape would have.
#[tokio::test]
async fn open_inference_protocol_v2_errors_have_the_protocols_shape() {
    let server = Server::start(|t| t).await;
    let (status, body) = server.post("/v2/models/phishing/infer", "{\"inputs\": [").await;
    assert_eq!(status, 400, "{body:#}");
    assert_oip_error(&body, "not valid JSON");
    let (status, body) = server.post("/v2/models/phishing/infer", r#"{"inputs": 3}"#).await;
    assert_eq!(status, 400, "{body:#}");
    assert_oip_error(&body, "not an inference request");

    for path in ["/v2/models/nope/infer", "/v2/models/nope", "/v2/models/nope/ready"] {
        let (status, body) =
            if path.ends_with("infer") { server.post(path, "{}").await } else { server.get_json(path).await };
        assert_eq!(status, 404, "{path}: {body:#}");
        assert_oip_error(&body, "no component is named `nope`");
    }
    let (status, body) = server.get_json("/v2/models/phishing/versions/9").await;
    assert_eq!(status, 404, "{body:#}");
    assert_oip_error(&body, "no version `9`");
    let (status, body) = server.get_json("/v2/nothing-here").await;
    assert_eq!(status, 404, "{body:#}");
    assert_oip_error(&body, "no route for /v2/nothing-here");
    let (status, body) = server.get_json("/v2/models/phishing/infer").await;
    assert_eq!(status, 405, "{body:#}");
    assert_oip_error(&body, "does not answer GET");

    // rein's own routes keep rein's shape
    let (status, body) = server.post("/v1/components/phishing/predict", "{\"features\": [").await;
    assert_eq!(status, 400, "{body:#}");
    assert_error(&body, "malformed_json");
    server.stop().await;
}

/// An OIP request's inputs built from the model's metadata: one row of `features`, each
/// input of its own type.
fn oip_tensors(meta: &Value, features: &Value) -> Vec<Value> {
    meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let name = i["name"].as_str().unwrap();
            let v = &features[name];
            let data = match i["datatype"].as_str().unwrap() {
                "FP32" | "FP64" => json!([v.as_f64().unwrap_or(if v.as_bool() == Some(true) { 1.0 } else { 0.0 })]),
                "INT64" => json!([v.as_i64().unwrap_or(if v.as_bool() == Some(true) { 1 } else { 0 })]),
                "BOOL" => json!([v.as_bool().unwrap()]),
                _ => json!([v.as_str().unwrap()]),
            };
            json!({"name": name, "shape": [1, 1], "datatype": i["datatype"], "data": data})
        })
        .collect()
}

/// One component holds two loaded versions of its model at once, evaluated by different
/// engines: OIP v2 picks a version by key and each answers with its own version, an
/// unknown version is 404 naming the loaded ones, and predictions go to the default.
#[tokio::test]
async fn a_component_serves_two_loaded_versions_side_by_side() {
    let declaring = |model: &'static str| {
        system(move |t| {
            t.replacen("model = { path = \"model.onnx\"", &format!("model = {{ path = \"model.onnx\", {model}"), 1)
        })
    };
    let system = declaring("version = \"v1\"");
    let other = declaring("version = \"v2\", engine = \"onnxruntime\"");
    let load = |s: &rein_system::System| rein_runtime::load_system(s).unwrap_or_else(|d| panic!("{d}")).remove(0);
    let (v1, v2) = (load(&system), load(&other));
    assert_ne!(v1.engine(), v2.engine(), "two engines, side by side");
    let twice = rein_server::ModelVersions::new(v1.clone()).with(v1.clone()).err().map(|e| e.to_string());
    assert_eq!(twice.as_deref(), Some("version `v1` is already loaded"));
    let versions = rein_server::ModelVersions::new(v1).with(v2).unwrap();
    let server = Server::serving(rein_server::App::new(system, vec![versions], None)).await;

    let (status, meta) = server.get_json("/v2/models/phishing").await;
    assert_eq!(status, 200, "{meta:#}");
    assert_eq!(meta["versions"], json!(["v1", "v2"]));
    let (status, meta_v2) = server.get_json("/v2/models/phishing/versions/v2").await;
    assert_eq!((status, &meta_v2["inputs"]), (200, &meta["inputs"]), "{meta_v2:#}");
    let (status, _) = server.get_json("/v2/models/phishing/versions/v2/ready").await;
    assert_eq!(status, 200);

    let request = json!({"inputs": oip_tensors(&meta, &page())}).to_string();
    for (path, version) in [
        ("/v2/models/phishing/versions/v1/infer", "v1"),
        ("/v2/models/phishing/versions/v2/infer", "v2"),
        ("/v2/models/phishing/infer", "v1"),
    ] {
        let (status, body) = server.post(path, request.clone()).await;
        assert_eq!(status, 200, "{path}: {body:#}");
        assert_eq!(body["model_version"], version, "{path}: {body:#}");
        let label = body["outputs"].as_array().unwrap().iter().find(|o| o["name"] == "label").unwrap();
        assert_eq!(label["data"][0], "phishing", "{path}: {body:#}");
    }

    for path in [
        "/v2/models/phishing/versions/v3/infer",
        "/v2/models/phishing/versions/v3",
        "/v2/models/phishing/versions/v3/ready",
    ] {
        let (status, body) = if path.ends_with("infer") {
            server.post(path, request.clone()).await
        } else {
            server.get_json(path).await
        };
        assert_eq!(status, 404, "{path}: {body:#}");
        assert_oip_error(&body, "model `phishing` has no version `v3`; the loaded versions are `v1`, `v2`");
    }

    let (status, body) = server.predict(json!({"features": page()})).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["model"]["version"], "v1", "{body:#}");
    server.stop().await;
}

/// Triton's binary tensor data extension, as tritonclient sends it by default: the JSON,
/// then each input's little-endian bytes; outputs asked for as binary come back the same way.
#[tokio::test]
async fn open_inference_protocol_v2_binary_tensor_data() {
    let server = Server::start(|t| t).await;
    let (_, meta) = server.get("/v2/models/phishing").await;
    let meta: Value = serde_json::from_str(&meta).unwrap();
    let f = page();
    let number = |v: &Value| v.as_f64().unwrap_or(if v.as_bool() == Some(true) { 1.0 } else { 0.0 });
    let mut binary = Vec::new();
    let mut inputs = Vec::new();
    for i in meta["inputs"].as_array().unwrap() {
        let name = i["name"].as_str().unwrap();
        let bytes: Vec<u8> = match i["datatype"].as_str().unwrap() {
            "FP32" => (number(&f[name]) as f32).to_le_bytes().to_vec(),
            "FP64" => number(&f[name]).to_le_bytes().to_vec(),
            "INT64" => (number(&f[name]) as i64).to_le_bytes().to_vec(),
            "BYTES" => {
                let text = f[name].as_str().unwrap();
                [(text.len() as u32).to_le_bytes().as_slice(), text.as_bytes()].concat()
            }
            other => panic!("the example has no {other} input"),
        };
        inputs.push(json!({"name": name, "shape": [1, 1], "datatype": i["datatype"],
                           "parameters": {"binary_data_size": bytes.len()}}));
        binary.extend(bytes);
    }
    let request = json!({"inputs": inputs, "outputs": [
        {"name": "label", "parameters": {"binary_data": true}},
        {"name": "probabilities", "parameters": {"binary_data": false}}]});
    let post = |json: String, binary: Vec<u8>, json_len: usize| {
        let body = [json.into_bytes(), binary].concat();
        server
            .client
            .post(server.url("/v2/models/phishing/infer"))
            .header("inference-header-content-length", json_len.to_string())
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
    };
    let json = request.to_string();
    let r = post(json.clone(), binary.clone(), json.len()).await.unwrap();
    assert_eq!(r.status(), 200);
    let json_len: usize = r.headers()["inference-header-content-length"].to_str().unwrap().parse().unwrap();
    let body = r.bytes().await.unwrap();
    let answer: Value = serde_json::from_slice(&body[..json_len]).unwrap();
    let label = answer["outputs"].as_array().unwrap().iter().find(|o| o["name"] == "label").unwrap();
    assert_eq!(label["parameters"]["binary_data_size"], 12, "{answer:#}");
    assert_eq!(&body[json_len..], [8, 0, 0, 0].iter().chain(b"phishing").copied().collect::<Vec<u8>>());
    let probabilities = answer["outputs"].as_array().unwrap().iter().find(|o| o["name"] == "probabilities").unwrap();
    assert_eq!(probabilities["data"].as_array().unwrap().len(), 2, "JSON where asked: {answer:#}");

    // the binary part and the JSON must agree, or the request is refused with the sizes
    let r = post(json.clone(), binary[..binary.len() - 1].to_vec(), json.len()).await.unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_oip_error(&e, "bytes of binary data are left");
    let r = post(json.clone(), [binary.clone(), vec![0]].concat(), json.len()).await.unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_oip_error(&e, "1 bytes of binary data");
    let r = post(json.clone(), binary.clone(), json.len() + binary.len() + 1).await.unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_oip_error(&e, "`inference-header-content-length` says the JSON is");
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_component_version_mode_and_status() {
    let server = Server::start(|t| t).await;
    server.predict(json!({"features": page()})).await;
    server.predict(json!({"features": {"url_length": "x"}})).await;
    let (status, text) = server.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(text.contains("rein_requests_total{component=\"phishing\""), "{text}");
    assert!(text.contains("status=\"422\""), "{text}");
    assert!(text.contains("rein_request_duration_seconds_bucket{"), "{text}");
    assert!(text.contains("le=\"0.001\""), "{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let server = Server::start(|t| t).await;
    let url = server.url("/v1/components/phishing/predict");
    let ok = Arc::new(AtomicUsize::new(0));
    let stopping = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (url, ok, stopping) = (url.clone(), ok.clone(), stopping.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut broken = Vec::new();
                while !stopping.load(Ordering::Relaxed) || ok.load(Ordering::Relaxed) == 0 {
                    let sent = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(json!({"features": page()}).to_string())
                        .send()
                        .await;
                    match sent {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            match r.json::<Value>().await {
                                Ok(body) if status == 200 && body["decision"].is_object() => {
                                    ok.fetch_add(1, Ordering::Relaxed);
                                }
                                other => broken.push(format!("{status}: {other:?}")),
                            }
                        }
                        // The server stopped accepting: refused or closed before the request was read.
                        Err(_) => break,
                    }
                }
                broken
            })
        })
        .collect();
    while ok.load(Ordering::Relaxed) < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let addr = server.addr;
    stopping.store(true, Ordering::Relaxed);
    server.stop().await;
    for c in clients {
        let broken = c.await.unwrap();
        assert!(broken.is_empty(), "a started request got a broken answer: {broken:?}");
    }
    // after shutdown nothing listens
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// Sends the head of a predict request whose body never arrives, and returns the stream.
async fn stalled_request(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = "POST /v1/components/phishing/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"features\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn a_request_whose_body_stalls_is_answered_408() {
    use tokio::io::AsyncReadExt;
    // the request must outlive the model (50 ms) and the commit: shorten the commit's timeout
    let edit = |t: String| format!("{t}\n[server]\nrequest_timeout_ms = 300\n\n[telemetry]\ncommit_timeout_ms = 100\n");
    let server = Server::start(edit).await;
    let mut stream = stalled_request(server.addr).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the stalled request was never answered");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout") && answer.contains("300 ms"), "{answer}");
    // the server still serves others
    assert_eq!(server.predict(json!({"features": page()})).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_past_its_deadline() {
    let server = Server::start(|t| format!("{t}\n[server]\nshutdown_timeout_ms = 200\n")).await;
    let _stream = stalled_request(server.addr).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), server.stop()).await;
    assert!(stopped.is_ok(), "shutdown waited for a request that never finishes");
    assert!(started.elapsed() >= std::time::Duration::from_millis(200), "it gave requests in flight their time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_batched_together_each_get_their_own_answer() {
    let server = Server::start(|t| t).await;
    let features = |i: u64| {
        let mut f = page();
        f["domain_age_days"] = json!(i * 37 % 4000);
        f["url_length"] = json!(20 + i % 180);
        f["uses_https"] = json!(i.is_multiple_of(2));
        f
    };
    // alone, one after another: the reference answers
    let mut alone = Vec::new();
    for i in 0..64 {
        let (status, body) = server.predict(json!({"features": features(i)})).await;
        assert_eq!(status, 200, "{body:#}");
        alone.push(body["raw"].clone());
    }
    assert!(alone.iter().collect::<std::collections::HashSet<_>>().len() > 10, "the inputs must differ in score");
    for _ in 0..5 {
        let together =
            futures_util::future::join_all((0..64).map(|i| server.predict(json!({"features": features(i)}))));
        for (i, (status, body)) in together.await.into_iter().enumerate() {
            assert_eq!(status, 200, "{body:#}");
            assert_eq!(body["raw"], alone[i], "request {i} got another request's answer");
        }
    }
    let (_, metrics) = server.get("/metrics").await;
    assert!(metrics.contains("rein_model_batch_rows_bucket{component=\"phishing\""), "{metrics}");
    server.stop().await;
}

/// `rein serve --workers N` builds the app for N workers, and the server runs that many:
/// each takes a connection in turn and answers on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_as_many_workers_as_the_app_was_built_for() {
    let workers = rein_server::workers::default_count() + 1;
    let system = system(|s| s);
    let models = rein_runtime::load_system(&system).unwrap_or_else(|d| panic!("{d}"));
    let app = Arc::new(rein_server::App::on_workers(system, models, None, workers));
    let running = rein_server::Running::start(app, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let server = Server { addr: running.addr, running: Some(running), client: reqwest::Client::new() };
    for _ in 0..workers {
        // a client of its own: a connection of its own
        let one = Server { addr: server.addr, running: None, client: reqwest::Client::new() };
        let (status, body) = one.predict(json!({"unit": "u", "features": page()})).await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, metrics) = server.get("/metrics").await;
    let last = format!("rein_connections_total{{worker=\"{}\"}} 1", workers - 1);
    assert!(metrics.lines().any(|l| l == last), "the last worker took one connection:\n{metrics}");
    server.stop().await;
}

/// Labels named for people (`label_names`) are shown beside the label the model gives.
#[tokio::test]
async fn a_label_named_for_people_is_answered_with_its_name() {
    let server = Server::start(|t| {
        t.replacen(
            "labels = [\"legit\", \"phishing\"]",
            "labels = [\"legit\", \"phishing\"]\nlabel_names = { phishing = \"Phishing page\" }",
            1,
        )
    })
    .await;
    let (status, body) = server.predict(json!({"features": page()})).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(
        (&body["output"]["label"], &body["output"]["label_name"]),
        (&json!("phishing"), &json!("Phishing page"))
    );
    let (_, body) = server.predict(json!({"features": benign()})).await;
    assert_eq!(body["output"]["label"], "legit");
    assert!(body["output"].get("label_name").is_none(), "a label with no name has none: {body:#}");
    server.stop().await;
}
