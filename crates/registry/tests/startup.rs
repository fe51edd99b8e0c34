//! Start-up: the system file's model becomes its component's first version and champion,
//! the same on every start; a changed file moves a champion start-up set, never one a
//! person moved; a champion that no longer fits stops the start, naming why.

use std::path::{Path, PathBuf};

use rein_registry::startup::{self, STARTUP};
use rein_registry::store::Registry;
use rein_registry::{CHALLENGER, CHAMPION, NewVersion, RegistryError};
use rein_runtime::Runtime;
use rein_system::System;
use rein_telemetry::clock::ManualClock;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/phishing-warning")
}

/// The example's model with one byte of its producer's name changed: another version.
fn variant(tag: u8) -> Vec<u8> {
    let mut bytes = std::fs::read(example().join("model.onnx")).unwrap();
    let at = bytes.windows(8).position(|w| w == b"skl2onnx").unwrap();
    bytes[at + 7] = tag;
    bytes
}

/// The example copied into `dir`, its model replaced by `model`.
fn system_with(dir: &Path, model: &[u8], edit: impl Fn(String) -> String) -> System {
    let text = edit(std::fs::read_to_string(example().join("rein.toml")).unwrap());
    std::fs::write(dir.join("rein.toml"), text).unwrap();
    std::fs::write(dir.join("model.onnx"), model).unwrap();
    rein_system::load(&dir.join("rein.toml")).unwrap_or_else(|d| panic!("{d}"))
}

fn start(registry: &Registry, system: &System) -> Result<Vec<startup::Serving>, RegistryError> {
    let runtime = Runtime::for_system(system).unwrap();
    let models = rein_runtime::load_system(system).unwrap_or_else(|d| panic!("{d}"));
    startup::start(registry, system, &models, &runtime)
}

#[test]
fn the_system_files_model_is_the_first_version_and_champion_on_every_start() {
    let (dir, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let original = std::fs::read(example().join("model.onnx")).unwrap();
    let system = system_with(dir.path(), &original, |t| t);
    let registry = Registry::in_data_dir(data.path(), ManualClock::new(1_000)).unwrap();
    let serving = start(&registry, &system).unwrap();
    assert_eq!(serving[0].champion.version(), "sha256:d019131ec354", "the version answers carried before a registry");
    assert_eq!(serving[0].champion.model().info().version, "sha256:d019131ec354");
    assert!(serving[0].notes.is_empty(), "{:?}", serving[0].notes);
    let versions = registry.versions("phishing").unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].registered_by, STARTUP);
    assert!(versions[0].source.ends_with("model.onnx"), "{}", versions[0].source);
    let history = registry.history("phishing").unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].alias.as_str(), history[0].by.as_str()), (CHAMPION, STARTUP));

    // again: the same version, nothing recorded
    let again = start(&registry, &system).unwrap();
    assert_eq!(again[0].champion.version(), "sha256:d019131ec354");
    assert_eq!(registry.versions("phishing").unwrap(), versions);
    assert_eq!(registry.history("phishing").unwrap(), history);

    // a named version in the file names the version
    let named = tempfile::tempdir().unwrap();
    let data2 = tempfile::tempdir().unwrap();
    let system = system_with(named.path(), &original, |t| {
        t.replacen("model = { path = \"model.onnx\"", "model = { path = \"model.onnx\", version = \"2026.11\"", 1)
    });
    let registry2 = Registry::in_data_dir(data2.path(), ManualClock::new(1_000)).unwrap();
    assert_eq!(start(&registry2, &system).unwrap()[0].champion.version(), "2026.11");
}

#[test]
fn a_changed_file_moves_the_champion_start_up_set_but_not_one_a_person_moved() {
    let (dir, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let clock = ManualClock::new(1_000);
    let registry = Registry::in_data_dir(data.path(), clock.clone()).unwrap();
    let original = std::fs::read(example().join("model.onnx")).unwrap();
    start(&registry, &system_with(dir.path(), &original, |t| t)).unwrap();

    // the team edits the file to a retrained model: it serves, and the move says why
    let system = system_with(dir.path(), &variant(b'2'), |t| t);
    let serving = start(&registry, &system).unwrap();
    let v2 = serving[0].champion.version().to_string();
    assert_ne!(v2, "sha256:d019131ec354");
    assert!(serving[0].notes[0].contains("the system file names another model"), "{:?}", serving[0].notes);
    let last = registry.history("phishing").unwrap().pop().unwrap();
    assert_eq!(
        (last.version.as_str(), last.by.as_str(), last.previous.as_deref()),
        (v2.as_str(), STARTUP, Some("sha256:d019131ec354"))
    );

    // a person moves the champion back and a challenger beside it: start-up keeps both
    let runtime = Runtime::for_system(&system).unwrap();
    let component = &system.components[0];
    let (_, v1) = registry.load(component, "sha256:d019131ec354", &runtime).unwrap();
    registry.move_alias(&v1, CHAMPION, "alice", "v2 lost the test").unwrap();
    let third = registry
        .register(
            component,
            &runtime,
            NewVersion {
                component: "phishing".into(),
                bytes: variant(b'3'),
                registered_by: "alice".into(),
                source: "v3.onnx".into(),
                ..NewVersion::default()
            },
        )
        .unwrap();
    registry.move_alias(&third.checked, CHALLENGER, "alice", "try it").unwrap();
    let serving = start(&registry, &system).unwrap();
    assert_eq!(serving[0].champion.version(), "sha256:d019131ec354", "the person's move is kept");
    assert_eq!(serving[0].others.iter().map(|c| c.version()).collect::<Vec<_>>(), [third.version.id.as_str()]);
    let note = &serving[0].notes[0];
    assert!(
        note.contains("moved by alice") && note.contains(&format!("rein models alias SYSTEM phishing champion {v2}")),
        "{note}"
    );
}

#[test]
fn a_champion_that_cannot_be_served_stops_the_start_naming_why() {
    let (dir, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let registry = Registry::in_data_dir(data.path(), ManualClock::new(1_000)).unwrap();
    let original = std::fs::read(example().join("model.onnx")).unwrap();
    let system = system_with(dir.path(), &original, |t| t);
    start(&registry, &system).unwrap();
    let runtime = Runtime::for_system(&system).unwrap();
    let (v1, checked) = registry.load(&system.components[0], "sha256:d019131ec354", &runtime).unwrap();
    registry.move_alias(&checked, CHAMPION, "alice", "pinned").unwrap();
    // the stored artifact is damaged on disk while the file moves on to another model
    std::fs::write(registry.artifact_path(&v1.sha256), b"damaged").unwrap();
    let system = system_with(dir.path(), &variant(b'2'), |t| t);
    let e = start(&registry, &system).expect_err("a damaged champion must not serve");
    assert!(matches!(e, RegistryError::CorruptArtifact { .. }), "{e:?}");
    assert!(e.to_string().contains("version `sha256:d019131ec354` of component `phishing`"), "{e}");
}
