//! Seeded, deterministic worlds for rein's example systems. A world knows the hidden
//! truth of every request and how users react to what rein decided; the driver plays a
//! scenario (drift, broken features, surges) against a running rein over its HTTP API.

pub mod driver;
mod memory;
pub mod pace;
mod reaction;
mod report;
mod round;
mod sample;
pub mod scenario;
#[cfg(test)]
mod testkit;
mod truth;
pub mod world;
pub mod worlds {
    pub mod audit;
    pub mod legal;
    pub mod phishing;
    pub mod toaster;
}

use std::sync::Arc;

pub use driver::{RunConfig, SimError, run, run_scenario, run_with_lead};
pub use pace::LEAD_MS;
pub use report::Summary;
pub use scenario::{Change, ChangeKind, Phase, Scenario};
pub use world::World;

/// The world of each example, by the example's folder name.
pub fn world(example: &str) -> Option<Arc<dyn World>> {
    match example {
        "phishing-warning" => Some(Arc::new(worlds::phishing::Phishing)),
        "audit-risk" => Some(Arc::new(worlds::audit::Audit)),
        "smart-toaster" => Some(Arc::new(worlds::toaster::Toaster)),
        "legal-triage" => Some(Arc::new(worlds::legal::Legal)),
        _ => None,
    }
}

/// Examples that have a world.
pub const EXAMPLES: [&str; 4] = ["phishing-warning", "audit-risk", "smart-toaster", "legal-triage"];
