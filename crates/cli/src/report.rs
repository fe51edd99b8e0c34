//! `rein report`: the goals measured and each component's recent drift, written as one
//! self-contained HTML page (`rein_monitor::system_page`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rein_monitor::goals::{self, Options};
use rein_monitor::report::{DriftReport, Side};
use rein_monitor::system_page::AlertLine;
use rein_monitor::{Profile, columns};
use rein_system::System;
use rein_telemetry::Store;

use crate::monitor::default_profile_path;

/// `--reference COMPONENT=FILE`s, each naming a component of the system once.
pub fn references(system: &System, given: &[String]) -> Result<HashMap<String, PathBuf>, String> {
    let mut out = HashMap::new();
    for g in given {
        let Some((component, file)) = g.split_once('=') else {
            return Err(format!("--reference `{g}`: give COMPONENT=PROFILE.json"));
        };
        if system.component(component).is_none() {
            let names: Vec<&str> = system.components.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "--reference `{g}`: no component is named `{component}`; the system has: {}",
                names.join(", ")
            ));
        }
        if out.insert(component.to_owned(), PathBuf::from(file)).is_some() {
            return Err(format!("--reference names `{component}` twice: give one profile a component"));
        }
    }
    Ok(out)
}

/// Measures, renders and writes the page; says what it wrote.
#[allow(clippy::too_many_arguments)]
pub fn write(
    system: &System,
    store: &dyn Store,
    options: &Options,
    drift_ms: i64,
    references: &HashMap<String, PathBuf>,
    data_dir: &Path,
    out: &Path,
) -> Result<String, String> {
    let measured = goals::measure(system, store, options).map_err(|e| e.to_string())?;
    let until_ms = measured.as_of_ms;
    let since_ms = until_ms.saturating_sub(drift_ms);
    let mut drift: Vec<DriftReport> = Vec::new();
    let mut notes = Vec::new();
    for component in &system.components {
        let given = references.get(&component.name);
        let path = given.cloned().unwrap_or_else(|| default_profile_path(component));
        if given.is_some() && !path.is_file() {
            return Err(format!("--reference {}={}: no such file", component.name, path.display()));
        }
        if !path.is_file() {
            notes.push(format!(
                "`{}` has no reference profile at {}, so its drift is not shown: make one with `rein profile SYSTEM.toml {} --data TRAIN.csv`",
                component.name,
                path.display(),
                component.name
            ));
            continue;
        }
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: cannot read it: {e}"))?;
        let profile = Profile::from_json(&text, &file).map_err(|e| e.to_string())?;
        profile.check_against(&component.name, &columns(component), &file).map_err(|e| e.to_string())?;
        let reference = Side { source: file, kind: "profile", rows: profile.source.rows };
        let options = rein_monitor::Options::default();
        let report = rein_monitor::recorded::drift(
            &system.name,
            component,
            &profile,
            reference,
            store,
            since_ms..until_ms,
            &options,
        )
        .map_err(|e| e.to_string())?;
        if report.current.rows == 0 {
            notes.push(format!(
                "`{}` recorded no prediction in the {} before {}: no drift to show",
                component.name,
                rein_system::format_duration(std::time::Duration::from_millis(drift_ms as u64)),
                goals::time_text(until_ms)
            ));
            continue;
        }
        drift.push(report);
    }
    let alerts = alert_lines(system, store)?;
    let source = data_dir.display().to_string();
    let page = rein_monitor::system_page::render(&rein_monitor::system_page::SystemReport {
        goals: &measured,
        drift: &drift,
        notes: &notes,
        source: &source,
        alerts: alerts.as_deref(),
    });
    std::fs::write(out, &page).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let shown: Vec<&str> = drift.iter().map(|d| d.component.as_str()).collect();
    Ok(format!(
        "report written to {} ({} KiB): {} goal(s){}",
        out.display(),
        page.len().div_ceil(1024),
        measured.goals.len(),
        if shown.is_empty() { String::new() } else { format!(", drift of {}", shown.join(", ")) }
    ))
}

/// The alerts the monitors opened, oldest first; `None` when the system declares no monitor.
pub fn alert_lines(system: &System, store: &dyn Store) -> Result<Option<Vec<AlertLine>>, String> {
    if system.monitors.is_empty() {
        return Ok(None);
    }
    let query = rein_telemetry::AlertQuery { limit: rein_telemetry::AlertQuery::MAX_LIMIT, ..Default::default() };
    let mut records = store.alerts(&query).map_err(|e| format!("cannot read the alerts: {e}"))?;
    records.reverse();
    let lines = records
        .into_iter()
        .map(|a| {
            let body: serde_json::Value = serde_json::from_str(a.body.as_str()).unwrap_or_default();
            AlertLine {
                watch: body["watch"].as_str().unwrap_or_default().to_owned(),
                monitor: a.monitor,
                severity: a.severity,
                opened_ms: a.opened_ms,
                closed_ms: a.closed_ms,
            }
        })
        .collect();
    Ok(Some(lines))
}
