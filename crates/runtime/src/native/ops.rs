//! The shape and preprocessing operators, each as ONNX Runtime computes it (the same
//! arithmetic in the same precision, so that results match to the bit).

use std::collections::HashMap;

use super::{Attributes, Op, Tensor};
use crate::raw::RawData;

/// Applies a generic function to the data whatever its element type, keeping the type.
macro_rules! keep_type {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            RawData::Fp32($v) => RawData::Fp32($body),
            RawData::Fp64($v) => RawData::Fp64($body),
            RawData::Int64($v) => RawData::Int64($body),
            RawData::Int32($v) => RawData::Int32($body),
            RawData::Bool($v) => RawData::Bool($body),
            RawData::Bytes($v) => RawData::Bytes($body),
        }
    };
}

/// `axis` (negative counts from the end) as an index into a shape of `rank` (or `rank + 1`
/// where the axis may be one past the last).
fn axis_index(axis: i64, rank: usize, op: &str) -> Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if a < 0 || a as usize >= rank.max(1) {
        return Err(format!("{op}: axis {axis} is out of range for rank {rank}"));
    }
    Ok(a as usize)
}

fn one<'a>(inputs: &[&'a Tensor], op: &str) -> Result<&'a Tensor, String> {
    inputs.first().copied().ok_or_else(|| format!("{op} has no input"))
}

pub(super) struct Identity;

impl Op for Identity {
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, String> {
        Ok(vec![one(inputs, "Identity")?.clone()])
    }
}

/// Cast between numeric types (to string is refused at compile: its text form is
/// ONNX Runtime's own).
pub(super) struct Cast {
    to: i64,
}

impl Cast {
    pub(super) fn compile(attrs: &Attributes<'_>) -> Result<Cast, String> {
        attrs.only(&["to", "saturate"])?;
        let to = attrs.int("to").ok_or("Cast has no `to`")?;
        match to {
            1 | 6 | 7 | 9 | 11 => Ok(Cast { to }),
            other => Err(format!("Cast to ONNX data type {other} is not one rein evaluates")),
        }
    }
}

impl Op for Cast {
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, String> {
        let x = one(inputs, "Cast")?;
        macro_rules! cast {
            ($v:expr, $t:ty, $variant:ident) => {
                RawData::$variant($v.iter().map(|&a| a as $t).collect())
            };
        }
        macro_rules! to {
            ($t:ty, $variant:ident) => {
                match &x.data {
                    RawData::Fp32(v) => cast!(v, $t, $variant),
                    RawData::Fp64(v) => cast!(v, $t, $variant),
                    RawData::Int64(v) => cast!(v, $t, $variant),
                    RawData::Int32(v) => cast!(v, $t, $variant),
                    RawData::Bool(v) => {
                        RawData::$variant(v.iter().map(|&b| if b { 1 as $t } else { 0 as $t }).collect())
                    }
                    RawData::Bytes(_) => return Err("Cast from strings is not one rein evaluates".into()),
                }
            };
        }
        let data = match self.to {
            1 => to!(f32, Fp32),
            11 => to!(f64, Fp64),
            7 => to!(i64, Int64),
            6 => to!(i32, Int32),
            _ => match &x.data {
                RawData::Fp32(v) => RawData::Bool(v.iter().map(|&a| a != 0.0).collect()),
                RawData::Fp64(v) => RawData::Bool(v.iter().map(|&a| a != 0.0).collect()),
                RawData::Int64(v) => RawData::Bool(v.iter().map(|&a| a != 0).collect()),
                RawData::Int32(v) => RawData::Bool(v.iter().map(|&a| a != 0).collect()),
                RawData::Bool(v) => RawData::Bool(v.clone()),
                RawData::Bytes(_) => return Err("Cast from strings is not one rein evaluates".into()),
            },
        };
        Ok(vec![Tensor { shape: x.shape.clone(), data }])
    }
}

