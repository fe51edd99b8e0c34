//! Alerts from a monitor's figures, window after window: pure, no I/O (`docs/monitoring.md`).
//!
//! **A window's verdict** ([`judge`]) against the monitor's threshold: `breach` when the
//! figure is beyond the threshold with confidence (its whole interval beyond it, where it
//! has one: a handful of predictions cannot open an alert; a figure without an interval, a
//! drift measure, by its value); `clear` when its value is back on the safe side by the
//! monitor's `hysteresis` or more; `unclear` in between (the interval straddles the
//! threshold, or the value lies within the hysteresis band); `no_data` when the window
//! holds nothing to measure; `not_measured` when the figure cannot be taken (no reference
//! profile, a metric not computed yet).
//!
//! **An alert** ([`MonitorState::step`]) opens once `open_after` windows in a row breach,
//! stays open, and closes once `close_after` windows in a row clear. A window of any other
//! verdict breaks both runs: an alert neither opens nor closes on windows that cannot tell.
//! So a figure hovering at the threshold does not flap: it opens an alert once and keeps it
//! open until the condition has really cleared.

use rein_system::{Monitor, Threshold};
use serde::{Deserialize, Serialize};

use crate::window::Bounds;

/// The newest figures a monitor's state keeps, for the API to show.
pub const KEPT_FIGURES: usize = 48;

/// A window's standing against a monitor's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Beyond the threshold with confidence.
    Breach,
    /// Back on the safe side, past the hysteresis band.
    Clear,
    /// Neither: the interval straddles the threshold, or the value is within the band.
    Unclear,
    /// The window holds nothing to measure.
    NoData,
    /// The figure cannot be taken (see the figure's note).
    NotMeasured,
}

/// A monitor's figure over one closed window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub from_ms: i64,
    pub until_ms: i64,
    /// Null when there is no figure (no data, not measured).
    pub value: Option<f64>,
    /// Its confidence interval, where it has one.
    pub interval: Option<Bounds>,
    /// What the figure is over: predictions, rows of a column, labeled predictions.
    pub count: u64,
    pub verdict: Verdict,
    /// For a drift figure, the measure it is (`ks`, `chi_squared`, `wasserstein`,
    /// `jensen_shannon`, `psi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<String>,
    /// Why it is what it is, in words: a drift report's reason, why there is no figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The verdict of `value` (with its `interval`, if any) against `threshold` (see the module).
pub fn judge(threshold: Threshold, hysteresis: f64, value: Option<f64>, interval: Option<&Bounds>) -> Verdict {
    let Some(value) = value else { return Verdict::NoData };
    let breach = match interval {
        // an end the data cannot bound is never beyond anything
        Some(b) => match threshold {
            Threshold::Above(t) => b.lower.is_some_and(|lo| lo > t),
            Threshold::Below(t) => b.upper.is_some_and(|hi| hi < t),
            Threshold::Outside { below, above } => {
                b.upper.is_some_and(|hi| hi < below) || b.lower.is_some_and(|lo| lo > above)
            }
        },
        None => threshold.breached_by(value),
    };
    if breach {
        Verdict::Breach
    } else if threshold.cleared_by(value, hysteresis) {
        Verdict::Clear
    } else {
        Verdict::Unclear
    }
}

/// Whether an alert is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Closed,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Closed => "closed",
        }
    }
}

/// An alert: a monitor's condition, from the window that opened it to the one that closed
/// it. Times are event times: the ends of those windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Unique (a UUIDv7 where the server makes it).
    pub id: String,
    pub monitor: String,
    pub component: Option<String>,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    pub state: AlertState,
    /// What the monitor watches, in words.
    pub watch: String,
    /// When a window breaches, in words: `above 0.1`, `the drift policy's verdict`.
    pub threshold: String,
    /// The monitor's window: `1h`.
    pub window: String,
    pub description: Option<String>,
    /// The end of the window that opened it (unix ms, event time).
    pub opened_ms: i64,
    /// The figures of the breaching windows that opened it (the last one's window ends at
    /// `opened_ms`).
    pub opened_by: Vec<Figure>,
    /// The end of the window that closed it.
    pub closed_ms: Option<i64>,
    /// The figures of the clearing windows that closed it.
    pub closed_by: Vec<Figure>,
    /// Why it closed, in words.
    pub closed_because: Option<String>,
}

