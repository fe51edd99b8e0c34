//! The `[[goals]]` tables and the top-level `outcomes` list: each goal's layer, whether it
//! is measured (its metric is `metrics.rs`'s), target and window; and the graph the
//! `supports` links make: links to goals that exist, of a higher layer, without a cycle,
//! every model goal serving one above it.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::experience::parse_duration;
use super::fields::{given, identifier, is_identifier, list, one_of, typed};
use super::metrics::{metric, metric_keys};
use crate::diagnostic::{Reporter, closest};
use crate::raw::{RawGoal, RawTarget, Typed, entries};
use crate::types::{Component, Goal, Layer, Measure, MetricKind, QualityMeasure, RetentionDays, Target};

const LAYERS: [&str; 5] = ["organizational", "leading_indicator", "system", "user_outcome", "model"];
const LAYER_ORDER: &str = "model < user_outcome < system < leading_indicator < organizational";

/// The top-level `outcomes` list, as far as it is known.
pub(super) enum Outcomes {
    /// Not written: outcome names cannot be checked.
    Undeclared,
    /// Written with a value of the wrong type (reported): nothing is checked against it.
    Unknown,
    Declared(Vec<String>),
}

impl Outcomes {
    /// What `System::outcomes` keeps.
    pub(super) fn declared(&self) -> Option<Vec<String>> {
        match self {
            Outcomes::Declared(names) => Some(names.clone()),
            _ => None,
        }
    }
}

/// What the goals' metrics may name: the system's components, outcomes and retention.
pub(super) struct Declared<'a> {
    /// Every component's name as written, valid or not; `None` when they are not all known.
    pub names: Option<Vec<&'a str>>,
    /// The components validated without a mistake.
    pub components: &'a [Component],
    pub outcomes: &'a Outcomes,
    pub retention: RetentionDays,
}

/// `outcomes = [...]`: each name one the outcome API accepts, none twice.
pub(super) fn outcomes(raw: Option<&Typed<Vec<Typed<String>>>>, r: &mut Reporter) -> Outcomes {
    let Some(raw) = raw else { return Outcomes::Undeclared };
    let Some(listed) = list(r, "outcomes", raw) else { return Outcomes::Unknown };
    let mut names: Vec<String> = Vec::new();
    for o in listed {
        let name = o.get_ref();
        if !is_outcome_name(name) {
            r.at(o.span(), format!("outcome name `{name}` is not valid"), Some(OUTCOME_NAME_HINT.into()));
        } else if names.contains(name) {
            r.at(o.span(), format!("outcome `{name}` is listed twice"), None);
        }
        names.push(name.clone());
    }
    Outcomes::Declared(names)
}

pub(super) const OUTCOME_NAME_HINT: &str = "use 1 to 64 lower-case letters, digits and `_`, starting with a letter, as the outcome API accepts (e.g. `left_page`)";

