//! The decision path of one component, top to bottom:
//! schema → input guardrails → (the caller runs the model) → output guardrails → experience.

use rein_system::{Action, Component, FeatureValue, Mode, OutputValue, Stage, UnknownFeatures};
use serde::Serialize;

use crate::experience::{self, CapApplied, FrequencyLimiter, Reason};
use crate::guardrails::{self, ActionTaken, Variables};
use crate::model::{ModelError, ModelOutput};
use crate::output::Output;
use crate::schema::{self, FieldError};

/// Units whose frequency-cap history is kept in memory, per component.
pub const DEFAULT_MAX_TRACKED_UNITS: usize = 100_000;

pub struct DecisionPath {
    component: Component,
    limiter: FrequencyLimiter,
    has_input_rules: bool,
    has_output_rules: bool,
    feature_keys: Vec<cel::objects::Key>,
}

/// Why a request gets no decision.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("the features do not fit the schema of component `{component}`")]
    Schema { component: String, errors: Vec<FieldError> },
    #[error("refused by guardrail `{rule}`: {message}")]
    Rejected { rule: String, message: String },
    #[error("the model failed and component `{component}` declares no fallback: {error}")]
    ModelUnavailable { component: String, error: ModelError },
}

/// A request that passed the schema and the input guardrails.
pub struct Prepared {
    /// One value per schema feature, in schema order: the model's input.
    pub values: Vec<FeatureValue>,
    vars: Option<Variables>,
    actions: Vec<ActionTaken>,
    input_override: Option<(String, OutputValue, Option<Mode>)>,
    escalation: Option<String>,
}

impl Prepared {
    /// False when an input guardrail already decided the output: the model is not called.
    pub fn needs_model(&self) -> bool {
        self.input_override.is_none()
    }
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The model's own output, before guardrails; `None` if the model was not called or failed.
    pub raw: Option<Output>,
    /// What the product acts on.
    pub output: Output,
    pub guardrails: Vec<ActionTaken>,
    pub decision: Decision,
    /// Why the fallback was used, if it was.
    pub fallback: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub mode: Mode,
    pub reason: Reason,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capped: Vec<CapApplied>,
}

impl DecisionPath {
    pub fn new(component: Component, max_tracked_units: usize) -> Self {
        let limiter = FrequencyLimiter::new(&component.experience, max_tracked_units);
        let has_input_rules = component.guardrails.iter().any(|g| g.stage == Stage::Input);
        let has_output_rules = component.guardrails.iter().any(|g| g.stage == Stage::Output);
        let feature_keys = guardrails::feature_keys(&component);
        Self { component, limiter, has_input_rules, has_output_rules, feature_keys }
    }

    pub fn component(&self) -> &Component {
        &self.component
    }

    /// Schema validation and input guardrails.
    pub fn prepare(
        &self,
        features: &serde_json::Map<String, serde_json::Value>,
        context: &serde_json::Value,
        unknown: UnknownFeatures,
    ) -> Result<Prepared, Refusal> {
        let values = schema::validate(&self.component, features, unknown)
            .map_err(|errors| Refusal::Schema { component: self.component.name.clone(), errors })?;
        let mut prepared = Prepared { values, vars: None, actions: Vec::new(), input_override: None, escalation: None };
        if self.has_input_rules || self.has_output_rules {
            prepared.vars = Some(Variables::new(&self.feature_keys, &prepared.values, context));
        }
        if !self.has_input_rules {
            return Ok(prepared);
        }
        let vars = prepared.vars.take().expect("built above");
        let c = &self.component;
        guardrails::with_scope(&vars, None, |scope| {
            for rule in c.guardrails.iter().filter(|g| g.stage == Stage::Input) {
                let mut taken = ActionTaken::new(rule);
                match scope.fires(rule) {
                    Ok(false) => continue,
                    Err(error) => taken.error = Some(error),
                    Ok(true) => match &rule.action {
                        Action::Reject { message } => {
                            return Err(Refusal::Rejected { rule: rule.name.clone(), message: message.clone() });
                        }
                        Action::Override { output, mode } => {
                            taken.after = Some(Output::declared(c, output).to_json());
                            if prepared.input_override.is_none() {
                                prepared.input_override = Some((rule.name.clone(), output.clone(), *mode));
                            }
                        }
                        Action::Escalate { to } => {
                            taken.to = Some(to.clone());
                            prepared.escalation.get_or_insert_with(|| rule.name.clone());
                        }
                        Action::Flag | Action::Clamp { .. } => {}
                    },
                }
                prepared.actions.push(taken);
            }
            Ok(())
        })?;
        prepared.vars = Some(vars);
        Ok(prepared)
    }

