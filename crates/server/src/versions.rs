//! A component's loaded model versions, keyed by version, one serving predictions by
//! default: what a rollout's traffic plan will choose among, beside OIP v2's pick by key.

use std::sync::Arc;

use rein_runtime::ServedModel;

/// Loaded models of one component, each under its own version.
pub struct ModelVersions {
    /// In the order they were added; the first is the default.
    models: Vec<Arc<dyn ServedModel>>,
}

/// A version added to a component that already holds it.
#[derive(Debug, thiserror::Error)]
#[error("version `{0}` is already loaded")]
pub struct DuplicateVersion(pub String);

impl ModelVersions {
    /// One version, serving by default.
    pub fn new(default: Arc<dyn ServedModel>) -> Self {
        Self { models: vec![default] }
    }

    /// Adds another loaded version beside those held; the default stays the default.
    pub fn with(mut self, model: Arc<dyn ServedModel>) -> Result<Self, DuplicateVersion> {
        let version = &model.info().version;
        if self.get(version).is_some() {
            return Err(DuplicateVersion(version.clone()));
        }
        self.models.push(model);
        Ok(self)
    }

    /// The version predictions use.
    pub fn default(&self) -> &Arc<dyn ServedModel> {
        &self.models[0]
    }

    /// The loaded version `version`, if there is one.
    pub fn get(&self, version: &str) -> Option<&Arc<dyn ServedModel>> {
        self.models.iter().find(|m| m.info().version == version)
    }

    /// Every loaded version, the default first.
    pub fn versions(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.info().version.as_str()).collect()
    }
}

impl From<Arc<dyn ServedModel>> for ModelVersions {
    fn from(model: Arc<dyn ServedModel>) -> Self {
        Self::new(model)
    }
}
