//! The review of an expected-value policy against its labeled predictions (`rein review`,
//! docs/review.md): the model's observed calibration, the thresholds the stated values imply
//! under it, and the value per prediction of today's policy against the re-derived one.
//!
//! **The data.** One row a labeled prediction the policy decided: `p`, the probability the
//! policy read (`decision.reason.p`: a binary classifier's positive-label probability, a
//! multiclass one's top probability), and whether what `p` is the probability of held (the
//! truth was the positive label; the predicted label was the truth).
//!
//! **Calibration.** The reliability table over ten equal-width bins and the ECE
//! ([`crate::calibration`]), each bin's observed share with its Wilson interval; and the
//! isotonic regression of the outcomes on `p` (scikit-learn's `IsotonicRegression`,
//! [`Isotonic`]): `p` read as the share of the time it held.
//!
//! **Thresholds.** The stated values make each mode's expected value a line in `p`; where
//! the best line changes, the mode changes ([`rein_system::expected_value_ranges`]): today's
//! thresholds, `p` taken at its word. Re-derived, the policy chooses by the expected value
//! at the calibrated `p`, `isotonic(p)`, so the mode changes where the calibration crosses
//! today's threshold: the `p` above which `isotonic(p)` exceeds it
//! ([`Isotonic::exceeds_above`]). 1 means never (the mode above is chosen for no `p`),
//! 0 always.
//!
//! **Value per prediction.** A row decided in mode `m` is worth `m`'s stated `right` when
//! what `p` bets on held, its `wrong` otherwise; a policy's value per prediction is the
//! mean over the rows, each decided before frequency caps. Today's policy decides by `p`.
//! The re-derived policy is **cross-fitted**: the rows are dealt into
//! [`ReviewOptions::folds`] folds in turn (row `i` into fold `i mod folds`, the rows in time
//! order), and a row is decided by the calibration fitted on the other folds, so its value
//! is not the fit's optimism about its own outcome. The gain is the re-derived policy's
//! value less today's.
//!
//! **Intervals.** A seeded bootstrap of the rows (rein-stats' generator, one stratum:
//! `crate::resample`), its percentile interval: each resample gives both policies' values
//! (paired: the same rows), their difference and the ECE, and the calibration fitted on it
//! gives the thresholds. The re-derived decisions are the cross-fit's, held fixed: the
//! interval of its value is the sampling error of the rows, not that of the fit.
//!
//! **Too few labels.** Every figure needs [`ReviewOptions::min_labeled`] rows, at least
//! [`ReviewOptions::min_per_outcome`] of them where the bet held and as many where it did
//! not (as quality's rules: [`crate::quality::MIN_LABELED`], [`crate::quality::MIN_PER_CLASS`]).
//!
//! Cost: one sort of the rows, then O(rows · (folds + resamples)).
//!
//! Pure: no I/O.

use crate::calibration::{Isotonic, IsotonicRows, ReliabilityBin, bin_of, reliability, weighted_ece};
use crate::quality::{Interval, IntervalMethod, MIN_LABELED, MIN_PER_CLASS, QualityError, QualityOptions};
use crate::resample::{bootstrap, percentiles};
use rein_stats::Bootstrap;
use rein_system::{Mode, ModeValue, expected_value_choice, expected_value_ranges};
use serde::Serialize;

/// How the review computes and when it judges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReviewOptions {
    /// Resamples and seed of the bootstrap, and the confidence of every interval.
    pub bootstrap: Bootstrap,
    /// Folds of the cross-fit of the re-derived policy; at least 2.
    pub folds: usize,
    /// Labeled rows the review needs ([`MIN_LABELED`]); at least 2.
    pub min_labeled: usize,
    /// Rows where the bet held it needs, and as many where it did not ([`MIN_PER_CLASS`]).
    pub min_per_outcome: usize,
}

impl Default for ReviewOptions {
    /// 2,000 resamples, 95%, seed 0; 5 folds; 30 labeled rows, 5 of each outcome.
    fn default() -> ReviewOptions {
        ReviewOptions {
            bootstrap: Bootstrap::default(),
            folds: 5,
            min_labeled: MIN_LABELED,
            min_per_outcome: MIN_PER_CLASS,
        }
    }
}

/// Why there is no review.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReviewError {
    #[error(
        "too few labeled predictions to tell: {labeled} ({held} where the bet held, {missed} where it did not); \
         at least {min_labeled} needed, {min_per_outcome} of each"
    )]
    TooFewLabels { labeled: u64, held: u64, missed: u64, min_labeled: usize, min_per_outcome: usize },
    #[error("an expected-value policy chooses among at least two modes; these values name {0}")]
    TooFewModes(usize),
    #[error(transparent)]
    Input(#[from] QualityError),
}