/// As `POST /v1/outcomes` accepts it.
pub(super) fn is_outcome_name(s: &str) -> bool {
    s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The `[[goals]]` tables, each checked, then the graph they make.
pub(super) fn goals(raw: Option<&Typed<Vec<Typed<RawGoal>>>>, declared: &Declared, r: &mut Reporter) -> Vec<Goal> {
    let Some(raw) = raw else { return Vec::new() };
    if let Some(written) = raw.wrong()
        && let toml::Value::Table(_) = written.get_ref()
    {
        r.at(
            written.span(),
            "`[goals]` is now a list of `[[goals]]` tables, one a goal",
            Some(
                "write each goal as `[[goals]]` with `id`, `layer`, `description`, a `metric` (or `measured = false` \
                 and a `note`), `target`, `window` and `supports` (docs/goals.md)"
                    .into(),
            ),
        );
        return Vec::new();
    }
    let listed = list(r, "goals", raw).unwrap_or_default();
    let mut goals = Vec::new();
    for g in &listed {
        if let Some(goal) = goal(g, declared, r) {
            goals.push(goal);
        }
    }
    graph(&listed, r);
    goals
}

fn goal(g: &Spanned<RawGoal>, declared: &Declared, r: &mut Reporter) -> Option<Goal> {
    let raw = g.get_ref();
    let errors_before = r.found.len();
    let id = identifier(
        r,
        "id",
        "goal id",
        raw.id.as_ref(),
        g.span(),
        "this goal has no `id`",
        Some("add `id = \"...\"`: other goals name it in `supports`"),
    );
    let name = id.as_deref().unwrap_or("?");
    let layer = match &raw.layer {
        Some(l) => one_of(r, "layer", l, "layer", &LAYERS).and_then(Layer::parse),
        None => {
            r.at(
                g.span(),
                format!("goal `{name}` has no `layer`"),
                Some(format!("`layer` is one of: {}", LAYERS.join(", "))),
            );
            None
        }
    };
    let description = match &raw.description {
        Some(d) => match typed(r, "description", d) {
            Some(d) if d.get_ref().trim().is_empty() => {
                r.at(d.span(), format!("the description of goal `{name}` is empty"), None);
                None
            }
            d => d.map(|d| d.get_ref().clone()),
        },
        None => {
            r.at(
                g.span(),
                format!("goal `{name}` has no `description`"),
                Some("say in words what success is, e.g. `description = \"users heed the warnings they see\"`".into()),
            );
            None
        }
    };
    let supports: Vec<String> = match &raw.supports {
        Some(s) => list(r, "supports", s).unwrap_or_default().into_iter().map(|s| s.get_ref().clone()).collect(),
        None => Vec::new(),
    };
    let measure = measure(g, name, declared, r);
    if r.found.len() > errors_before {
        return None;
    }
    Some(Goal {
        id: id?,
        layer: layer?,
        description: description?,
        measure: measure?,
        supports,
        location: r.location(g.span().start),
    })
}

/// Every key that is about measuring, with where it is written.
fn measuring_keys(raw: &RawGoal) -> Vec<(Range<usize>, &'static str)> {
    let spans = [
        (raw.metric.as_ref().map(Typed::span), "metric"),
        (raw.target.as_ref().map(Typed::span), "target"),
        (raw.window.as_ref().map(Typed::span), "window"),
    ];
    spans.into_iter().chain(metric_keys(raw)).filter_map(|(span, key)| Some((span?, key))).collect()
}

/// A metric with its target and window, or `measured = false` with a note.
fn measure(g: &Spanned<RawGoal>, name: &str, declared: &Declared, r: &mut Reporter) -> Option<Measure> {
    let raw = g.get_ref();
    let measured = given(r, "measured", &raw.measured).map(|m| *m.get_ref());
    if raw.measured.is_some() && measured.is_none() {
        // of the wrong type (reported): whether the goal is measured is not known
        return None;
    }
    if measured == Some(false) {
        for (span, key) in measuring_keys(raw) {
            r.at(
                span,
                format!("`{key}` does not apply to goal `{name}`, which has `measured = false`"),
                Some("remove it, or measure the goal: remove `measured = false`".into()),
            );
        }
        return match raw.note.as_ref().map(|n| typed(r, "note", n)) {
            Some(Some(n)) if !n.get_ref().trim().is_empty() => Some(Measure::NotMeasured { note: n.get_ref().clone() }),
            Some(Some(n)) => {
                r.at(n.span(), format!("the note of goal `{name}` is empty"), Some(NOTE_HINT.into()));
                None
            }
            Some(None) => None,
            None => {
                r.at(g.span(), format!("goal `{name}` is not measured and has no `note`"), Some(NOTE_HINT.into()));
                None
            }
        };
    }
    if let Some(note) = &raw.note {
        r.at(
            note.span(),
            format!("`note` is for goals with `measured = false`, and goal `{name}` is measured"),
            Some("say what a measured goal means in its `description`".into()),
        );
    }
    let Some(kind) = &raw.metric else {
        {
            r.at(
                g.span(),
                format!("goal `{name}` has no `metric`"),
                Some(
                    "add a `metric` (e.g. `metric = \"outcome_rate\"` with `outcome = \"...\"`); for an objective no \
                     telemetry shows, write `measured = false` and a `note` saying how it is judged"
                        .into(),
                ),
            );
        }
        return None;
    };
    let metric = metric(g, kind, name, declared, r);
    let target = target(g, name, metric.as_ref().map(|m| &m.kind), r);
    let window = window(g, name, metric.as_ref().map(|m| &m.kind), declared.retention, r);
    Some(Measure::Metric { metric: metric?, target: target?, window: window? })
}

const NOTE_HINT: &str =
    "say how the goal is judged without telemetry, e.g. `note = \"from the quarterly finance report\"`";

/// `target = { at_least = x }`, `{ at_most = x }` or both, within what the metric can be.
fn target(g: &Spanned<RawGoal>, name: &str, kind: Option<&MetricKind>, r: &mut Reporter) -> Option<Target> {
    let Some(t) = &g.get_ref().target else {
        r.at(
            g.span(),
            format!("goal `{name}` has no `target`"),
            Some("e.g. `target = { at_least = 0.9 }` or `target = { at_most = 0.05 }`".into()),
        );
        return None;
    };
    let t = typed(r, "target", t)?;
    let RawTarget { at_least, at_most } = t.get_ref();
    let bound = |r: &mut Reporter, key: &str, v: &Option<Typed<f64>>| -> Option<Option<(f64, Range<usize>)>> {
        let Some(v) = v else { return Some(None) };
        let v = typed(r, &format!("target.{key}"), v)?;
        if !v.get_ref().is_finite() {
            r.at(v.span(), format!("`{key}` must be a finite number"), None);
            return None;
        }
        Some(Some((*v.get_ref(), v.span())))
    };
    let (lo, hi) = (bound(r, "at_least", at_least), bound(r, "at_most", at_most));
    let (lo, hi) = (lo?, hi?);
    let range = kind.and_then(|k| match k {
        k if k.is_share() => Some((0.0, Some(1.0), "a share")),
        MetricKind::Quality { measure, .. } if measure.is_bounded() => Some((0.0, Some(1.0), measure.as_str())),
        MetricKind::Quality { measure, .. } if *measure != QualityMeasure::Bias => Some((0.0, None, measure.as_str())),
        MetricKind::Latency { .. } => Some((0.0, None, "a latency")),
        MetricKind::ActiveUnits => Some((0.0, None, "a count of units")),
        _ => None,
    });
    let mut ok = true;
    for (v, span) in [&lo, &hi].into_iter().flatten() {
        if let Some((min, max, what)) = range
            && (*v < min || max.is_some_and(|max| *v > max))
        {
            let within = match max {
                Some(max) => format!("between {min} and {max}"),
                None => format!("at least {min}"),
            };
            r.at(span.clone(), format!("target {v} is outside what {what} can be: it is {within}"), None);
            ok = false;
        }
    }
    let target = match (lo, hi) {
        (None, None) => {
            r.at(
                t.span(),
                "a target needs `at_least`, `at_most` or both",
                Some("e.g. `target = { at_least = 0.9 }`".into()),
            );
            return None;
        }
        (Some((lo, _)), None) => Target::AtLeast(lo),
        (None, Some((hi, _))) => Target::AtMost(hi),
        (Some((lo, span)), Some((hi, _))) => {
            if lo > hi {
                r.at(span, format!("the target's `at_least` ({lo}) is above its `at_most` ({hi})"), None);
                return None;
            }
            Target::Between(lo, hi)
        }
    };
    ok.then_some(target)
}

/// `window = "1d"`: a duration, within what telemetry keeps of the events the metric reads.
fn window(
    g: &Spanned<RawGoal>,
    name: &str,
    kind: Option<&MetricKind>,
    retention: RetentionDays,
    r: &mut Reporter,
) -> Option<Duration> {
    let Some(w) = &g.get_ref().window else {
        r.at(
            g.span(),
            format!("goal `{name}` has no `window`"),
            Some("say over how long the metric is computed, e.g. `window = \"1d\"` or `\"7d\"`".into()),
        );
        return None;
    };
    let w = typed(r, "window", w)?;
    let Some(d) = parse_duration(w.get_ref()) else {
        r.at(
            w.span(),
            format!("`{}` is not a duration", w.get_ref()),
            Some("write a number and a unit: `30s`, `15m`, `12h`, `1d`, `2w`".into()),
        );
        return None;
    };
    // the events it reads, and how long each is kept
    let mut kept = vec![("predictions", retention.predictions)];
    match kind {
        Some(MetricKind::Quality { estimated: false, .. } | MetricKind::FeedbackRate { .. }) => {
            kept.push(("feedback", retention.feedback));
        }
        Some(k) if k.outcome().is_some() => kept.push(("outcomes", retention.outcomes)),
        _ => {}
    }
    for (events, days) in kept {
        if let Some(days) = days
            && d > Duration::from_secs(u64::from(days) * 86_400)
        {
            r.at(
                w.span(),
                format!(
                    "window `{}` is longer than telemetry keeps {events} (`retention_days.{events} = {days}`)",
                    w.get_ref()
                ),
                Some(format!("shorten the window to `{days}d` or less, or keep {events} longer")),
            );
            return None;
        }
    }
    Some(d)
}

/// A goal as the graph sees it, read without reporting (its own checks report).
struct Node<'a> {
    id: &'a Spanned<String>,
    layer: Option<Layer>,
    /// `supports` was written with an entry, valid or not.
    links_written: bool,
    supports: Vec<&'a Spanned<String>>,
}

