//! The registry against real models: versions stored by content, refusals that name the
//! mismatch and leave the serving version alone, aliases and their history.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rein_registry::store::Registry;
use rein_registry::{CHALLENGER, CHAMPION, CheckError, NewVersion, Provenance, RegistryError, history};
use rein_runtime::{Runtime, RuntimeError};
use rein_system::Component;
use rein_telemetry::clock::ManualClock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn runtime() -> Runtime {
    Runtime::init(None, None).unwrap_or_else(|e| panic!("{e}\n(run `bash scripts/setup-onnxruntime.sh`)"))
}

fn model(name: &str) -> Vec<u8> {
    std::fs::read(root().join("fixtures/models").join(format!("{name}.onnx"))).unwrap()
}

/// `scaler_logreg` with one label renamed in its classifier node (same length, so the
/// protobuf stays valid): a model of other labels than the component's.
fn relabelled() -> Vec<u8> {
    replace_once(&model("scaler_logreg"), b"phishing", b"spamming")
}

/// `scaler_logreg` with its graph renamed: other bytes, the same answers.
fn retrained() -> Vec<u8> {
    replace_once(&model("scaler_logreg"), b"scaler_logreg", b"scaler_logrex")
}

fn replace_once(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at: Vec<usize> = bytes.windows(from.len()).enumerate().filter(|(_, w)| *w == from).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "the fixture holds the string once");
    let mut out = bytes.to_vec();
    out[at[0]..at[0] + to.len()].copy_from_slice(to);
    out
}

/// The component `scaler_logreg` was trained for: six numbers, labels legit/phishing.
fn component(dir: &Path) -> Component {
    let features: String =
        (0..6).map(|i| format!("[[components.features]]\nname = \"f{i}\"\ntype = \"number\"\n")).collect();
    let text = format!(
        "[system]\nname = \"reg\"\n\n[[components]]\nname = \"phish\"\ntask = \"binary\"\nlabels = [\"legit\", \"phishing\"]\n\
         model = {{ path = \"{}\" }}\n{features}",
        root().join("fixtures/models/scaler_logreg.onnx").display()
    );
    let path = dir.join("rein.toml");
    std::fs::write(&path, text).unwrap();
    rein_system::load(&path).unwrap().components.remove(0)
}

fn new(bytes: Vec<u8>) -> NewVersion {
    NewVersion {
        component: "phish".into(),
        bytes,
        registered_by: "alice".into(),
        source: "model.onnx".into(),
        ..NewVersion::default()
    }
}

struct Setup {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    registry: Registry,
    component: Component,
    runtime: Runtime,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    let registry = Registry::in_data_dir(dir.path(), clock.clone()).unwrap();
    let component = component(dir.path());
    Setup { dir, clock, registry, component, runtime: runtime() }
}