/// Everything the review computes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    /// The labeled rows, and how many of them held.
    pub labeled: u64,
    pub held: u64,
    pub calibration: Calibration,
    /// Where the mode changes, lowest `p` first.
    pub thresholds: Vec<Threshold>,
    pub value: ValuePerPrediction,
    pub verdict: Verdict,
}

/// How often what `p` bets on held, against `p`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// The ten bins, empty ones included.
    pub bins: Vec<CalibrationBin>,
    /// The expected calibration error, with its bootstrap interval.
    pub ece: Interval,
    /// The isotonic fit on every row, what the re-derived thresholds read: linear between
    /// its knots, constant beyond them (trimmed: a flat run by its ends).
    pub isotonic: Isotonic,
}

/// A bin of the reliability table, and the Wilson interval of its observed share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationBin {
    #[serde(flatten)]
    pub bin: ReliabilityBin,
    pub interval: Option<Interval>,
}

/// A point where the policy's mode changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// The mode below it, and the mode above it.
    pub below: Mode,
    pub above: Mode,
    /// Where the stated values put it, `p` taken at its word.
    pub today: f64,
    /// Where they put it under the observed calibration (1: never, 0: always), with its
    /// bootstrap interval.
    pub rederived: Interval,
}

/// The value per prediction of each policy, in the stated values' units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValuePerPrediction {
    pub today: Interval,
    pub rederived: Interval,
    /// Re-derived less today's.
    pub gain: Interval,
    /// Rows the cross-fitted re-derived policy decides otherwise than today's.
    pub changed: u64,
    /// How many rows each policy decides in each of its modes, most forceful first.
    pub decisions: Vec<ModeCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeCount {
    pub mode: Mode,
    pub today: u64,
    pub rederived: u64,
}

/// What the review concludes from the gain's interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The re-derived policy decides every row as today's does.
    SameDecisions,
    /// The whole interval of the gain is above 0.
    Gain,
    /// The whole interval of the gain is below 0: today's policy does better.
    Loss,
    /// The interval holds 0: the data cannot tell the two apart.
    NoClearDifference,
}

/// Where each mode of `values` starts winning over the one below it: `(below, above, p)`,
/// lowest `p` first.
pub fn thresholds(values: &[ModeValue]) -> Vec<(Mode, Mode, f64)> {
    expected_value_ranges(values).windows(2).map(|w| (w[0].0, w[1].0, w[1].1)).collect()
}

/// The threshold on `p` that keeps a threshold `at` on the calibrated probability: 1 when
/// the calibration never exceeds it, 0 when it always does.
pub fn rederived_threshold(calibration: &Isotonic, at: f64) -> f64 {
    calibration.exceeds_above(at).map_or(1.0, |p| p.clamp(0.0, 1.0))
}

/// What a row decided in `mode` is worth: its stated `right` when the bet held, else
/// its `wrong`.
pub fn value(values: &[ModeValue], mode: Mode, held: bool) -> f64 {
    values.iter().find(|v| v.mode == mode).map_or(0.0, |v| if held { v.right } else { v.wrong })
}

