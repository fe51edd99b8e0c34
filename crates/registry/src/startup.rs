//! Start-up: the system file's model becomes a registered version of its component (the
//! same bytes are the same version, on every start), and each component's champion is
//! loaded and checked. The champion is the system file's model unless someone moved it:
//! a move made by start-up follows the file when the file names another model; a move made
//! by a person is kept, and start-up says so.

use std::sync::Arc;

use rein_runtime::ServedModel;
use rein_system::System;

use crate::check::{self, Checked};
use crate::error::RegistryError;
use crate::history::{CHALLENGER, CHAMPION};
use crate::store::Registry;
use crate::version::{NewVersion, Provenance};

/// Who start-up registers and moves as.
pub const STARTUP: &str = "rein.toml";

/// What a component serves after start-up.
#[derive(Debug, Clone)]
pub struct Serving {
    /// Its champion, which answers predictions.
    pub champion: Checked,
    /// Other aliased versions loaded beside it (the challenger), for OIP v2 and later for
    /// traffic plans.
    pub others: Vec<Checked>,
    /// What start-up did or kept that an operator should know, for the log.
    pub notes: Vec<String>,
}

/// Registers each component's system-file model (`file_models`: loaded in component order,
/// as `rein_runtime::load_system` loads them) and loads each champion.
pub fn start(
    registry: &Registry,
    system: &System,
    file_models: &[Arc<dyn ServedModel>],
    runtime: &rein_runtime::Runtime,
) -> Result<Vec<Serving>, RegistryError> {
    let mut serving = Vec::with_capacity(system.components.len());
    for (component, file_model) in system.components.iter().zip(file_models) {
        let path = &component.model.path;
        let bytes = std::fs::read(path).map_err(|source| RegistryError::Io {
            path: path.clone(),
            op: "read the system file's model",
            source,
        })?;
        let profile_path = path.with_extension("profile.json");
        let profile = std::fs::read(&profile_path).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let new = NewVersion {
            component: component.name.clone(),
            bytes,
            id: component.model.version.clone(),
            parent: None,
            registered_by: STARTUP.into(),
            source: path.display().to_string(),
            provenance: Provenance { profile, ..Provenance::default() },
        };
        let registered = registry.register_with(component, new, |id, bytes, source| {
            if file_model.info().version == id {
                check::check_loaded(component, file_model.clone())
            } else {
                check::check(component, id, bytes, source, runtime)
            }
        })?;
        let file_version = registered.version.id.clone();
        let mut notes = Vec::new();
        let history = registry.history(&component.name)?;
        let last_champion = history.iter().rev().find(|m| m.alias == CHAMPION);
        let champion = match last_champion {
            None => {
                registry.move_alias(&registered.checked, CHAMPION, STARTUP, "the system file's model")?;
                registered.checked.clone()
            }
            Some(m) if m.version == file_version => registered.checked.clone(),
            Some(m) if m.by == STARTUP => {
                registry.move_alias(&registered.checked, CHAMPION, STARTUP, "the system file names another model")?;
                notes.push(format!(
                    "component `{}`: the system file names another model, version `{file_version}`: it is the champion \
                     now (it was `{}`)",
                    component.name, m.version
                ));
                registered.checked.clone()
            }
            Some(m) => {
                notes.push(format!(
                    "component `{}`: serving champion `{}` (moved by {} at {} ms), not the system file's model \
                     `{file_version}`; `rein models alias SYSTEM {} champion {file_version}` serves the file's",
                    component.name, m.version, m.by, m.at_ms, component.name
                ));
                registry.load(component, &m.version, runtime)?.1
            }
        };
        let mut others = Vec::new();
        if let Some(challenger) = history::current_of(&history, CHALLENGER)
            && challenger != champion.version()
        {
            let loaded = if challenger == file_version {
                Ok(registered.checked.clone())
            } else {
                registry.load(component, &challenger, runtime).map(|(_, c)| c)
            };
            match loaded {
                Ok(checked) => others.push(checked),
                Err(e) => notes.push(format!("component `{}`: challenger not loaded: {e}", component.name)),
            }
        }
        serving.push(Serving { champion, others, notes });
    }
    Ok(serving)
}

mod history {
    pub use crate::history::*;

    /// Where `alias` points after all `moves`.
    pub fn current_of(moves: &[AliasMove], alias: &str) -> Option<String> {
        current(moves).remove(alias)
    }
}
