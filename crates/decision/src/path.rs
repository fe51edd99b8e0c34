//! The decision path of one component, top to bottom:
//! schema → input guardrails → (the caller runs the model) → output guardrails → experience.

use rein_system::{Action, Component, FeatureValue, Mode, OnError, OutputValue, Stage, UnknownFeatures};
use serde::Serialize;

use std::cell::OnceCell;

use crate::condition::{Compiled, Env};
use crate::experience::{self, CapApplied, FrequencyLimiter, Reason, Shown};
use crate::guardrails::{self, ActionTaken, Scope, Variables};
use crate::model::{ModelError, ModelOutput};
use crate::output::Output;
use crate::schema::{self, FieldError};

/// Units whose frequency-cap history is kept in memory, per component.
pub const DEFAULT_MAX_TRACKED_UNITS: usize = 100_000;

pub struct DecisionPath {
    component: Component,
    limiter: FrequencyLimiter,
    /// Each guardrail's condition compiled for the common cases, in the component's order.
    compiled: Vec<Option<Compiled>>,
    has_input_rules: bool,
    has_output_rules: bool,
}

/// Why a request gets no decision.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("the features do not fit the schema of component `{component}`")]
    Schema { component: String, errors: Vec<FieldError> },
    #[error("refused by guardrail `{rule}`: {message}")]
    Rejected { rule: String, message: String },
    /// A rule's condition could not be evaluated and the rule denies on error.
    #[error("refused: guardrail `{rule}` could not be evaluated ({error}) and denies on error")]
    GuardrailFailed { rule: String, error: String },
    #[error("the model failed and component `{component}` declares no fallback: {error}")]
    ModelUnavailable { component: String, error: ModelError },
}

/// A request that passed the schema and the input guardrails.
pub struct Prepared<'a> {
    /// One value per schema feature, in schema order: the model's input.
    pub values: Vec<FeatureValue>,
    /// The request's values as CEL maps, built the first time the interpreter is needed.
    vars: OnceCell<Variables<'a>>,
    effects: Effects,
}

impl Prepared<'_> {
    /// False when an input guardrail already decided the output: the model is not called.
    pub fn needs_model(&self) -> bool {
        self.effects.input_override.is_none()
    }
}

/// What one request offers its guardrails.
#[derive(Clone, Copy)]
struct Request<'r, 'a> {
    values: &'r [FeatureValue],
    context: &'r serde_json::Value,
    vars: &'r OnceCell<Variables<'a>>,
}