    /// Output guardrails and the experience policy, given what the model said
    /// (`None` when [`Prepared::needs_model`] was false).
    pub fn finish(
        &self,
        prepared: Prepared,
        model: Option<Result<ModelOutput, ModelError>>,
        unit: Option<&str>,
        now_ms: u64,
    ) -> Result<Outcome, Refusal> {
        let c = &self.component;
        let Prepared { vars, mut actions, input_override, mut escalation, .. } = prepared;
        let mut fallback = None;
        // A guardrail's chosen mode, with the rule that chose it.
        let mut forced: Option<(Mode, Reason)> = None;

        let (raw, mut output) = match (input_override, model) {
            (Some((rule, declared, mode)), _) => {
                if let Some(mode) = mode {
                    forced = Some((mode, Reason::Guardrail { rule, action: "override".into() }));
                }
                (None, Output::declared(c, &declared))
            }
            (None, Some(Ok(raw))) => {
                let out = Output::from_model(c, &raw);
                (Some(out.clone()), out)
            }
            (None, other) => {
                let error = match other {
                    Some(Err(e)) => e,
                    _ => ModelError::Run("the model was not called".into()),
                };
                let Some(fb) = &c.fallback else {
                    return Err(Refusal::ModelUnavailable { component: c.name.clone(), error });
                };
                fallback = Some(error.to_string());
                forced = Some((fb.mode, Reason::Fallback { error: error.to_string() }));
                (None, Output::declared(c, &fb.output))
            }
        };

        if self.has_output_rules {
            let vars = vars.as_ref().expect("built in prepare when rules exist");
            guardrails::with_scope(vars, Some(&output.clone()), |scope| {
                for rule in c.guardrails.iter().filter(|g| g.stage == Stage::Output) {
                    let mut taken = ActionTaken::new(rule);
                    match scope.fires(rule) {
                        Ok(false) => continue,
                        Err(error) => taken.error = Some(error),
                        Ok(true) => match &rule.action {
                            Action::Reject { message } => {
                                return Err(Refusal::Rejected { rule: rule.name.clone(), message: message.clone() });
                            }
                            Action::Clamp { min, max } => {
                                if let Some(v) = output.value {
                                    let clamped =
                                        v.max(min.unwrap_or(f64::NEG_INFINITY)).min(max.unwrap_or(f64::INFINITY));
                                    taken.before = Some(serde_json::json!(v));
                                    taken.after = Some(serde_json::json!(clamped));
                                    output.value = Some(clamped);
                                    output.score = Some(clamped);
                                    scope.set_output(&output);
                                }
                            }
                            Action::Override { output: declared, mode } => {
                                taken.before = Some(output.to_json());
                                output = Output::declared(c, declared);
                                taken.after = Some(output.to_json());
                                scope.set_output(&output);
                                if let Some(mode) = mode {
                                    forced = Some((
                                        *mode,
                                        Reason::Guardrail { rule: rule.name.clone(), action: "override".into() },
                                    ));
                                }
                            }
                            Action::Escalate { to } => {
                                taken.to = Some(to.clone());
                                escalation.get_or_insert_with(|| rule.name.clone());
                            }
                            Action::Flag => {}
                        },
                    }
                    actions.push(taken);
                }
                Ok(())
            })?;
        }

        let decision = if let Some(rule) = escalation {
            Decision {
                mode: Mode::Escalate,
                reason: Reason::Guardrail { rule, action: "escalate".into() },
                capped: Vec::new(),
            }
        } else if let Some((mode, reason)) = forced {
            Decision { mode, reason, capped: Vec::new() }
        } else {
            let score = output.score.unwrap_or(0.0);
            let (mode, reason) = experience::choose(&c.experience.policy, score);
            let (mode, capped) = self.limiter.apply(unit, mode, now_ms);
            Decision { mode, reason, capped }
        };
        Ok(Outcome { raw, output, guardrails: actions, decision, fallback })
    }
}