/// The `supports` links: each to a declared goal other than itself, of a higher layer,
/// once; no cycle; every model goal supporting one. Ids declared twice are reported here.
fn graph(goals: &[&Spanned<RawGoal>], r: &mut Reporter) {
    let nodes: Vec<Node> = goals
        .iter()
        .filter_map(|g| {
            let raw = g.get_ref();
            let id = raw.id.as_ref()?.ok().filter(|id| is_identifier(id.get_ref()))?;
            let layer = raw.layer.as_ref().and_then(Typed::ok).and_then(|l| Layer::parse(l.get_ref()));
            let links_written = raw.supports.as_ref().is_some_and(|s| s.ok().is_none_or(|l| !l.get_ref().is_empty()));
            Some(Node { id, layer, links_written, supports: entries(raw.supports.as_ref()).collect() })
        })
        .collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        if index.contains_key(n.id.get_ref().as_str()) {
            r.at(
                n.id.span(),
                format!("goal `{}` is declared twice", n.id.get_ref()),
                Some("goal ids must be unique".into()),
            );
        } else {
            index.insert(n.id.get_ref(), i);
        }
    }
    let ids: Vec<&str> = nodes.iter().map(|n| n.id.get_ref().as_str()).collect();

    let mut edges: Vec<Vec<(usize, Range<usize>)>> = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        let id = n.id.get_ref();
        let mut seen = HashSet::new();
        for s in &n.supports {
            let target = s.get_ref().as_str();
            if target == id {
                r.at(
                    s.span(),
                    format!("goal `{id}` supports itself"),
                    Some("`supports` names the goals this one serves".into()),
                );
                continue;
            }
            if !seen.insert(target) {
                r.at(s.span(), format!("goal `{id}` lists `{target}` twice in `supports`"), None);
                continue;
            }
            let Some(&j) = index.get(target) else {
                let hint = match closest(target, ids.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`? goals: {}", ids.join(", ")),
                    None => format!("goals: {}", ids.join(", ")),
                };
                r.at(s.span(), format!("goal `{id}` supports `{target}`, which is not a declared goal"), Some(hint));
                continue;
            };
            if let (Some(from), Some(to)) = (n.layer, nodes[j].layer)
                && to <= from
            {
                r.at(
                    s.span(),
                    format!(
                        "goal `{id}` ({}) supports `{target}` ({}), which is not of a higher layer",
                        from.as_str(),
                        to.as_str()
                    ),
                    Some(format!("a goal supports goals of higher layers only: {LAYER_ORDER}")),
                );
            }
            if index.get(id.as_str()) == Some(&i) {
                edges[i].push((j, s.span()));
            }
        }
        if n.layer == Some(Layer::Model) && !n.links_written {
            r.at(
                n.id.span(),
                format!("model goal `{id}` supports no goal"),
                Some(
                    "a model's properties matter for what they serve: add `supports = [\"...\"]` naming the \
                     user_outcome, system, leading_indicator or organizational goal it serves"
                        .into(),
                ),
            );
        }
    }
    cycles(&nodes, &edges, r);
}