pub(super) struct Concat {
    pub(super) axis: i64,
}

impl Op for Concat {
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, String> {
        let first = one(inputs, "Concat")?;
        let rank = first.shape.len();
        let axis = axis_index(self.axis, rank, "Concat")?;
        let mut shape = first.shape.clone();
        shape[axis] = 0;
        for t in inputs {
            let same = t.shape.len() == rank
                && t.shape.iter().zip(&first.shape).enumerate().all(|(d, (a, b))| d == axis || a == b)
                && t.data.datatype() == first.data.datatype();
            if !same {
                return Err(format!("Concat: inputs of shapes {:?} and {:?} do not fit", first.shape, t.shape));
            }
            shape[axis] += t.shape[axis];
        }
        let outer: usize = first.shape[..axis].iter().product();
        let chunks: Vec<usize> = inputs.iter().map(|t| t.shape[axis..].iter().product()).collect();
        fn join<T: Clone>(parts: &[&[T]], chunks: &[usize], outer: usize) -> Vec<T> {
            let mut out = Vec::with_capacity(chunks.iter().sum::<usize>() * outer);
            for o in 0..outer {
                for (part, &c) in parts.iter().zip(chunks) {
                    out.extend_from_slice(&part[o * c..(o + 1) * c]);
                }
            }
            out
        }
        macro_rules! gather_parts {
            ($variant:ident) => {{
                let parts: Vec<&[_]> = inputs
                    .iter()
                    .map(|t| match &t.data {
                        RawData::$variant(v) => v.as_slice(),
                        _ => &[],
                    })
                    .collect();
                RawData::$variant(join(&parts, &chunks, outer))
            }};
        }
        let data = match &first.data {
            RawData::Fp32(_) => gather_parts!(Fp32),
            RawData::Fp64(_) => gather_parts!(Fp64),
            RawData::Int64(_) => gather_parts!(Int64),
            RawData::Int32(_) => gather_parts!(Int32),
            RawData::Bool(_) => gather_parts!(Bool),
            RawData::Bytes(_) => gather_parts!(Bytes),
        };
        Ok(vec![Tensor::new(shape, data)?])
    }
}

/// Gather with constant indices (what a `ColumnTransformer` uses to pick a column).
pub(super) struct Gather {
    axis: i64,
    indices: Vec<i64>,
    indices_shape: Vec<usize>,
}

impl Gather {
    pub(super) fn compile(attrs: &Attributes<'_>, indices: Tensor) -> Result<Gather, String> {
        attrs.only(&["axis"])?;
        let values = match indices.data {
            RawData::Int64(v) => v,
            RawData::Int32(v) => v.into_iter().map(i64::from).collect(),
            _ => return Err("Gather indices are not integers".into()),
        };
        Ok(Gather { axis: attrs.int("axis").unwrap_or(0), indices: values, indices_shape: indices.shape })
    }
}

impl Op for Gather {
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, String> {
        let x = one(inputs, "Gather")?;
        let axis = axis_index(self.axis, x.shape.len(), "Gather")?;
        let dim = x.shape[axis];
        let picks: Vec<usize> = self
            .indices
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + dim as i64 } else { i };
                if j < 0 || j as usize >= dim {
                    Err(format!("Gather: index {i} is out of range for a dimension of {dim}"))
                } else {
                    Ok(j as usize)
                }
            })
            .collect::<Result<_, _>>()?;
        let outer: usize = x.shape[..axis].iter().product();
        let inner: usize = x.shape[axis + 1..].iter().product();
        fn pick<T: Clone>(v: &[T], picks: &[usize], outer: usize, dim: usize, inner: usize) -> Vec<T> {
            let mut out = Vec::with_capacity(outer * picks.len() * inner);
            for o in 0..outer {
                for &p in picks {
                    let at = (o * dim + p) * inner;
                    out.extend_from_slice(&v[at..at + inner]);
                }
            }
            out
        }
        let data = keep_type!(&x.data, v => pick(v, &picks, outer, dim, inner));
        let mut shape = x.shape[..axis].to_vec();
        shape.extend_from_slice(&self.indices_shape);
        shape.extend_from_slice(&x.shape[axis + 1..]);
        Ok(vec![Tensor::new(shape, data)?])
    }
}

