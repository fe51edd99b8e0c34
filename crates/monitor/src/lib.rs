//! Monitoring: whether what a component sees and answers has moved away from what it was
//! trained on. A **reference profile** of a component ([`Profile`]: per feature and for
//! the model's output, bins cut at the reference's deciles or categories with their
//! counts, the shares of missing, defaulted and out-of-range values, and a bounded seeded
//! sample), and a **drift report** of a current sample against it ([`DriftReport`]: every
//! measure of `rein-stats`, the one [`rein_stats::DriftPolicy`] says decides, and the
//! shares), as JSON or one self-contained HTML page ([`html::render`]).
//!
//! **Goals** ([`goals`]): each `[[goals]]` metric of the system file computed over tumbling
//! windows of the telemetry store ([`window`]: by event time, aligned to the epoch), over
//! the predictions its population holds (`population.rs`: a component, a mode, a guardrail
//! that acted, a CEL filter over the record), with its interval and its status against the
//! target; the trend over recent windows, and whether linked goals moved together.
//!
//! **Monitors** ([`monitors`]): each `[[monitors]]` figure over the store's windows (a
//! feature's or the output's drift against the reference profile, latency, a guardrail's or
//! the fallback's rate, a goal's metric), and the alerts they open and close without
//! flapping ([`alerts`], pure).
//!
//! **Review** ([`review`]): an expected-value policy against its labeled predictions: the
//! model's observed calibration, the thresholds the stated values imply under it, and the
//! value per prediction of today's and the re-derived thresholds, with intervals.
//!
//! **Shadows** ([`shadow`]): a traffic plan's shadow against what was answered on the same
//! requests (each shadow prediction joined to the one it copies): label agreement, score or
//! value differences, and the drift of its output, by [`report`]'s measures.
//!
//! Pure where it can be: [`columns`], [`profile`], [`current`], [`report`], [`html`],
//! [`reservoir`] and [`review`] compute on what is handed to them. [`table`] is the I/O edge (CSV and
//! Parquet files); [`files`] reads a file into a profile, or against one. [`goals`] and
//! [`window`] read the telemetry store through `rein_telemetry::Store` (its reads only,
//! never the writer).
//!
//! Cost: a current sample is gathered in one pass, O(rows) (each number is placed in the
//! reference's bins by a binary search over at most nine edges and offered to a
//! reservoir; each category is counted in a hash map), in memory O(bins + categories +
//! sample). The measures are then O(bins) or O(sample · log sample) a column: KS and
//! Wasserstein run on the reservoirs ([`reservoir::DEFAULT_SAMPLE_SIZE`] values a side),
//! whatever the window's size.

pub mod alerts;
pub mod calibration;
pub mod columns;
pub mod current;
pub mod estimate;
pub mod experiment;
pub mod files;
pub mod goals;
pub mod html;
pub mod monitors;
mod population;
pub mod profile;
pub mod quality;
pub mod quality_windows;
pub mod recorded;
pub mod report;
mod resample;
pub mod reservoir;
pub mod review;
pub mod shadow;
pub mod slices;
pub mod system_page;
pub mod table;
pub mod window;

pub use columns::{Cell, Column, Kind, Role, columns};
pub use files::{Options, Output, Outputs};
pub use goals::{GoalReport, GoalsReport, Status};
pub use profile::{Profile, ProfileError};
pub use quality::{
    Classes, ClassifierQuality, ClassifierRow, Figure, QualityError, QualityOptions, RegressionQuality, RegressionRow,
    Scores, classifier_quality, regression_quality,
};
pub use report::DriftReport;
pub use table::{Table, TableError};
