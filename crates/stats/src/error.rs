use crate::Sample;

/// An input a statistic cannot be computed on; the message says which and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("the {sample} is empty: a statistic needs at least one value in it")]
    Empty { sample: Sample },
    #[error(
        "value {index} of the {sample} is {value}: only finite numbers can be compared (leave missing values out and count them apart)"
    )]
    NotFinite { sample: Sample, index: usize, value: f64 },
    #[error("count {index} of the {sample} is {value}: counts must be finite and not negative")]
    NegativeCount { sample: Sample, index: usize, value: f64 },
    #[error("every count of the {sample} is zero: a distribution needs at least one observation")]
    AllZero { sample: Sample },
    #[error(
        "the reference has {reference} categories or bins and the current sample {current}: both must count the same ones, in the same order"
    )]
    LengthMismatch { reference: usize, current: usize },
    #[error("the {first} has {first_len} values and the {second} {second_len}: they must be paired, one for one")]
    Unpaired { first: Sample, first_len: usize, second: Sample, second_len: usize },
    #[error("the {sample} has {got} values: this statistic needs at least {needed}")]
    TooFew { sample: Sample, got: usize, needed: usize },
    #[error("every value of the {sample} is the same: a rank correlation is not defined on a constant")]
    Constant { sample: Sample },
    #[error("the labels hold {positives} positives and {negatives} negatives: ROC AUC needs both classes")]
    OneClass { positives: usize, negatives: usize },
    #[error("{count} of {total} is not a proportion: the count must be at most the total, and the total at least 1")]
    NotAProportion { count: u64, total: u64 },
    #[error(
        "the {sample} has {successes} successes in {trials} trials: the successes must be at most the trials, and the trials at least 1"
    )]
    NotARate { sample: Sample, successes: u64, trials: u64 },
    #[error("the {sample}'s {field} is {value}: it must be {expected}")]
    BadSummary { sample: Sample, field: &'static str, value: f64, expected: &'static str },
    #[error(
        "{counts} arms were counted and {weights} weights configured: a sample-ratio check needs one weight an arm, in the same order"
    )]
    WeightsMismatch { counts: usize, weights: usize },
    #[error(
        "the sequential test's {name} is {now} but the sequence was started with {started}: an always-valid p-value holds only for a test fixed before the first window"
    )]
    SequenceChanged { name: &'static str, started: f64, now: f64 },
    #[error("{name} is {value}: it must be {expected}")]
    InvalidParameter { name: &'static str, value: f64, expected: &'static str },
}