/// What one window did to a monitor's alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// No alert is open, and none opened.
    Quiet,
    /// An alert opened: as it now is.
    Opened(Alert),
    /// The open alert stays open (its id).
    StillOpen(String),
    /// The open alert closed: as it now is.
    Closed(Alert),
}

/// A monitor's standing, kept between windows (and across restarts, in the store).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorState {
    /// The end of the newest window evaluated (unix ms); windows are evaluated in order and
    /// once each.
    pub evaluated_until_ms: Option<i64>,
    /// Breaching windows in a row, up to the newest.
    pub breaches: u32,
    /// Clearing windows in a row, up to the newest.
    pub clears: u32,
    /// The open alert, if one is.
    pub open: Option<Alert>,
    /// The newest figures, oldest first, at most [`KEPT_FIGURES`].
    pub figures: Vec<Figure>,
}

impl MonitorState {
    /// Takes the figure of the next window of `monitor`: counts the runs, opens or closes its
    /// alert. `new_id` names an alert that opens.
    pub fn step(&mut self, monitor: &Monitor, figure: Figure, new_id: impl FnOnce() -> String) -> Step {
        match figure.verdict {
            Verdict::Breach => {
                self.breaches += 1;
                self.clears = 0;
            }
            Verdict::Clear => {
                self.clears += 1;
                self.breaches = 0;
            }
            Verdict::Unclear | Verdict::NoData | Verdict::NotMeasured => {
                self.breaches = 0;
                self.clears = 0;
            }
        }
        self.evaluated_until_ms = Some(figure.until_ms);
        self.figures.push(figure);
        if self.figures.len() > KEPT_FIGURES {
            self.figures.drain(..self.figures.len() - KEPT_FIGURES);
        }
        // the figures of the current run, newest last
        let run = |n: u32| self.figures[self.figures.len().saturating_sub(n as usize)..].to_vec();
        match self.open.take() {
            None if self.breaches >= monitor.open_after => {
                let alert = Alert {
                    id: new_id(),
                    monitor: monitor.id.clone(),
                    component: monitor.component.clone(),
                    severity: monitor.severity.as_str().to_string(),
                    state: AlertState::Open,
                    watch: monitor.watch.to_string(),
                    threshold: threshold_text(monitor),
                    window: rein_system::format_duration(monitor.window),
                    description: monitor.description.clone(),
                    opened_ms: self.evaluated_until_ms.unwrap_or_default(),
                    opened_by: run(self.breaches),
                    closed_ms: None,
                    closed_by: Vec::new(),
                    closed_because: None,
                };
                self.open = Some(alert.clone());
                Step::Opened(alert)
            }
            None => Step::Quiet,
            Some(mut alert) if self.clears >= monitor.close_after => {
                alert.state = AlertState::Closed;
                alert.closed_ms = self.evaluated_until_ms;
                alert.closed_by = run(self.clears);
                alert.closed_because = Some(format!("{} window(s) in a row cleared", self.clears));
                Step::Closed(alert)
            }
            Some(alert) => {
                let id = alert.id.clone();
                self.open = Some(alert);
                Step::StillOpen(id)
            }
        }
    }

    /// Closes the open alert, if one is, for a reason other than its figures (the monitor is
    /// no longer declared); `at_ms`: when.
    pub fn close(&mut self, at_ms: i64, because: &str) -> Option<Alert> {
        let mut alert = self.open.take()?;
        alert.state = AlertState::Closed;
        alert.closed_ms = Some(at_ms);
        alert.closed_because = Some(because.to_string());
        self.breaches = 0;
        self.clears = 0;
        Some(alert)
    }
}

