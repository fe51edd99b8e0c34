//! A component's loaded model versions, keyed by version, one serving predictions by
//! default: what a rollout's traffic plan will choose among, beside OIP v2's pick by key.
//! A set never changes once built: a swap builds another and replaces it whole
//! ([`crate::app::ComponentRuntime::swap`]), so a request holding one sees it stay as it was.

use std::collections::BTreeMap;
use std::sync::Arc;

use rein_runtime::ServedModel;
use rein_system::traffic::Target;

/// Loaded models of one component, each under its own version.
#[derive(Clone)]
pub struct ModelVersions {
    /// In the order they were added.
    models: Vec<Arc<dyn ServedModel>>,
    /// Which of them serves predictions.
    default: usize,
    /// Registry aliases naming loaded versions (`champion` is always the default), for a
    /// traffic plan's arms.
    aliases: BTreeMap<String, String>,
}

/// A version added to a component that already holds it.
#[derive(Debug, thiserror::Error)]
#[error("version `{0}` is already loaded")]
pub struct DuplicateVersion(pub String);

impl ModelVersions {
    /// One version, serving by default.
    pub fn new(default: Arc<dyn ServedModel>) -> Self {
        Self { models: vec![default], default: 0, aliases: BTreeMap::new() }
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

    /// These versions with `model` serving by default: it replaces a loaded model of its
    /// version, or joins them. The version that served before stays loaded.
    pub fn serving(&self, model: Arc<dyn ServedModel>) -> Self {
        let mut next = self.holding(model.clone());
        next.default = next.position(&model.info().version).unwrap_or(0);
        next
    }

    /// These versions and `model` (replacing a loaded model of its version); the default
    /// stays the default.
    pub fn holding(&self, model: Arc<dyn ServedModel>) -> Self {
        let mut next = self.clone();
        match next.position(&model.info().version) {
            Some(i) => next.models[i] = model,
            None => next.models.push(model),
        }
        next
    }

    /// These versions without those `keep` refuses; the default is always kept.
    pub fn retaining(&self, keep: impl Fn(&str) -> bool) -> Self {
        let default = self.default().clone();
        let models: Vec<_> =
            self.models.iter().filter(|m| Arc::ptr_eq(m, &default) || keep(&m.info().version)).cloned().collect();
        let default = models.iter().position(|m| Arc::ptr_eq(m, &default)).unwrap_or(0);
        let mut aliases = self.aliases.clone();
        aliases.retain(|_, v| models.iter().any(|m| &m.info().version == v));
        Self { models, default, aliases }
    }

    /// These versions with `alias` naming the loaded `version` (nothing changes if it is
    /// not loaded).
    pub fn aliased(mut self, alias: &str, version: &str) -> Self {
        if alias != "champion" && self.get(version).is_some() {
            self.aliases.insert(alias.to_string(), version.to_string());
        }
        self
    }

    /// The loaded version a traffic plan names: `champion` is the default; another alias
    /// the version it names, if loaded; a version itself, if loaded.
    pub fn resolve(&self, target: Target<'_>) -> Option<&Arc<dyn ServedModel>> {
        match target {
            Target::Alias("champion") => Some(self.default()),
            Target::Alias(alias) => self.aliases.get(alias).and_then(|v| self.get(v)),
            Target::Version(version) => self.get(version),
        }
    }

    /// Each alias and the loaded version it names (`champion` included).
    pub fn aliases(&self) -> BTreeMap<String, String> {
        let mut all = self.aliases.clone();
        all.insert("champion".into(), self.default().info().version.clone());
        all
    }

    /// The version predictions use.
    pub fn default(&self) -> &Arc<dyn ServedModel> {
        &self.models[self.default]
    }

    /// The loaded version `version`, if there is one.
    pub fn get(&self, version: &str) -> Option<&Arc<dyn ServedModel>> {
        self.models.iter().find(|m| m.info().version == version)
    }

    /// Every loaded version, the default first.
    pub fn versions(&self) -> Vec<&str> {
        let default = self.default().info().version.as_str();
        std::iter::once(default)
            .chain(self.models.iter().map(|m| m.info().version.as_str()).filter(|v| *v != default))
            .collect()
    }

    fn position(&self, version: &str) -> Option<usize> {
        self.models.iter().position(|m| m.info().version == version)
    }
}

impl From<Arc<dyn ServedModel>> for ModelVersions {
    fn from(model: Arc<dyn ServedModel>) -> Self {
        Self::new(model)
    }
}
