//! The system file from text to a validated [`System`]: parse the TOML, then check each
//! table in turn (`[system]` here, the others in this module's files), reporting every mistake.

mod components;
mod conditions;
mod experience;
mod features;
mod fields;
mod goals;
mod guardrails;
mod metrics;
mod monitors;
mod settings;
mod traffic;

use std::collections::HashSet;
use std::path::Path;

use crate::diagnostic::{Reporter, closest, whole_file};
use crate::raw::{RawFile, RawSystem, Typed};
use crate::types::System;

pub use experience::{format_duration, parse_duration};

/// Reads and validates a system file.
pub fn load(path: &Path) -> Result<System, crate::Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        whole_file(path, format!("cannot read the system file: {e}"), Some("give the path of a rein.toml".into()))
    })?;
    parse(&text, path)
}

/// Validates the text of a system file; `path` names it in diagnostics and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<System, crate::Diagnostics> {
    let mut reporter = Reporter::new(path, text);
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_string();
            let hint = toml_hint(&message);
            reporter.at(span, message, hint);
            return Err(reporter.finish().expect_err("one diagnostic was reported"));
        }
    };
    let system = validate(raw, path, &mut reporter);
    reporter.finish()?;
    Ok(system.expect("a system is built whenever no diagnostic was reported"))
}

fn toml_hint(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        // "unknown field `positive_lable`, expected one of `name`, `task`, ..."
        let mut quoted = rest.split('`').skip(1).step_by(2);
        let given = quoted.next().unwrap_or_default();
        let hint = "check the spelling; the fields this table accepts are listed above";
        Some(match closest(given, quoted) {
            Some(near) => format!("did you mean `{near}`? {hint}"),
            None => hint.into(),
        })
    } else if message.starts_with("invalid type") {
        Some("check the value's type: strings need quotes, numbers and booleans do not".into())
    } else {
        None
    }
}

/// Checks every table of the file; `None` when a mistake was reported.
fn validate(raw: RawFile, file: &Path, r: &mut Reporter) -> Option<System> {
    let base = file.parent().unwrap_or(Path::new("."));
    let (name, description) = system(raw.system.as_ref(), r);
    let runtime = settings::runtime(&raw.runtime, base, r);
    let server = settings::server(&raw.server, r);
    let telemetry = settings::telemetry(&raw.telemetry, r);

    let listed = match &raw.components {
        Some(list) => fields::list(r, "components", list),
        None => Some(Vec::new()),
    };
    if listed.as_ref().is_some_and(Vec::is_empty) {
        r.at(
            0..0,
            "the system declares no component",
            Some("add a `[[components]]` table with name, task, model and features".into()),
        );
    }
    let mut names = HashSet::new();
    let mut components = Vec::new();
    let mut plans = std::collections::BTreeMap::new();
    let written_goals = goal_ids(&raw);
    for c in listed.unwrap_or_default() {
        if let Some((plan, span)) = traffic::traffic(c.get_ref(), written_goals.as_deref(), r)
            && let Some(name) = c.get_ref().name.as_ref().and_then(Typed::ok)
        {
            let location = r.location(span.start);
            plans.insert(name.get_ref().clone(), crate::types::DeclaredTraffic { plan, location });
        }
        if let Some(component) = components::component(c, base, r) {
            if !names.insert(component.name.clone()) {
                let span = c.get_ref().name.as_ref().map(Typed::span).unwrap_or(c.span());
                r.at(
                    span,
                    format!("component `{}` is declared twice", component.name),
                    Some("component names must be unique".into()),
                );
            }
            components.push(component);
        }
    }
    settings::check_timeouts(&raw, &server, &telemetry, &components, r);
    let outcomes = goals::outcomes(raw.outcomes.as_ref(), r);
    let declared = goals::Declared {
        names: component_names(&raw),
        components: &components,
        outcomes: &outcomes,
        retention: telemetry.retention,
    };
    let goals = goals::goals(raw.goals.as_ref(), &declared, r);
    let written = monitors::Goals { valid: &goals, written: goal_ids(&raw) };
    let monitors = monitors::monitors(raw.monitors.as_ref(), &declared, &written, r);
    let alerts = monitors::alerts(raw.alerts.as_ref(), r);
    Some(System {
        name,
        description,
        file: file.to_path_buf(),
        runtime,
        server,
        telemetry,
        outcomes: outcomes.declared(),
        components,
        goals,
        monitors,
        alerts,
        traffic: plans,
    })
}

/// Every goal's id as written, valid or not; `None` when a goal, or its id, is written as
/// a value of the wrong type and the ids are not all known.
fn goal_ids(raw: &RawFile) -> Option<Vec<&str>> {
    let Some(listed) = &raw.goals else { return Some(Vec::new()) };
    let mut ids = Vec::new();
    for g in listed.ok()?.get_ref() {
        if let Some(id) = &g.ok()?.get_ref().id {
            ids.push(id.ok()?.get_ref().as_str());
        }
    }
    Some(ids)
}

/// Every component's name as written, valid or not; `None` when a component, or its name,
/// is written as a value of the wrong type and the names are not all known.
fn component_names(raw: &RawFile) -> Option<Vec<&str>> {
    let Some(listed) = &raw.components else { return Some(Vec::new()) };
    let mut names = Vec::new();
    for c in listed.ok()?.get_ref() {
        if let Some(name) = &c.ok()?.get_ref().name {
            names.push(name.ok()?.get_ref().as_str());
        }
    }
    Some(names)
}

/// The `[system]` table: the system's name and description.
fn system(raw: Option<&Typed<RawSystem>>, r: &mut Reporter) -> (String, String) {
    let Some(sys) = raw else {
        r.at(
            0..0,
            "the `[system]` table is missing",
            Some("start the file with `[system]` and `name = \"my-system\"`".into()),
        );
        return (String::new(), String::new());
    };
    let Some(sys) = fields::typed(r, "system", sys) else {
        return (String::new(), String::new());
    };
    let name = fields::name(
        r,
        "system",
        sys.get_ref().name.as_ref(),
        sys.span(),
        "`[system]` has no `name`",
        Some("add `name = \"my-system\"`"),
    );
    let description = fields::given(r, "description", &sys.get_ref().description);
    (name.unwrap_or_default(), description.map(|d| d.get_ref().clone()).unwrap_or_default())
}