/// Reshape to a constant shape: 0 keeps the input's dimension, -1 takes what is left.
pub(super) struct Reshape {
    shape: Vec<i64>,
}

impl Reshape {
    pub(super) fn compile(attrs: &Attributes<'_>, shape: Tensor) -> Result<Reshape, String> {
        attrs.only(&["allowzero"])?;
        if attrs.int("allowzero").unwrap_or(0) != 0 {
            return Err("Reshape with `allowzero` is not one rein evaluates".into());
        }
        match shape.data {
            RawData::Int64(v)
                if v.iter().filter(|&&d| d == -1).count() <= 1 && v.iter().all(|&d| (-1..=1 << 31).contains(&d)) =>
            {
                Ok(Reshape { shape: v })
            }
            _ => Err("Reshape's shape is not a valid int64 constant".into()),
        }
    }
}

impl Op for Reshape {
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, String> {
        let x = one(inputs, "Reshape")?;
        let count = x.data.len();
        let mut shape = Vec::with_capacity(self.shape.len());
        for (i, &d) in self.shape.iter().enumerate() {
            shape.push(match d {
                0 => *x.shape.get(i).ok_or("Reshape: 0 where the input has no such dimension")?,
                -1 => 0,
                d => d as usize,
            });
        }
        if let Some(i) = self.shape.iter().position(|&d| d == -1) {
            let known =
                shape.iter().enumerate().filter(|&(j, _)| j != i).try_fold(1usize, |n, (_, &d)| n.checked_mul(d));
            let Some(known) = known.filter(|&k| k != 0 && count % k == 0) else {
                return Err(format!("Reshape: {count} values do not fit shape {:?}", self.shape));
            };
            shape[i] = count / known;
        }
        Ok(vec![Tensor::new(shape, x.data.clone())?])
    }
}

pub(super) struct Flatten {
    pub(super) axis: i64,
}

impl Op for Flatten {
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, String> {
        let x = one(inputs, "Flatten")?;
        let rank = x.shape.len() as i64;
        let axis = if self.axis < 0 { self.axis + rank } else { self.axis };
        if !(0..=rank).contains(&axis) {
            return Err(format!("Flatten: axis {} is out of range for rank {rank}", self.axis));
        }
        let outer: usize = x.shape[..axis as usize].iter().product();
        let inner: usize = x.shape[axis as usize..].iter().product();
        Ok(vec![Tensor::new(vec![outer, inner], x.data.clone())?])
    }
}

