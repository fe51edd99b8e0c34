//! A current sample, gathered against a profile in one pass and bounded memory: each
//! number counted in the reference's bins (a binary search over at most nine edges) and
//! offered to a reservoir, each category counted against the reference's. O(rows) in time,
//! O(bins + categories + sample) in memory, whatever the window's size.

use crate::columns::{Cell, Column, Kind, Observed, Range, Sink};
use crate::profile::{ColumnProfile, Counts, Distribution, MAX_CATEGORIES, OTHER_CATEGORY};
use crate::reservoir::{Reservoir, column_seed};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: categories are short strings, hashed once a row; SipHash's protection against
/// chosen keys buys nothing for a file the user hands over, and costs a third of a row.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &byte in bytes {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

pub(crate) type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// One column of the current sample ([`Sink`]).
#[derive(Debug)]
pub struct CurrentColumn {
    column: Column,
    pub(crate) counts: Counts,
    /// Numbers: the reference's bin edges and counts per bin (none when the reference
    /// has no bins).
    pub(crate) bins: Option<(Vec<f64>, Vec<u64>)>,
    pub(crate) reservoir: Reservoir,
    pub(crate) sum: f64,
    pub(crate) numbers: u64,
    /// Categories: counts per reference category, in the profile's order, and whether
    /// each is a declared one (decided once, not once a row).
    index: FnvMap<String, usize>,
    pub(crate) known: Vec<u64>,
    known_in_range: Vec<bool>,
    /// Categories the reference never saw, at most [`MAX_CATEGORIES`], with whether each
    /// is a declared one; beyond, `other`.
    pub(crate) new: FnvMap<String, (u64, bool)>,
    pub(crate) other: u64,
}

impl CurrentColumn {
    /// Gathers `column`'s cells against its `reference` profile; `seed` and `sample_size`
    /// as the profile's, so that the same rows give the same sample.
    pub fn new(column: Column, reference: &ColumnProfile, sample_size: usize, seed: u64) -> CurrentColumn {
        let bins = match &reference.distribution {
            Some(Distribution::Numeric(n)) => Some((n.edges.clone(), vec![0; n.counts.len()])),
            _ => None,
        };
        let (index, known, known_in_range) = match &reference.distribution {
            Some(Distribution::Categorical(c)) => (
                c.categories.iter().enumerate().map(|(i, c)| (c.category.clone(), i)).collect(),
                vec![0; c.categories.len()],
                c.categories.iter().map(|c| declared(&column, &c.category)).collect(),
            ),
            _ => (FnvMap::default(), Vec::new(), Vec::new()),
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
            known_in_range,
            new: FnvMap::default(),
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

impl CurrentColumn {
    fn category(&mut self, value: &str) {
        self.counts.rows += 1;
        let in_range = if let Some(&i) = self.index.get(value) {
            self.known[i] += 1;
            self.known_in_range[i]
        } else if let Some((count, in_range)) = self.new.get_mut(value) {
            *count += 1;
            *in_range
        } else {
            let in_range = declared(&self.column, value);
            if self.new.len() < MAX_CATEGORIES && value != OTHER_CATEGORY {
                self.new.insert(value.to_owned(), (1, in_range));
            } else {
                match self.index.get(OTHER_CATEGORY) {
                    Some(&i) => self.known[i] += 1,
                    None => self.other += 1,
                }
            }
            in_range
        };
        if !in_range {
            self.counts.out_of_range += 1;
        }
    }

    fn number(&mut self, value: f64) {
        if let Some((edges, counts)) = &mut self.bins {
            // numpy's searchsorted(edges, value, side='left') over at most nine edges
            // (`rein_stats::Bins::bin_of`), written out here to be inlined
            let bin = edges.iter().filter(|&&edge| edge < value).count();
            counts[bin] += 1;
        }
        self.reservoir.push(value);
        self.sum += value;
        self.numbers += 1;
    }
}

/// Whether `value` is one of the column's declared categories (or none are declared).
fn declared(column: &Column, value: &str) -> bool {
    match &column.range {
        Range::Categories(declared) => declared.is_empty() || declared.iter().any(|c| c == value),
        _ => true,
    }
}

impl Sink for CurrentColumn {
    fn push(&mut self, cell: Cell<'_>) {
        match (self.column.kind, cell) {
            (Kind::Categorical, Cell::Text(value)) => return self.category(value),
            (Kind::Categorical, Cell::Bool(b)) => return self.category(if b { "true" } else { "false" }),
            _ => {}
        }
        let observed = self.column.observe(cell);
        self.counts.add(&observed);
        if let Observed::Number { value, .. } = observed
            && value.is_finite()
        {
            self.number(value);
        }
    }
}