/// When a monitor's window breaches, in words.
pub fn threshold_text(monitor: &Monitor) -> String {
    match crate::monitors::threshold(monitor) {
        Some(t) => t.to_string(),
        None => "the drift policy's verdict".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rein_system::{Location, Severity, Watch};
    use std::time::Duration;

    use crate::window::IntervalMethod;

    fn monitor(open_after: u32, close_after: u32) -> Monitor {
        Monitor {
            id: "m".into(),
            description: None,
            component: Some("c".into()),
            watch: Watch::FallbackRate,
            threshold: Some(Threshold::Above(0.1)),
            window: Duration::from_secs(3600),
            severity: Severity::Warning,
            open_after,
            close_after,
            hysteresis: 0.0,
            location: Location::default(),
        }
    }

    fn figure(i: i64, verdict: Verdict) -> Figure {
        Figure {
            from_ms: i * 10,
            until_ms: (i + 1) * 10,
            value: Some(0.0),
            interval: None,
            count: 1,
            verdict,
            measure: None,
            note: None,
        }
    }

    /// The steps of a sequence of verdicts ("B" breach, "C" clear, "U" unclear, "N" no
    /// data), as letters: `.` quiet, `O` opened, `o` still open, `X` closed.
    fn run(m: &Monitor, verdicts: &str) -> (String, MonitorState) {
        let mut state = MonitorState::default();
        let mut ids = 0;
        let steps = verdicts
            .chars()
            .enumerate()
            .map(|(i, v)| {
                let verdict = match v {
                    'B' => Verdict::Breach,
                    'C' => Verdict::Clear,
                    'U' => Verdict::Unclear,
                    _ => Verdict::NoData,
                };
                match state.step(m, figure(i as i64, verdict), || {
                    ids += 1;
                    format!("a{ids}")
                }) {
                    Step::Quiet => '.',
                    Step::Opened(_) => 'O',
                    Step::StillOpen(_) => 'o',
                    Step::Closed(_) => 'X',
                }
            })
            .collect();
        (steps, state)
    }

    #[test]
    fn an_alert_opens_once_and_closes_when_its_condition_clears() {
        let m = monitor(1, 2);
        assert_eq!(run(&m, "CCBBBCCCC").0, "..OoooX..");
        // one clearing window is not enough, two in a row are
        assert_eq!(run(&m, "BCBCCB").0, "OoooXO");
        assert_eq!(run(&m, "BCCCB").0, "OoX.O");
    }

    #[test]
    fn a_figure_hovering_at_the_threshold_does_not_flap() {
        // breach, clear, breach, clear...: with close_after = 2, one alert, open throughout
        let (steps, state) = run(&monitor(1, 2), "BCBCBCBCBC");
        assert_eq!(steps, "Ooooooooo o".replace(' ', ""));
        assert_eq!(state.open.as_ref().map(|a| a.id.as_str()), Some("a1"));
        // without the rule (close_after = 1), the same sequence flaps: what the rule prevents
        assert_eq!(run(&monitor(1, 1), "BCBCBC").0, "OXOXOX");
        // open_after = 2: isolated breaches never open one
        assert_eq!(run(&monitor(2, 2), "BCBCBUBNB").0, ".........");
        assert_eq!(run(&monitor(2, 2), "BCBBCC").0, "...OoX");
    }

    #[test]
    fn windows_that_cannot_tell_break_both_runs() {
        let m = monitor(2, 2);
        // an unclear window between two breaches: no run of two
        assert_eq!(run(&m, "BUB").0, "...");
        // nor between two clears: the alert stays open through no data
        assert_eq!(run(&m, "BBCNCUCNNCC").0, ".Oooooooo oX".replace(' ', ""));
        let (_, state) = run(&m, "BBNNNN");
        assert!(state.open.is_some(), "no data never closes an alert");
    }

    #[test]
    fn an_alert_records_the_windows_that_opened_and_closed_it() {
        let m = monitor(2, 3);
        let mut state = MonitorState::default();
        let mut last = Step::Quiet;
        for (i, v) in
            [Verdict::Breach, Verdict::Breach, Verdict::Clear, Verdict::Clear, Verdict::Clear].into_iter().enumerate()
        {
            last = state.step(&m, figure(i as i64, v), || "id".into());
            if i == 1 {
                let Step::Opened(alert) = &last else { panic!("{last:?}") };
                assert_eq!((alert.opened_ms, alert.opened_by.len(), alert.state), (20, 2, AlertState::Open));
                assert_eq!(alert.threshold, "above 0.1");
                assert_eq!(alert.window, "1h");
            }
        }
        let Step::Closed(alert) = last else { panic!("{last:?}") };
        assert_eq!((alert.closed_ms, alert.closed_by.len(), alert.state), (Some(50), 3, AlertState::Closed));
        assert_eq!(alert.closed_because.as_deref(), Some("3 window(s) in a row cleared"));
        assert_eq!(state.evaluated_until_ms, Some(50));
        assert!(state.open.is_none());
        // the state keeps the newest figures only
        for i in 5..200 {
            state.step(&m, figure(i, Verdict::Clear), || "x".into());
        }
        assert_eq!(state.figures.len(), KEPT_FIGURES);
        assert_eq!(state.figures.last().unwrap().until_ms, 2000);
        // and survives a restart: it is plain data
        let back: MonitorState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn a_window_breaches_when_its_whole_interval_is_beyond_and_clears_past_the_band() {
        let b = |lo: f64, hi: f64| Bounds { lower: Some(lo), upper: Some(hi), method: IntervalMethod::Wilson };
        let above = Threshold::Above(0.1);
        assert_eq!(judge(above, 0.0, Some(0.3), Some(&b(0.2, 0.4))), Verdict::Breach);
        assert_eq!(judge(above, 0.0, Some(0.3), Some(&b(0.05, 0.5))), Verdict::Unclear, "straddles");
        assert_eq!(judge(above, 0.0, Some(0.05), Some(&b(0.01, 0.2))), Verdict::Clear, "the value is back");
        assert_eq!(judge(above, 0.03, Some(0.09), Some(&b(0.05, 0.12))), Verdict::Unclear, "within the band");
        assert_eq!(judge(above, 0.03, Some(0.07), Some(&b(0.05, 0.12))), Verdict::Clear);
        // without an interval, the value decides
        assert_eq!(judge(above, 0.0, Some(0.11), None), Verdict::Breach);
        assert_eq!(judge(above, 0.0, None, None), Verdict::NoData);
        // an end the data cannot bound is never beyond
        let open = Bounds { lower: None, upper: Some(90.0), method: IntervalMethod::OrderStatistic };
        assert_eq!(judge(Threshold::Above(50.0), 0.0, Some(80.0), Some(&open)), Verdict::Unclear);
        let below = Threshold::Below(0.8);
        assert_eq!(judge(below, 0.0, Some(0.6), Some(&b(0.5, 0.7))), Verdict::Breach);
        let outside = Threshold::Outside { below: -1.0, above: 1.0 };
        assert_eq!(judge(outside, 0.0, Some(2.0), Some(&b(1.5, 2.5))), Verdict::Breach);
        assert_eq!(judge(outside, 0.0, Some(-2.0), Some(&b(-2.5, -1.5))), Verdict::Breach);
        assert_eq!(judge(outside, 0.0, Some(0.0), Some(&b(-0.5, 0.5))), Verdict::Clear);
    }

    #[test]
    fn an_alert_of_a_monitor_no_longer_declared_is_closed() {
        let (_, mut state) = run(&monitor(1, 2), "BB");
        let alert = state.close(99, "the monitor is no longer declared").unwrap();
        assert_eq!((alert.state, alert.closed_ms), (AlertState::Closed, Some(99)));
        assert!(state.close(100, "again").is_none());
    }
}
