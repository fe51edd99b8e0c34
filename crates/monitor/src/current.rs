//! A current sample, gathered against a profile in one pass and bounded memory: each
//! number counted in the reference's bins (a binary search over at most nine edges) and
//! offered to a reservoir, each category counted against the reference's. O(rows) in time,
//! O(bins + categories + sample) in memory, whatever the window's size.

use crate::columns::{Cell, Column, Kind, Observed, Sink};
use crate::profile::{ColumnProfile, Counts, Distribution, MAX_CATEGORIES, OTHER_CATEGORY};
use crate::reservoir::{Reservoir, column_seed};
use rein_stats::Bins;
use std::collections::HashMap;

/// One column of the current sample ([`Sink`]).
#[derive(Debug)]
pub struct CurrentColumn {
    column: Column,
    pub(crate) counts: Counts,
    /// Numbers: counts per reference bin (none when the reference has no bins).
    pub(crate) bins: Option<(Bins, Vec<u64>)>,
    pub(crate) reservoir: Reservoir,
    pub(crate) sum: f64,
    pub(crate) numbers: u64,
    /// Categories: counts per reference category, in the profile's order.
    index: HashMap<String, usize>,
    pub(crate) known: Vec<u64>,
    /// Categories the reference never saw, at most [`MAX_CATEGORIES`]; beyond, `other`.
    pub(crate) new: HashMap<String, u64>,
    pub(crate) other: u64,
}

impl CurrentColumn {
    /// Gathers `column`'s cells against its `reference` profile; `seed` and `sample_size`
    /// as the profile's, so that the same rows give the same sample.
    pub fn new(column: Column, reference: &ColumnProfile, sample_size: usize, seed: u64) -> CurrentColumn {
        let bins = match &reference.distribution {
            Some(Distribution::Numeric(n)) => Some((n.bins(), vec![0; n.counts.len()])),
            _ => None,
        };
        let (index, known) = match &reference.distribution {
            Some(Distribution::Categorical(c)) => (
                c.categories.iter().enumerate().map(|(i, c)| (c.category.clone(), i)).collect(),
                vec![0; c.categories.len()],
            ),
            _ => (HashMap::new(), Vec::new()),
        };
        // not the reference's stream: a current sample of the reference's own rows is
        // another draw, as it would be of any other rows
        let reservoir = Reservoir::new(sample_size, column_seed(seed.rotate_left(17) ^ 0x5bd1_e995, &column.name));
        CurrentColumn {
            column,
            counts: Counts::default(),
            bins,
            reservoir,
            sum: 0.0,
            numbers: 0,
            index,
            known,
            new: HashMap::new(),
            other: 0,
        }
    }

    pub fn column(&self) -> &Column {
        &self.column
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }
}

impl Sink for CurrentColumn {
    fn push(&mut self, cell: Cell<'_>) {
        let observed = self.column.observe(cell);
        self.counts.add(&observed);
        match observed {
            Observed::Number { value, .. } if value.is_finite() && self.column.kind != Kind::Categorical => {
                if let Some((bins, counts)) = &mut self.bins {
                    counts[bins.bin_of(value)] += 1;
                }
                self.reservoir.push(value);
                self.sum += value;
                self.numbers += 1;
            }
            Observed::Category { value, .. } => {
                if let Some(&i) = self.index.get(value) {
                    self.known[i] += 1;
                } else if let Some(count) = self.new.get_mut(value) {
                    *count += 1;
                } else if self.new.len() < MAX_CATEGORIES && value != OTHER_CATEGORY {
                    self.new.insert(value.to_owned(), 1);
                } else {
                    match self.index.get(OTHER_CATEGORY) {
                        Some(&i) => self.known[i] += 1,
                        None => self.other += 1,
                    }
                }
            }
            _ => {}
        }
    }
}
