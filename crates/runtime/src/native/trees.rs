//! TreeEnsembleClassifier and TreeEnsembleRegressor (ai.onnx.ml), aggregated and
//! post-transformed as ONNX Runtime does: float scores summed tree by tree in tree
//! order, its rules for a binary classifier that scores one class, its logistic.

use super::{Attributes, Op, Tensor};
use crate::raw::RawData;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Leaf,
}

struct Node {
    feature: usize,
    threshold: f32,
    mode: Mode,
    yes: usize,
    no: usize,
    missing_true: bool,
    /// A leaf's votes: a range of `Forest::votes`.
    votes: (usize, usize),
}

/// A node as the walk reads it, 16 bytes; a leaf has `feature == LEAF`.
#[derive(Clone, Copy)]
struct Packed {
    feature: u32,
    threshold: f32,
    yes: u32,
    no: u32,
}

const LEAF: u32 = u32::MAX;

/// The trees, flattened: each tree's root, its nodes, and the leaves' votes
/// (class or target, weight) in the order the graph lists them.
struct Forest {
    nodes: Vec<Node>,
    packed: Vec<Packed>,
    /// The one comparison every branch makes, when they all make the same one and none
    /// sends a missing value (NaN) its own way: the walk then has no branch to mispredict.
    uniform: Option<Mode>,
    roots: Vec<usize>,
    votes: Vec<(usize, f32)>,
    /// Inputs a row must have: one more than the largest feature index.
    features: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Transform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

const NODE_ATTRIBUTES: [&str; 9] = [
    "nodes_treeids",
    "nodes_nodeids",
    "nodes_featureids",
    "nodes_modes",
    "nodes_values",
    "nodes_truenodeids",
    "nodes_falsenodeids",
    "nodes_missing_value_tracks_true",
    "nodes_hitrates",
];

impl Forest {
    /// The trees of `attrs`, with leaves' votes from `{prefix}_treeids`, `_nodeids`,
    /// `_ids` and `_weights` (`class` or `target`), each vote for an index below `width`.
    fn compile(attrs: &Attributes<'_>, prefix: &str, width: usize) -> Result<Forest, String> {
        let op = attrs.op().to_string();
        let trees = attrs.ints("nodes_treeids");
        let ids = attrs.ints("nodes_nodeids");
        let features = attrs.ints("nodes_featureids");
        let modes = attrs.strings("nodes_modes")?;
        let values = attrs.floats("nodes_values");
        let yes = attrs.ints("nodes_truenodeids");
        let no = attrs.ints("nodes_falsenodeids");
        let missing = attrs.ints("nodes_missing_value_tracks_true");
        let n = trees.len();
        if n == 0 {
            return Err(format!("{op} has no nodes"));
        }
        let same = [ids.len(), features.len(), modes.len(), values.len(), yes.len(), no.len()].iter().all(|&l| l == n)
            && (missing.is_empty() || missing.len() == n);
        if !same {
            return Err(format!("{op}'s node attributes differ in length"));
        }
        let mut index = std::collections::HashMap::with_capacity(n);
        for i in 0..n {
            if index.insert((trees[i], ids[i]), i).is_some() {
                return Err(format!("{op}: node {} of tree {} is given twice", ids[i], trees[i]));
            }
        }
        let child = |i: usize, id: i64| {
            index.get(&(trees[i], id)).copied().ok_or_else(|| format!("{op}: tree {} has no node {id}", trees[i]))
        };
        let mut nodes = Vec::with_capacity(n);
        let mut widest = 0;
        for i in 0..n {
            let mode = match modes[i].as_str() {
                "BRANCH_LEQ" => Mode::Leq,
                "BRANCH_LT" => Mode::Lt,
                "BRANCH_GTE" => Mode::Gte,
                "BRANCH_GT" => Mode::Gt,
                "BRANCH_EQ" => Mode::Eq,
                "BRANCH_NEQ" => Mode::Neq,
                "LEAF" => Mode::Leaf,
                other => return Err(format!("{op}: node mode `{other}` is not one rein evaluates")),
            };
            let feature = usize::try_from(features[i]).map_err(|_| format!("{op}: feature {}", features[i]))?;
            let (y, f) = if mode == Mode::Leaf { (i, i) } else { (child(i, yes[i])?, child(i, no[i])?) };
            if mode != Mode::Leaf {
                widest = widest.max(feature + 1);
            }
            nodes.push(Node {
                feature,
                threshold: values[i],
                mode,
                yes: y,
                no: f,
                missing_true: missing.get(i).is_some_and(|&m| m != 0),
                votes: (0, 0),
            });
        }

        // Votes, grouped by leaf in the order listed.
        let v_trees = attrs.ints(&format!("{prefix}_treeids"));
        let v_nodes = attrs.ints(&format!("{prefix}_nodeids"));
        let v_ids = attrs.ints(&format!("{prefix}_ids"));
        let v_weights = attrs.floats(&format!("{prefix}_weights"));
        let m = v_trees.len();
        if v_nodes.len() != m || v_ids.len() != m || v_weights.len() != m {
            return Err(format!("{op}'s `{prefix}_*` attributes differ in length"));
        }
        let mut by_leaf: Vec<Vec<(usize, f32)>> = (0..n).map(|_| Vec::new()).collect();
        for k in 0..m {
            let leaf = *index.get(&(v_trees[k], v_nodes[k])).ok_or_else(|| {
                format!("{op}: a vote for node {} of tree {}, which does not exist", v_nodes[k], v_trees[k])
            })?;
            if nodes[leaf].mode != Mode::Leaf {
                return Err(format!("{op}: a vote for a node that is not a leaf"));
            }
            let id = usize::try_from(v_ids[k])
                .ok()
                .filter(|&c| c < width)
                .ok_or_else(|| format!("{op}: a vote for {prefix} {}, of {width}", v_ids[k]))?;
            by_leaf[leaf].push((id, v_weights[k]));
        }
        let mut votes = Vec::with_capacity(m);
        for (i, list) in by_leaf.into_iter().enumerate() {
            nodes[i].votes = (votes.len(), votes.len() + list.len());
            votes.extend(list);
        }

        // Trees in ascending id, each rooted at its smallest node id; every node reached
        // once from its root, so no walk can loop.
        let mut roots: Vec<(i64, i64, usize)> = Vec::new();
        for i in 0..n {
            match roots.iter_mut().find(|r| r.0 == trees[i]) {
                Some(r) if ids[i] < r.1 => *r = (trees[i], ids[i], i),
                Some(_) => {}
                None => roots.push((trees[i], ids[i], i)),
            }
        }
        roots.sort_by_key(|r| r.0);
        let mut seen = vec![false; n];
        for &(tree, _, root) in &roots {
            let mut stack = vec![root];
            while let Some(i) = stack.pop() {
                if std::mem::replace(&mut seen[i], true) {
                    return Err(format!("{op}: tree {tree} is not a tree (a node is reached twice)"));
                }
                if nodes[i].mode != Mode::Leaf {
                    stack.push(nodes[i].yes);
                    stack.push(nodes[i].no);
                }
            }
        }
        let narrow = |i: usize| u32::try_from(i).map_err(|_| format!("{op} has too many nodes"));
        let packed = nodes
            .iter()
            .map(|n| {
                Ok(Packed {
                    feature: if n.mode == Mode::Leaf { LEAF } else { narrow(n.feature)? },
                    threshold: n.threshold,
                    yes: narrow(n.yes)?,
                    no: narrow(n.no)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut branches = nodes.iter().filter(|n| n.mode != Mode::Leaf);
        let first = branches.clone().next().map(|n| n.mode);
        let uniform = first.filter(|&m| branches.all(|n| n.mode == m && !n.missing_true));
        Ok(Forest { nodes, packed, uniform, roots: roots.into_iter().map(|r| r.2).collect(), votes, features: widest })
    }

    fn votes_of(&self, leaf: usize) -> &[(usize, f32)] {
        let (from, to) = self.nodes[leaf].votes;
        &self.votes[from..to]
    }

    /// Visits the votes of the leaf row `x` reaches in each tree, in tree order.
    fn each_leaf(&self, x: &[f32], mut visit: impl FnMut(&[(usize, f32)])) {
        match self.uniform {
            Some(Mode::Leq) => self.walk_all(x, |v, t| v <= t, &mut visit),
            Some(Mode::Lt) => self.walk_all(x, |v, t| v < t, &mut visit),
            Some(Mode::Gte) => self.walk_all(x, |v, t| v >= t, &mut visit),
            Some(Mode::Gt) => self.walk_all(x, |v, t| v > t, &mut visit),
            Some(Mode::Eq) => self.walk_all(x, |v, t| v == t, &mut visit),
            Some(Mode::Neq) => self.walk_all(x, |v, t| v != t, &mut visit),
            _ => self.roots.iter().for_each(|&root| visit(self.votes_of(self.walk_mixed(root, x)))),
        }
    }

    /// Walks the trees four at a time when every branch compares the same way: a step
    /// waits on its node's load, and four independent walks keep the core busy meanwhile.
    #[inline(always)]
    fn walk_all(&self, x: &[f32], goes_yes: impl Fn(f32, f32) -> bool, visit: &mut impl FnMut(&[(usize, f32)])) {
        let step = |i: usize| {
            let node = self.packed[i];
            if node.feature == LEAF {
                None
            } else {
                Some(if goes_yes(x[node.feature as usize], node.threshold) { node.yes } else { node.no } as usize)
            }
        };
        let mut fours = self.roots.chunks_exact(4);
        for four in &mut fours {
            let mut at = [four[0], four[1], four[2], four[3]];
            loop {
                let mut moved = false;
                for a in &mut at {
                    if let Some(next) = step(*a) {
                        *a = next;
                        moved = true;
                    }
                }
                if !moved {
                    break;
                }
            }
            at.iter().for_each(|&leaf| visit(self.votes_of(leaf)));
        }
        for &root in fours.remainder() {
            let mut i = root;
            while let Some(next) = step(i) {
                i = next;
            }
            visit(self.votes_of(i));
        }
    }

    /// The leaf reached when branches compare in different ways or track missing values.
    fn walk_mixed(&self, root: usize, x: &[f32]) -> usize {
        let mut i = root;
        let mut node = &self.nodes[i];
        while node.mode != Mode::Leaf {
            let v = x[node.feature];
            let t = node.threshold;
            let go = match node.mode {
                Mode::Leq => v <= t,
                Mode::Lt => v < t,
                Mode::Gte => v >= t,
                Mode::Gt => v > t,
                Mode::Eq => v == t,
                Mode::Neq => v != t,
                Mode::Leaf => unreachable!("the loop stops at a leaf"),
            };
            i = if go || (node.missing_true && v.is_nan()) { node.yes } else { node.no };
            node = &self.nodes[i];
        }
        i
    }

    /// The rows of `x` (float, `[N, F]` or `[F]`), checked to be wide enough.
    fn rows<'a>(&self, x: &'a Tensor, op: &str) -> Result<(usize, usize, &'a [f32]), String> {
        let RawData::Fp32(data) = &x.data else {
            return Err(format!("{op} is evaluated on float inputs only, not {}", x.data.datatype()));
        };
        let (n, width) = match x.shape.as_slice() {
            [f] => (1, *f),
            [n, f] => (*n, *f),
            other => return Err(format!("{op} takes a matrix, not shape {other:?}")),
        };
        if width < self.features {
            return Err(format!("{op}: rows of {width} features, but its trees read feature {}", self.features - 1));
        }
        Ok((n, width, data))
    }
}

fn transform(attrs: &Attributes<'_>) -> Result<Transform, String> {
    Ok(match attrs.string("post_transform")?.as_deref().unwrap_or("NONE") {
        "NONE" => Transform::None,
        "LOGISTIC" => Transform::Logistic,
        "SOFTMAX" => Transform::Softmax,
        "SOFTMAX_ZERO" => Transform::SoftmaxZero,
        "PROBIT" => Transform::Probit,
        other => return Err(format!("post_transform `{other}` is not one rein evaluates")),
    })
}

fn logistic(x: f32) -> f32 {
    let v = 1.0 / (1.0 + (-x.abs()).exp());
    if x < 0.0 { 1.0 - v } else { v }
}

/// ONNX Runtime's approximation of the inverse error function, in float, with its
/// constants (3.14159, not π).
#[allow(clippy::approx_constant)]
fn erf_inv(x: f32) -> f32 {
    let sign = if x < 0.0 { -1.0f32 } else { 1.0 };
    let x = (1.0 - x) * (1.0 + x);
    let log = x.ln();
    let v = 2.0 / (3.14159f32 * 0.147) + 0.5 * log;
    let v2 = 1.0 / 0.147f32 * log;
    let v3 = -v + (v * v - v2).sqrt();
    sign * v3.sqrt()
}

fn probit(x: f32) -> f32 {
    std::f32::consts::SQRT_2 * erf_inv(2.0 * x - 1.0)
}

fn softmax(scores: &mut [f32]) {
    let max = scores.iter().fold(-f32::MAX, |m, &v| if v > m { v } else { m });
    let mut sum = 0f32;
    for v in scores.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in scores.iter_mut() {
        *v /= sum;
    }
}

/// Softmax that leaves (near-)zero scores near zero.
fn softmax_zero(scores: &mut [f32]) {
    let max = scores.iter().fold(-f32::MAX, |m, &v| if v > m { v } else { m });
    let exp_neg_max = (-max).exp();
    let mut sum = 0f32;
    for v in scores.iter_mut() {
        if *v > 0.000_000_1 || *v < -0.000_000_1 {
            *v = (*v - max).exp();
            sum += *v;
        } else {
            *v *= exp_neg_max;
        }
    }
    for v in scores.iter_mut() {
        *v /= sum;
    }
}

/// The post-transform of a row's scores. A single score (a binary classifier that scores
/// one class) becomes two by `second`, ONNX Runtime's `add_second_class`: 0 and 1 for
/// positive weights, 2 and 3 for mixed ones.
fn write_scores(scores: &mut Vec<f32>, transform: Transform, second: Option<u8>) {
    if scores.len() >= 2 {
        match transform {
            Transform::Probit => scores.iter_mut().for_each(|v| *v = probit(*v)),
            Transform::Logistic => scores.iter_mut().for_each(|v| *v = logistic(*v)),
            Transform::Softmax => softmax(scores),
            Transform::SoftmaxZero => softmax_zero(scores),
            Transform::None => {}
        }
    } else if scores.len() == 1 {
        let s = scores[0];
        if transform == Transform::Probit {
            scores[0] = probit(s);
            return;
        }
        *scores = match (second, transform) {
            (Some(0 | 1), _) => vec![1.0 - s, s],
            (Some(2 | 3), Transform::Logistic) => vec![logistic(-s), logistic(s)],
            (Some(2), _) => vec![-s, s],
            (Some(3), _) => vec![s, -s],
            _ => return,
        };
    }
}

/// TreeEnsembleClassifier: a label and a score for each class.
pub(super) struct Classifier {
    forest: Forest,
    /// `Ok`: labels are strings, the label output picks one by index; `Err`: integers.
    labels: Result<Vec<String>, Vec<i64>>,
    classes: usize,
    base: Vec<f32>,
    transform: Transform,
    /// Two classes and every vote for the same one.
    binary: bool,
    positive_weights: bool,
}

impl Classifier {
    pub(super) fn compile(attrs: &Attributes<'_>) -> Result<Classifier, String> {
        let mut known = NODE_ATTRIBUTES.to_vec();
        known.extend([
            "class_treeids",
            "class_nodeids",
            "class_ids",
            "class_weights",
            "classlabels_strings",
            "classlabels_int64s",
            "base_values",
            "post_transform",
        ]);
        attrs.only(&known)?;
        let (strings, ints) = (attrs.strings("classlabels_strings")?, attrs.ints("classlabels_int64s"));
        let labels = match (strings.is_empty(), ints.is_empty()) {
            (false, true) => Ok(strings),
            (true, false) => Err(ints),
            _ => return Err("TreeEnsembleClassifier needs exactly one of the label lists".into()),
        };
        let classes = match &labels {
            Ok(s) => s.len(),
            Err(i) => i.len(),
        };
        if classes < 2 {
            return Err("TreeEnsembleClassifier with fewer than two classes".into());
        }
        let base = attrs.floats("base_values");
        let base_fits = if classes == 2 { base.len() <= 2 } else { base.is_empty() || base.len() == classes };
        if !base_fits {
            return Err(format!("TreeEnsembleClassifier: {} base values for {classes} classes", base.len()));
        }
        let forest = Forest::compile(attrs, "class", classes)?;
        let ids = attrs.ints("class_ids");
        let binary = classes == 2 && ids.iter().all(|&c| Some(&c) == ids.first());
        let positive_weights = attrs.floats("class_weights").iter().all(|&w| w >= 0.0);
        Ok(Classifier { forest, labels, classes, base, transform: transform(attrs)?, binary, positive_weights })
    }

    /// The row's label (as an index into string labels, or an integer label); `scores`
    /// become the row's output scores.
    fn finish(&self, scores: &mut Vec<f32>, scored: &mut [bool]) -> Result<i64, String> {
        let label_at = |i: usize| match &self.labels {
            Ok(_) => i as i64,
            Err(ints) => ints[i],
        };
        if self.classes > 2 {
            for (k, &b) in self.base.iter().enumerate() {
                scores[k] += b;
                scored[k] = true;
            }
            let mut best: Option<usize> = None;
            for k in 0..self.classes {
                if scored[k] && best.is_none_or(|b| scores[k] > scores[b]) {
                    best = Some(k);
                }
            }
            let best = best.ok_or("TreeEnsembleClassifier: no tree voted for any class")?;
            write_scores(scores, self.transform, None);
            return Ok(label_at(best));
        }
        let mut second = None;
        match self.base.as_slice() {
            [b0, b1] => {
                if scored[1] {
                    // As ONNX Runtime: the first base value is not used here.
                    scores[1] = b1 + scores[0];
                    scores[0] = -scores[1];
                } else {
                    scores[1] += b1;
                    scores[0] += b0;
                }
            }
            [b0] => {
                scores[0] += b0;
                if !scored[1] {
                    scores.pop();
                }
            }
            _ => {
                second = Some(3);
                if !scored[1] {
                    scores.pop();
                }
            }
        }
        let positive = if scores.len() == 2 && scored[1] {
            scores[1]
        } else if scored[0] {
            scores[0]
        } else {
            0.0
        };
        let label = if self.binary {
            let (s, class) = match (self.positive_weights, positive) {
                (true, p) if p > 0.5 => (0, 1),
                (true, _) => (1, 0),
                (false, p) if p > 0.0 => (2, 1),
                (false, _) => (3, 0),
            };
            second = Some(s);
            label_at(class)
        } else if positive > 0.0 {
            1
        } else {
            0
        };
        write_scores(scores, self.transform, second);
        if scores.len() != 2 {
            return Err("TreeEnsembleClassifier: a binary score ONNX Runtime leaves undefined".into());
        }
        Ok(label)
    }
}

impl Op for Classifier {
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, String> {
        let x = inputs.first().ok_or("TreeEnsembleClassifier has no input")?;
        let (n, width, data) = self.forest.rows(x, "TreeEnsembleClassifier")?;
        let mut codes = Vec::with_capacity(n);
        let mut probabilities = Vec::with_capacity(n * self.classes);
        let mut scores = Vec::with_capacity(self.classes);
        let mut scored = vec![false; self.classes];
        for r in 0..n {
            let row = &data[r * width..(r + 1) * width];
            scores.clear();
            scores.resize(self.classes, 0f32);
            scored.fill(false);
            self.forest.each_leaf(row, |votes| {
                for &(c, w) in votes {
                    scores[c] += w;
                    scored[c] = true;
                }
            });
            codes.push(self.finish(&mut scores, &mut scored)?);
            probabilities.extend_from_slice(&scores);
        }
        let label = match &self.labels {
            Ok(strings) => RawData::Bytes(
                codes
                    .iter()
                    .map(|&c| strings.get(c as usize).cloned().ok_or("TreeEnsembleClassifier: a label out of range"))
                    .collect::<Result<_, _>>()?,
            ),
            Err(_) => RawData::Int64(codes),
        };
        Ok(vec![
            Tensor { shape: vec![n], data: label },
            Tensor { shape: vec![n, self.classes], data: RawData::Fp32(probabilities) },
        ])
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// TreeEnsembleRegressor: `n_targets` values a row.
pub(super) struct Regressor {
    forest: Forest,
    targets: usize,
    aggregate: Aggregate,
    base: Vec<f32>,
    transform: Transform,
}

impl Regressor {
    pub(super) fn compile(attrs: &Attributes<'_>) -> Result<Regressor, String> {
        let mut known = NODE_ATTRIBUTES.to_vec();
        known.extend([
            "target_treeids",
            "target_nodeids",
            "target_ids",
            "target_weights",
            "n_targets",
            "aggregate_function",
            "base_values",
            "post_transform",
        ]);
        attrs.only(&known)?;
        let targets = attrs.int("n_targets").unwrap_or(1);
        let targets = usize::try_from(targets).ok().filter(|&t| t >= 1).ok_or("TreeEnsembleRegressor: n_targets")?;
        let aggregate = match attrs.string("aggregate_function")?.as_deref().unwrap_or("SUM") {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            other => return Err(format!("aggregate_function `{other}` is not one rein evaluates")),
        };
        let forest = Forest::compile(attrs, "target", targets)?;
        if targets == 1 && forest.nodes.iter().any(|n| n.mode == Mode::Leaf && n.votes.0 == n.votes.1) {
            return Err("TreeEnsembleRegressor: a leaf without a value".into());
        }
        Ok(Regressor { forest, targets, aggregate, base: attrs.floats("base_values"), transform: transform(attrs)? })
    }

    fn one_target(&self, row: &[f32]) -> f32 {
        let mut score = 0f32;
        let mut scored = false;
        self.forest.each_leaf(row, |votes| {
            let w = votes[0].1;
            match self.aggregate {
                Aggregate::Sum | Aggregate::Average => score += w,
                Aggregate::Min => score = if !scored || w < score { w } else { score },
                Aggregate::Max => score = if !scored || w > score { w } else { score },
            }
            scored = true;
        });
        let origin = if self.base.len() == 1 { self.base[0] } else { 0.0 };
        score = match self.aggregate {
            Aggregate::Sum => score + origin,
            Aggregate::Average => score / self.forest.roots.len() as f32 + origin,
            Aggregate::Min | Aggregate::Max if scored => score + origin,
            Aggregate::Min | Aggregate::Max => origin,
        };
        if self.transform == Transform::Probit { probit(score) } else { score }
    }

    fn targets(&self, row: &[f32]) -> Vec<f32> {
        let mut scores = vec![0f32; self.targets];
        let mut scored = vec![false; self.targets];
        self.forest.each_leaf(row, |votes| {
            for &(t, w) in votes {
                scores[t] = match self.aggregate {
                    Aggregate::Sum | Aggregate::Average => scores[t] + w,
                    Aggregate::Min if scored[t] && scores[t] < w => scores[t],
                    Aggregate::Max if scored[t] && scores[t] > w => scores[t],
                    Aggregate::Min | Aggregate::Max => w,
                };
                scored[t] = true;
            }
        });
        let base = if self.base.len() == self.targets { Some(&self.base) } else { None };
        let trees = self.forest.roots.len() as f32;
        for t in 0..self.targets {
            let b = base.map_or(0.0, |b| b[t]);
            scores[t] = match self.aggregate {
                Aggregate::Sum if base.is_some() => scores[t] + b,
                Aggregate::Sum => scores[t],
                Aggregate::Average if base.is_some() => scores[t] / trees + b,
                Aggregate::Average => scores[t] / trees,
                Aggregate::Min | Aggregate::Max => b + if scored[t] { scores[t] } else { 0.0 },
            };
        }
        write_scores(&mut scores, self.transform, None);
        scores
    }
}

impl Op for Regressor {
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, String> {
        let x = inputs.first().ok_or("TreeEnsembleRegressor has no input")?;
        let (n, width, data) = self.forest.rows(x, "TreeEnsembleRegressor")?;
        let mut out = Vec::with_capacity(n * self.targets);
        for r in 0..n {
            let row = &data[r * width..(r + 1) * width];
            if self.targets == 1 {
                out.push(self.one_target(row));
            } else {
                out.extend(self.targets(row));
            }
        }
        Ok(vec![Tensor { shape: vec![n, self.targets], data: RawData::Fp32(out) }])
    }
}