/// `y = (x - offset) * scale`, in the input's precision (float for integers), as float.
pub(super) struct Scaler {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

impl Scaler {
    pub(super) fn compile(attrs: &Attributes<'_>) -> Result<Scaler, String> {
        attrs.only(&["offset", "scale"])?;
        let (offset, scale) = (attrs.floats("offset"), attrs.floats("scale"));
        if scale.is_empty() || scale.len() != offset.len() {
            return Err("Scaler's `offset` and `scale` differ in length".into());
        }
        Ok(Scaler { offset, scale })
    }
}

impl Op for Scaler {
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, String> {
        let x = one(inputs, "Scaler")?;
        let stride = match x.shape.len() {
            0 => return Err("Scaler: the input has no dimensions".into()),
            1 => x.shape[0],
            _ => x.shape[1],
        };
        let per_column = self.scale.len() == stride;
        if !per_column && self.scale.len() != 1 {
            return Err(format!("Scaler: {} offsets for {stride} columns", self.scale.len()));
        }
        let k = |i: usize| if per_column { i % stride } else { 0 };
        let (o, s) = (&self.offset, &self.scale);
        let y: Vec<f32> = match &x.data {
            RawData::Fp32(v) => v.iter().enumerate().map(|(i, &a)| (a - o[k(i)]) * s[k(i)]).collect(),
            RawData::Fp64(v) => {
                v.iter().enumerate().map(|(i, &a)| ((a - f64::from(o[k(i)])) * f64::from(s[k(i)])) as f32).collect()
            }
            RawData::Int64(v) => v.iter().enumerate().map(|(i, &a)| (a as f32 - o[k(i)]) * s[k(i)]).collect(),
            RawData::Int32(v) => v.iter().enumerate().map(|(i, &a)| (a as f32 - o[k(i)]) * s[k(i)]).collect(),
            _ => return Err(format!("Scaler takes numbers, not {}", x.data.datatype())),
        };
        Ok(vec![Tensor { shape: x.shape.clone(), data: RawData::Fp32(y) }])
    }
}

/// One float column per category, 1.0 where the value is it.
pub(super) struct OneHotEncoder {
    strings: HashMap<String, usize>,
    ints: HashMap<i64, usize>,
    width: usize,
    /// `zeros = 1`: an unknown value gives a row of zeros; otherwise it is an error.
    zeros: bool,
}

impl OneHotEncoder {
    pub(super) fn compile(attrs: &Attributes<'_>) -> Result<OneHotEncoder, String> {
        attrs.only(&["cats_strings", "cats_int64s", "zeros"])?;
        let (strings, ints) = (attrs.strings("cats_strings")?, attrs.ints("cats_int64s"));
        if strings.is_empty() == ints.is_empty() {
            return Err("OneHotEncoder needs exactly one of `cats_strings` and `cats_int64s`".into());
        }
        let width = strings.len().max(ints.len());
        // A repeated category's column is an implementation detail: refused.
        let by_string: HashMap<String, usize> = strings.into_iter().enumerate().map(|(i, s)| (s, i)).collect();
        let by_int: HashMap<i64, usize> = ints.into_iter().enumerate().map(|(i, v)| (v, i)).collect();
        if by_string.len().max(by_int.len()) != width {
            return Err("OneHotEncoder repeats a category".into());
        }
        Ok(OneHotEncoder { strings: by_string, ints: by_int, width, zeros: attrs.int("zeros").unwrap_or(1) != 0 })
    }
}

impl Op for OneHotEncoder {
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, String> {
        let x = one(inputs, "OneHotEncoder")?;
        let mut y = vec![0f32; x.data.len() * self.width];
        let mut set = |row: usize, column: Option<usize>, shown: &dyn Fn() -> String| -> Result<(), String> {
            match column {
                Some(c) => y[row * self.width + c] = 1.0,
                None if self.zeros => {}
                None => return Err(format!("OneHotEncoder: {} is not a known category", shown())),
            }
            Ok(())
        };
        match &x.data {
            RawData::Bytes(v) if !self.strings.is_empty() => {
                for (r, s) in v.iter().enumerate() {
                    set(r, self.strings.get(s).copied(), &|| format!("`{s}`"))?;
                }
            }
            RawData::Int64(v) if !self.ints.is_empty() => {
                for (r, &a) in v.iter().enumerate() {
                    set(r, self.ints.get(&a).copied(), &|| a.to_string())?;
                }
            }
            RawData::Int32(v) if !self.ints.is_empty() => {
                for (r, &a) in v.iter().enumerate() {
                    set(r, self.ints.get(&i64::from(a)).copied(), &|| a.to_string())?;
                }
            }
            other => return Err(format!("OneHotEncoder: {} input for its categories", other.datatype())),
        }
        let mut shape = x.shape.clone();
        shape.push(self.width);
        Ok(vec![Tensor { shape, data: RawData::Fp32(y) }])
    }
}