/// Every cycle of `supports` links, named from the link that does not point up (at least
/// one does not), and placed there.
fn cycles(nodes: &[Node], edges: &[Vec<(usize, Range<usize>)>], r: &mut Reporter) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    struct Search<'a, 'n> {
        nodes: &'a [Node<'n>],
        edges: &'a [Vec<(usize, Range<usize>)>],
        state: Vec<State>,
        path: Vec<usize>,
    }
    impl Search<'_, '_> {
        fn visit(&mut self, i: usize, r: &mut Reporter) {
            self.state[i] = State::OnPath;
            self.path.push(i);
            for (j, _) in &self.edges[i] {
                match self.state[*j] {
                    State::New => self.visit(*j, r),
                    State::OnPath => self.report(*j, r),
                    State::Done => {}
                }
            }
            self.path.pop();
            self.state[i] = State::Done;
        }

        /// The cycle from `j`, on the path, to its end and back to `j`.
        fn report(&self, j: usize, r: &mut Reporter) {
            let from = self.path.iter().position(|p| *p == j).unwrap_or(0);
            let cycle: Vec<usize> = self.path[from..].to_vec();
            let link = |k: usize| {
                let (a, b) = (cycle[k], cycle[(k + 1) % cycle.len()]);
                let span = self.edges[a].iter().find(|(t, _)| *t == b).map(|(_, s)| s.clone()).unwrap_or(0..0);
                (a, b, span)
            };
            let down = (0..cycle.len())
                .find(|&k| {
                    let (a, b, _) = link(k);
                    match (self.nodes[a].layer, self.nodes[b].layer) {
                        (Some(la), Some(lb)) => lb <= la,
                        _ => false,
                    }
                })
                .unwrap_or(cycle.len() - 1);
            let (_, _, span) = link(down);
            let names: Vec<String> = (0..=cycle.len())
                .map(|k| format!("`{}`", self.nodes[cycle[(down + k) % cycle.len()]].id.get_ref()))
                .collect();
            r.at(
                span,
                format!("goals {} support one another in a cycle", names.join(" → ")),
                Some("`supports` points up, to the goals a goal serves: remove the link that points back down".into()),
            );
        }
    }
    let mut search = Search { nodes, edges, state: vec![State::New; nodes.len()], path: Vec::new() };
    for i in 0..nodes.len() {
        if search.state[i] == State::New {
            search.visit(i, r);
        }
    }
}