/// What the guardrails of both stages did to one request.
#[derive(Default)]
struct Effects {
    actions: Vec<ActionTaken>,
    /// The first input override: rule, declared output, mode.
    input_override: Option<(String, OutputValue, Option<Mode>)>,
    /// The first rule that escalated.
    escalation: Option<String>,
    /// A mode an output override chose, with its reason.
    forced: Option<(Mode, Reason)>,
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
    /// The show counted against the unit's frequency caps, for [`DecisionPath::withdraw`].
    #[serde(skip)]
    shown: Option<Shown>,
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
        let compiled =
            component.guardrails.iter().map(|g| Compiled::new(g.condition.program.expression(), &component)).collect();
        Self { component, limiter, compiled, has_input_rules, has_output_rules }
    }

    pub fn component(&self) -> &Component {
        &self.component
    }

    /// Schema validation and input guardrails.
    pub fn prepare(
        &self,
        features: &impl schema::Features,
        context: &serde_json::Value,
        unknown: UnknownFeatures,
    ) -> Result<Prepared<'_>, Refusal> {
        let values = schema::validate(&self.component, features, unknown)
            .map_err(|errors| Refusal::Schema { component: self.component.name.clone(), errors })?;
        let mut prepared = Prepared { values, vars: OnceCell::new(), effects: Effects::default() };
        if self.has_input_rules {
            let request = Request { values: &prepared.values, context, vars: &prepared.vars };
            self.run_rules(Stage::Input, request, None, &mut prepared.effects)?;
        }
        Ok(prepared)
    }

    /// Runs the rules of one stage in the order written. At the input stage there is no
    /// output yet: an override decides it and the model is skipped. At the output stage
    /// overrides and clamps change `output`, and later rules see the change.
    /// A condition runs compiled where that is certain to agree with the CEL interpreter,
    /// and in the interpreter otherwise (see [`crate::condition`]).
    fn run_rules<'a>(
        &'a self,
        stage: Stage,
        request: Request<'_, 'a>,
        mut output: Option<&mut Output>,
        fx: &mut Effects,
    ) -> Result<(), Refusal> {
        let c = &self.component;
        guardrails::with_root(|root| {
            let mut scope: Option<Scope> = None;
            for (rule, compiled) in c.guardrails.iter().zip(&self.compiled).filter(|(g, _)| g.stage == stage) {
                let mut taken = ActionTaken::new(rule);
                let env = Env { values: request.values, context: request.context, output: output.as_deref() };
                let fired = match compiled.as_ref().and_then(|f| f.eval(&env)) {
                    Some(fired) => Ok(fired),
                    None => {
                        let vars = request.vars.get_or_init(|| Variables::new(c, request.values, request.context));
                        scope.get_or_insert_with(|| Scope::new(root, vars, output.as_deref())).fires(rule)
                    }
                };
                let fired = match fired {
                    Ok(fired) => fired,
                    // A failing rule is never skipped silently: it acts as declared and is recorded.
                    Err(error) => {
                        taken.on_error = Some(rule.on_error.as_str());
                        match rule.on_error {
                            OnError::Deny => return Err(Refusal::GuardrailFailed { rule: rule.name.clone(), error }),
                            OnError::Escalate => {
                                taken.error = Some(error);
                                taken.to = Some(match &rule.action {
                                    Action::Escalate { to } => to.clone(),
                                    _ => "human".into(),
                                });
                                fx.escalation.get_or_insert_with(|| rule.name.clone());
                                fx.actions.push(taken);
                                continue;
                            }
                            OnError::Ignore => {
                                taken.error = Some(error);
                                fx.actions.push(taken);
                                continue;
                            }
                            OnError::Apply => {
                                taken.error = Some(error);
                                true
                            }
                        }
                    }
                };
                if !fired {
                    continue;
                }
                match (&rule.action, output.as_deref_mut()) {
                    (Action::Reject { message }, _) => {
                        return Err(Refusal::Rejected { rule: rule.name.clone(), message: message.clone() });
                    }
                    (Action::Override { output: declared, mode }, None) => {
                        taken.after = Some(Output::declared(c, declared).to_json());
                        fx.input_override.get_or_insert_with(|| (rule.name.clone(), declared.clone(), *mode));
                    }
                    (Action::Override { output: declared, mode }, Some(out)) => {
                        taken.before = Some(out.to_json());
                        *out = Output::declared(c, declared);
                        taken.after = Some(out.to_json());
                        if let Some(scope) = scope.as_mut() {
                            scope.set_output(out);
                        }
                        if let Some(mode) = mode {
                            let reason = Reason::Guardrail { rule: rule.name.clone(), action: "override".into() };
                            fx.forced = Some((*mode, reason));
                        }
                    }
                    (Action::Clamp { min, max }, Some(out)) => {
                        if let Some(v) = out.value {
                            let clamped = v.max(min.unwrap_or(f64::NEG_INFINITY)).min(max.unwrap_or(f64::INFINITY));
                            taken.before = Some(serde_json::json!(v));
                            taken.after = Some(serde_json::json!(clamped));
                            out.value = Some(clamped);
                            out.score = Some(clamped);
                            if let Some(scope) = scope.as_mut() {
                                scope.set_output(out);
                            }
                        }
                    }
                    // The system file refuses clamps at the input stage.
                    (Action::Clamp { .. }, None) => {}
                    (Action::Escalate { to }, _) => {
                        taken.to = Some(to.clone());
                        fx.escalation.get_or_insert_with(|| rule.name.clone());
                    }
                    (Action::Flag, _) => {}
                }
                fx.actions.push(taken);
            }
            Ok(())
        })
    }

    /// Output guardrails and the experience policy, given what the model said
    /// (`None` when [`Prepared::needs_model`] was false); `context` as given to [`Self::prepare`].
    pub fn finish<'a>(
        &'a self,
        prepared: Prepared<'a>,
        model: Option<Result<ModelOutput, ModelError>>,
        context: &serde_json::Value,
        unit: Option<&str>,
        now_ms: u64,
    ) -> Result<Outcome, Refusal> {
        let c = &self.component;
        let Prepared { values, vars, mut effects } = prepared;
        let mut fallback = None;

        let model = model.map(|result| result.and_then(|raw| Output::from_model(c, &raw)));
        let (raw, mut output) = match (effects.input_override.take(), model) {
            (Some((rule, declared, mode)), _) => {
                if let Some(mode) = mode {
                    effects.forced = Some((mode, Reason::Guardrail { rule, action: "override".into() }));
                }
                (None, Output::declared(c, &declared))
            }
            (None, Some(Ok(out))) => (Some(out.clone()), out),
            (None, other) => {
                let error = match other {
                    Some(Err(e)) => e,
                    _ => ModelError::Run("the model was not called".into()),
                };
                let Some(fb) = &c.fallback else {
                    return Err(Refusal::ModelUnavailable { component: c.name.clone(), error });
                };
                fallback = Some(error.to_string());
                effects.forced = Some((fb.mode, Reason::Fallback { error: error.to_string() }));
                (None, Output::declared(c, &fb.output))
            }
        };

        if self.has_output_rules {
            let request = Request { values: &values, context, vars: &vars };
            self.run_rules(Stage::Output, request, Some(&mut output), &mut effects)?;
        }

        let Effects { actions, escalation, forced, .. } = effects;
        let mut shown = None;
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
            let (mode, capped, counted) = self.limiter.apply(unit, mode, now_ms);
            shown = counted;
            Decision { mode, reason, capped }
        };
        Ok(Outcome { raw, output, guardrails: actions, decision, fallback, shown })
    }

    /// Takes back the show [`Self::finish`] counted against `unit`'s frequency caps for
    /// `outcome`, for a decision that never reached the user (e.g. it could not be recorded).
    /// No-op when nothing was counted. Call it at most once per outcome.
    pub fn withdraw(&self, unit: Option<&str>, outcome: &Outcome) {
        if let (Some(unit), Some(shown)) = (unit, outcome.shown) {
            self.limiter.withdraw(unit, shown);
        }
    }
}