/// Reviews the expected-value policy `values` (as validated: at least two modes) against
/// its labeled rows, `p` with whether its bet `held`, in time order.
pub fn review(values: &[ModeValue], p: &[f64], held: &[bool], options: &ReviewOptions) -> Result<Review, ReviewError> {
    check(options)?;
    if values.len() < 2 {
        return Err(ReviewError::TooFewModes(values.len()));
    }
    let n = p.len();
    let (table, ece) = reliability(p, held)?;
    let held_count = held.iter().filter(|h| **h).count() as u64;
    let (labeled, missed) = (n as u64, n as u64 - held_count);
    if n < options.min_labeled || held_count.min(missed) < options.min_per_outcome as u64 {
        return Err(ReviewError::TooFewLabels {
            labeled,
            held: held_count,
            missed,
            min_labeled: options.min_labeled,
            min_per_outcome: options.min_per_outcome,
        });
    }
    let outcome: Vec<f64> = held.iter().map(|h| f64::from(u8::from(*h))).collect();
    let rows = IsotonicRows::new(p, &outcome)?;
    let calibration = rows.fit(None).expect("at least one row");
    let cuts = thresholds(values);

    // the cross-fit: each row decided by the calibration fitted on the other folds
    let folds = options.folds.min(n);
    let mut rederived_mode = vec![Mode::None; n];
    for fold in 0..folds {
        let weights: Vec<f64> = (0..n).map(|i| if i % folds == fold { 0.0 } else { 1.0 }).collect();
        let fitted = rows.fit(Some(&weights)).expect("the other folds hold rows");
        for i in (fold..n).step_by(folds) {
            rederived_mode[i] = expected_value_choice(values, fitted.predict(p[i]));
        }
    }
    let today_mode: Vec<Mode> = p.iter().map(|p| expected_value_choice(values, *p)).collect();
    let today: Vec<f64> = (0..n).map(|i| value(values, today_mode[i], held[i])).collect();
    let rederived: Vec<f64> = (0..n).map(|i| value(values, rederived_mode[i], held[i])).collect();

    // the bootstrap: [today, re-derived, gain, ECE, each threshold]
    let bins: Vec<usize> = p.iter().map(|p| bin_of(*p)).collect();
    let mean = |v: &[f64], w: &[f64]| v.iter().zip(w).map(|(v, w)| v * w).sum::<f64>() / w.iter().sum::<f64>();
    let b = &options.bootstrap;
    let resampled = bootstrap(&[(0..n).collect()], n, b.resamples, b.seed, 4 + cuts.len(), |w, out| {
        let (t, r) = (mean(&today, w), mean(&rederived, w));
        out[..4].copy_from_slice(&[t, r, r - t, weighted_ece(&bins, p, &outcome, w)]);
        if let Some(fit) = rows.fit(Some(w)) {
            for (k, (_, _, at)) in cuts.iter().enumerate() {
                out[4 + k] = rederived_threshold(&fit, *at);
            }
        }
    });
    let interval = |value: f64, k: usize| {
        let (lower, upper) = percentiles(&resampled[k], b.confidence).unwrap_or((f64::NAN, f64::NAN));
        let method = IntervalMethod::Bootstrap { resamples: resampled[k].len(), seed: b.seed };
        Interval { value, lower, upper, confidence: b.confidence, method }
    };
    let ones = vec![1.0; n];
    let (t, r) = (mean(&today, &ones), mean(&rederived, &ones));
    let gain = interval(r - t, 2);
    let changed = (0..n).filter(|&i| today_mode[i] != rederived_mode[i]).count() as u64;
    let verdict = if changed == 0 {
        Verdict::SameDecisions
    } else if gain.lower > 0.0 {
        Verdict::Gain
    } else if gain.upper < 0.0 {
        Verdict::Loss
    } else {
        Verdict::NoClearDifference
    };
    let decisions = Mode::BY_FORCE
        .into_iter()
        .filter(|m| values.iter().any(|v| v.mode == *m))
        .map(|mode| ModeCount {
            mode,
            today: today_mode.iter().filter(|m| **m == mode).count() as u64,
            rederived: rederived_mode.iter().filter(|m| **m == mode).count() as u64,
        })
        .collect();
    let confidence = b.confidence;
    Ok(Review {
        labeled,
        held: held_count,
        calibration: Calibration {
            bins: table
                .into_iter()
                .map(|bin| {
                    let interval = bin.wilson(confidence).map(|i| Interval {
                        value: i.estimate,
                        lower: i.lower,
                        upper: i.upper,
                        confidence,
                        method: IntervalMethod::Wilson,
                    });
                    CalibrationBin { bin, interval }
                })
                .collect(),
            ece: interval(ece, 3),
            isotonic: calibration.trimmed(),
        },
        thresholds: cuts
            .iter()
            .enumerate()
            .map(|(k, (below, above, at))| Threshold {
                below: *below,
                above: *above,
                today: *at,
                rederived: interval(rederived_threshold(&calibration, *at), 4 + k),
            })
            .collect(),
        value: ValuePerPrediction { today: interval(t, 0), rederived: interval(r, 1), gain, changed, decisions },
        verdict,
    })
}

fn check(options: &ReviewOptions) -> Result<(), QualityError> {
    let as_quality = QualityOptions {
        bootstrap: options.bootstrap,
        min_labeled: options.min_labeled,
        min_per_class: options.min_per_outcome,
        max_width: None,
    };
    as_quality.check()?;
    if options.folds < 2 {
        return Err(QualityError::InvalidOption { name: "folds", value: options.folds as f64, expected: "at least 2" });
    }
    Ok(())
}