fn stored_artifacts(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("models/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_version_is_stored_by_content_with_its_provenance_and_registering_it_again_is_the_same_version() {
    let s = setup();
    let bytes = model("scaler_logreg");
    let sha = rein_registry::version::sha256_hex(&bytes);
    let mut first = new(bytes.clone());
    first.provenance = Provenance {
        data_digest: Some("sha256:feedface".into()),
        data_description: Some("400 labelled URLs, November".into()),
        code_version: Some("3f2a9c1".into()),
        params: [("max_iter".to_string(), "500".to_string())].into(),
        metrics: [("auc".to_string(), 0.93)].into(),
        profile: Some(serde_json::json!({"component": "phish", "columns": []})),
    };
    let registered = s.registry.register(&s.component, &s.runtime, first).unwrap();
    assert!(registered.created);
    assert_eq!(
        registered.version.id,
        format!("sha256:{}", &sha[..12]),
        "the short content hash, as rein.toml's default"
    );
    assert_eq!(registered.checked.model().info().version, registered.version.id, "it answers as its version");
    assert_eq!(stored_artifacts(s.dir.path()), [format!("{sha}.onnx")]);
    assert_eq!(std::fs::read(s.registry.artifact_path(&sha)).unwrap(), bytes);

    s.clock.advance(Duration::from_secs(60));
    let again = s.registry.register(&s.component, &s.runtime, new(bytes.clone())).unwrap();
    assert!(!again.created, "the same bytes are the same version");
    assert_eq!(again.version, registered.version, "kept as first registered: time, who, provenance");

    // kept across a reopen, as registered
    drop(s.registry);
    let reopened = Registry::in_data_dir(s.dir.path(), s.clock.clone()).unwrap();
    let versions = reopened.versions("phish").unwrap();
    assert_eq!(versions, std::slice::from_ref(&registered.version));
    let v = &versions[0];
    assert_eq!(v.registered_by, "alice");
    assert_eq!(v.registered_at_ms, 1_700_000_000_000);
    assert_eq!(v.provenance.code_version.as_deref(), Some("3f2a9c1"));
    assert_eq!(v.provenance.metrics["auc"], 0.93);
    assert_eq!(v.provenance.profile.as_ref().unwrap()["component"], "phish");

    // the same bytes under another name, another version's name, an unknown parent: refused, naming why
    let mut renamed = new(bytes.clone());
    renamed.id = Some("v2".into());
    let e = reopened.register(&s.component, &s.runtime, renamed).unwrap_err();
    assert!(matches!(e, RegistryError::AlreadyRegistered { .. }), "{e}");
    assert!(e.to_string().contains(&format!("already version `{}`", v.id)), "{e}");
    let mut taken = new(retrained());
    taken.id = Some(v.id.clone());
    let e = reopened.register(&s.component, &s.runtime, taken).unwrap_err();
    assert!(e.to_string().contains("a version never changes"), "{e}");
    let mut orphan = new(retrained());
    orphan.parent = Some("v0".into());
    let e = reopened.register(&s.component, &s.runtime, orphan).unwrap_err();
    assert_eq!(e.to_string(), format!("parent `v0` is not a version of component `phish`; its versions: {}", v.id));
    let mut child = new(retrained());
    child.parent = Some(v.id.clone());
    child.id = Some("v2".into());
    let child = reopened.register(&s.component, &s.runtime, child).unwrap();
    assert_eq!(child.version.parent.as_deref(), Some(v.id.as_str()));
    assert_eq!(reopened.versions("phish").unwrap().len(), 2);
}

#[test]
fn broken_artifacts_are_refused_naming_the_mismatch_and_never_replace_the_champion() {
    let s = setup();
    let good = s.registry.register(&s.component, &s.runtime, new(model("scaler_logreg"))).unwrap();
    s.registry.move_alias(&good.checked, CHAMPION, "alice", "first").unwrap();
    let before = (s.registry.versions("phish").unwrap(), s.registry.history("phish").unwrap());

    // a corrupt file: the model truncated halfway
    let bytes = model("scaler_logreg");
    let e = s.registry.register(&s.component, &s.runtime, new(bytes[..bytes.len() / 2].to_vec())).unwrap_err();
    let RegistryError::Refused(CheckError::Load { source: RuntimeError::Artifact { reason, .. }, .. }) = &e else {
        panic!("{e:?}")
    };
    assert!(e.to_string().contains("component `phish` is refused"), "{e}");
    assert!(!reason.is_empty());

    // a model of the wrong input width: 5 features, the component has 6
    let e = s.registry.register(&s.component, &s.runtime, new(model("gradient_boosting"))).unwrap_err();
    assert!(matches!(e, RegistryError::Refused(CheckError::Load { source: RuntimeError::Inputs(_), .. })), "{e:?}");
    assert!(e.to_string().contains("takes 5 features (shape [-1, 5]) but the schema has 6"), "{e}");

    // a model of other labels
    let e = s.registry.register(&s.component, &s.runtime, new(relabelled())).unwrap_err();
    let RegistryError::Refused(refusal @ CheckError::Load { source: RuntimeError::Labels(_), .. }) = &e else {
        panic!("{e:?}")
    };
    let text = e.to_string();
    assert!(text.contains("the model produces `spamming` but the component does not declare it"), "{text}");
    assert!(text.contains("the component declares `phishing` but the model does not produce it"), "{text}");
    assert!(refusal.hint().unwrap().contains("exactly the component's labels"));

    // nothing of them is stored, and the champion is where it was
    assert_eq!(stored_artifacts(s.dir.path()), [format!("{}.onnx", good.version.sha256)]);
    assert_eq!((s.registry.versions("phish").unwrap(), s.registry.history("phish").unwrap()), before);
    assert_eq!(s.registry.aliases("phish").unwrap()[CHAMPION], good.version.id);
}

#[test]
fn a_stored_artifact_that_changed_is_refused_not_served() {
    let s = setup();
    let good = s.registry.register(&s.component, &s.runtime, new(model("scaler_logreg"))).unwrap();
    let path = s.registry.artifact_path(&good.version.sha256);
    std::fs::write(&path, retrained()).unwrap();
    let e = s.registry.load(&s.component, &good.version.id, &s.runtime).unwrap_err();
    assert!(matches!(e, RegistryError::CorruptArtifact { .. }), "{e:?}");
    assert!(e.to_string().contains("is corrupt: its SHA-256 is"), "{e}");
}

#[test]
fn alias_moves_form_an_append_only_history_that_says_what_served_when() {
    let s = setup();
    let v1 = s.registry.register(&s.component, &s.runtime, new(model("scaler_logreg"))).unwrap();
    let v2 = s.registry.register(&s.component, &s.runtime, new(retrained())).unwrap();
    let t0 = s.clock.unix_ms_now();
    s.registry.move_alias(&v1.checked, CHAMPION, "alice", "first").unwrap();
    s.clock.advance(Duration::from_secs(3600));
    s.registry.move_alias(&v2.checked, CHALLENGER, "bob", "try it").unwrap();
    s.clock.advance(Duration::from_secs(3600));
    let moved = s.registry.move_alias(&v2.checked, CHAMPION, "bob", "it won").unwrap();
    assert!(moved.changed);
    assert_eq!(moved.record.previous.as_deref(), Some(v1.version.id.as_str()));
    let same = s.registry.move_alias(&v2.checked, CHAMPION, "bob", "again").unwrap();
    assert!(!same.changed, "the same move by the same hand records nothing");
    assert_eq!(same.record, moved.record);
    s.clock.advance(Duration::from_secs(60));
    let pinned = s.registry.move_alias(&v2.checked, CHAMPION, "carol", "pinned").unwrap();
    assert!(pinned.changed, "by another hand it is recorded: the alias is now carol's");
    assert_eq!(pinned.record.previous.as_deref(), Some(v2.version.id.as_str()));

    let moves = s.registry.history("phish").unwrap();
    assert_eq!(moves.len(), 4);
    let at = |t| history::alias_at(&moves, CHAMPION, t).map(|m| m.version.clone());
    assert_eq!(at(t0 - 1), None);
    assert_eq!(at(t0 + 3_600_000), Some(v1.version.id.clone()));
    assert_eq!(at(t0 + 7_199_999), Some(v1.version.id.clone()));
    assert_eq!(at(t0 + 7_200_000), Some(v2.version.id.clone()));
    assert_eq!((moves[2].by.as_str(), moves[3].by.as_str()), ("bob", "carol"));

    // the database itself refuses to rewrite history or a version
    let db = rusqlite::Connection::open(s.dir.path().join("models/registry.db")).unwrap();
    let e = db.execute("UPDATE alias_moves SET version = 'x'", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = db.execute("DELETE FROM alias_moves", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = db.execute("UPDATE versions SET registered_by = 'mallory'", []).unwrap_err();
    assert!(e.to_string().contains("never changes"), "{e}");

    // bad alias names are refused with the rule
    let e = s.registry.move_alias(&v1.checked, "Champion!", "alice", "").unwrap_err();
    assert!(e.to_string().contains("lower-case letters"), "{e}");
}

#[test]
fn a_move_never_goes_back_in_time_even_when_the_clock_does() {
    let dir = tempfile::tempdir().unwrap();
    let component = component(dir.path());
    let runtime = runtime();
    let late = ManualClock::new(2_000_000);
    let early = ManualClock::new(1_000_000);
    let a = Registry::in_data_dir(dir.path(), late).unwrap();
    let b = Registry::in_data_dir(dir.path(), early).unwrap();
    let v1 = a.register(&component, &runtime, new(model("scaler_logreg"))).unwrap();
    let v2 = b.register(&component, &runtime, new(retrained())).unwrap();
    a.move_alias(&v1.checked, CHAMPION, "a", "").unwrap();
    let second = b.move_alias(&v2.checked, CHAMPION, "b", "").unwrap();
    assert_eq!(second.record.at_ms, 2_000_000, "another process's earlier clock does not reorder the history");
    let moves = a.history("phish").unwrap();
    assert_eq!(history::alias_at(&moves, CHAMPION, 2_000_000).unwrap().version, v2.version.id);
}

trait Now {
    fn unix_ms_now(&self) -> i64;
}

impl Now for Arc<ManualClock> {
    fn unix_ms_now(&self) -> i64 {
        rein_telemetry::clock::Clock::unix_ms(self.as_ref())
    }
}
