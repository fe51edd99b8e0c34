//! The decision path without HTTP, on the phishing example with every guardrail and the
//! experience policy on: schema validation → ONNX inference → guardrails → experience.
//! The model calls run twice: as rein serves the example (rein evaluates the graph
//! itself) and through ONNX Runtime, in the same run.
//!
//!   ORT_DYLIB_PATH=.rein/onnxruntime/libonnxruntime.so cargo bench -p rein-server --bench decision_path

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use rein_decision::DecisionPath;
use serde_json::json;

fn bench(c: &mut Criterion) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/phishing-warning/rein.toml");
    let system = rein_system::load(&file).expect("the example is valid");
    let models = rein_runtime::load_system(&system).expect("the example model loads");
    let model = models[0].clone();
    let mut through_ort = system.clone();
    through_ort.components[0].model.engine = rein_system::ModelEngine::OnnxRuntime;
    let ort_model = rein_runtime::load_system(&through_ort).expect("the example model loads")[0].clone();
    let engine = model.engine().to_string();
    assert!(engine.starts_with("rein evaluates"), "{engine}");
    let path = DecisionPath::new(system.components[0].clone(), rein_decision::DEFAULT_MAX_TRACKED_UNITS);
    let request = json!({
        "url_length": 142, "num_dots": 6, "num_hyphens": 4, "has_ip_host": true, "uses_https": false,
        "domain_age_days": 3, "num_subdomains": 4, "suspicious_words": 3, "tld_category": "new_gtld"
    });
    let features = request.as_object().unwrap().clone();
    let context = json!({"domain": "site-1.example"});
    let unknown = system.server.unknown_features;

    let mut group = c.benchmark_group("phishing");
    group.bench_function("schema + input guardrails", |b| {
        b.iter(|| path.prepare(&features, &context, unknown).unwrap())
    });
    let prepared = path.prepare(&features, &context, unknown).unwrap();
    // Sixteen different rows, so that the trees' branches are not all the same.
    let rows: Vec<Vec<rein_system::FeatureValue>> = (0..16u64)
        .map(|k| {
            let mut r = features.clone();
            r.insert("url_length".into(), json!(20 + k * 17));
            r.insert("num_dots".into(), json!(k % 7));
            r.insert("domain_age_days".into(), json!(k * k * 40));
            r.insert("uses_https".into(), json!(k % 3 == 0));
            path.prepare(&r, &context, unknown).unwrap().values
        })
        .collect();
    let sixteen: Vec<&[rein_system::FeatureValue]> = rows.iter().map(Vec::as_slice).collect();
    for (engine, model) in [("rein", &model), ("ONNX Runtime", &ort_model)] {
        group.bench_function(format!("inference (1 row), {engine}"), |b| {
            b.iter(|| model.infer(&[&prepared.values]).unwrap())
        });
        group.bench_function(format!("inference (16 rows, one call), {engine}"), |b| {
            b.iter(|| model.infer(&sixteen).unwrap())
        });
    }
    let mut i = 0u64;
    group.bench_function("whole decision path", |b| {
        b.iter(|| {
            i += 1;
            let unit = format!("user-{}", i % 1000);
            let prepared = path.prepare(&features, &context, unknown).unwrap();
            let output = model.infer(&[&prepared.values]).map(|mut o| o.remove(0));
            path.finish(prepared, Some(output), &context, Some(&unit), i).unwrap()
        })
    });
    group.bench_function("response JSON", |b| {
        let prepared = path.prepare(&features, &context, unknown).unwrap();
        let output = model.infer(&[&prepared.values]).map(|mut o| o.remove(0));
        let outcome = path.finish(prepared, Some(output), &context, None, 0).unwrap();
        b.iter(|| serde_json::to_vec(&outcome).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
