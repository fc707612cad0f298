//! The fused passes between the matrix products, as Candle custom ops on
//! contiguous f32 storage, and the `exp`/`erf` approximations they use.
//!
//! The crate is built for the baseline x86-64 target (SSE2), which a clinic's
//! oldest machine runs; these loops want AVX2 or AVX-512. Each parallel task
//! therefore runs its loops through [`simd`], which picks the widest
//! instruction set the CPU has at run time (pulp, the same dispatcher the
//! matrix multiply uses) and compiles the loop body for it. Everything the
//! body calls is `#[inline(always)]` so that it is compiled inside that
//! context too.

use candle_core::{CpuStorage, CustomOp1, InplaceOp1, InplaceOp2, Layout, Shape, bail};
use pulp::WithSimd;
use rayon::prelude::*;

/// Rows per rayon task in the row-wise passes: large enough that a task is
/// worth scheduling, small enough to split a short batch over two cores.
const ROWS_PER_TASK: usize = 16;

/// Texts at least this long spread their attention heads over the cores;
/// shorter ones run their heads in one task (texts already run in parallel).
const PARALLEL_HEADS_FROM: usize = 64;

/// Runs `kernel` compiled for the best instruction set this CPU has. A
/// kernel is a struct, not a closure: its `#[inline(always)]` method is what
/// gets compiled inside the dispatcher's target-feature context (a closure
/// may be compiled on its own, for the baseline).
#[inline(always)]
fn simd<K: WithSimd>(kernel: K) -> K::Output {
    pulp::Arch::new().dispatch(kernel)
}

/// Implements [`WithSimd`] for a kernel struct whose work is `$body`
/// (a method taking `self`).
macro_rules! kernel {
    ($name:ident, $body:ident) => {
        impl WithSimd for $name<'_> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) {
                self.$body()
            }
        }
    };
}

struct EmbedRows<'a> {
    rows: &'a mut [f32],
    positions: &'a [usize],
    op: &'a Embed<'a>,
}

impl EmbedRows<'_> {
    #[inline(always)]
    fn run(self) {
        let h = self.op.hidden;
        for (row, &p) in self.rows.chunks_exact_mut(h).zip(self.positions) {
            let pos = &self.op.table[p * h..(p + 1) * h];
            for ((x, p), t) in row.iter_mut().zip(pos).zip(self.op.token_type) {
                *x += p + t;
            }
            self.op.norm.apply(row);
        }
    }
}
kernel!(EmbedRows, run);

struct AddNormRows<'a> {
    rows: &'a mut [f32],
    residual: &'a [f32],
    op: &'a AddNorm<'a>,
}

impl AddNormRows<'_> {
    #[inline(always)]
    fn run(self) {
        let h = self.op.bias.len();
        for (row, res) in self
            .rows
            .chunks_exact_mut(h)
            .zip(self.residual.chunks_exact(h))
        {
            for ((x, b), r) in row.iter_mut().zip(self.op.bias).zip(res) {
                *x += b + r;
            }
            self.op.norm.apply(row);
        }
    }
}
kernel!(AddNormRows, run);

struct GeluRows<'a> {
    rows: &'a mut [f32],
    bias: &'a [f32],
}

impl GeluRows<'_> {
    #[inline(always)]
    fn run(self) {
        for row in self.rows.chunks_exact_mut(self.bias.len()) {
            for (x, b) in row.iter_mut().zip(self.bias) {
                *x = gelu(*x + b);
            }
        }
    }
}
kernel!(GeluRows, run);

/// `out += W x + b` for one row (see [`crate::Linear`]).
pub(crate) fn linear_row(weight: &[f32], bias: &[f32], x: &[f32], out: &mut Vec<f32>) {
    simd(LinearRow {
        weight,
        bias,
        x,
        out,
    })
}

struct LinearRow<'a> {
    weight: &'a [f32],
    bias: &'a [f32],
    x: &'a [f32],
    out: &'a mut Vec<f32>,
}

impl LinearRow<'_> {
    #[inline(always)]
    fn run(self) {
        for (w, b) in self.weight.chunks_exact(self.x.len()).zip(self.bias) {
            let mut acc = [0f32; 16];
            let (cw, cx) = (w.chunks_exact(16), self.x.chunks_exact(16));
            let tail: f32 = cw
                .remainder()
                .iter()
                .zip(cx.remainder())
                .map(|(a, b)| a * b)
                .sum();
            for (w, x) in cw.zip(cx) {
                for k in 0..16 {
                    acc[k] += w[k] * x[k];
                }
            }
            self.out.push(acc.iter().sum::<f32>() + tail + b);
        }
    }
}
kernel!(LinearRow, run);

/// Heads `heads` of one text (see [`head_attention`]).
struct Heads<'a> {
    x: &'a [f32],
    t: usize,
    h: usize,
    d: usize,
    heads: std::ops::Range<usize>,
    out: &'a mut [f32],
    stride: usize,
}

impl Heads<'_> {
    #[inline(always)]
    fn run(self) {
        let (t, h, d, stride) = (self.t, self.h, self.d, self.stride);
        let first = self.heads.start;
        for head in self.heads {
            // With one head per kernel the block starts at 0; with all of a
            // text's heads in one, each head writes its own columns.
            let at = if stride == d { 0 } else { (head - first) * d };
            head_attention(self.x, t, h, d, head, &mut self.out[at..], stride);
        }
    }
}
kernel!(Heads, run);

fn contiguous<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("expected f32 storage")
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => bail!("expected a contiguous tensor"),
    }
}

fn contiguous_mut<'a>(s: &'a mut CpuStorage, l: &Layout) -> candle_core::Result<&'a mut [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("expected f32 storage")
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&mut v[a..b]),
        None => bail!("expected a contiguous tensor"),
    }
}

/// LayerNorm parameters.
pub(crate) struct Norm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub eps: f32,
}

impl Norm {
    /// Normalises `row` in place.
    #[inline(always)]
    fn apply(&self, row: &mut [f32]) {
        let n = row.len() as f32;
        let mean = lanes(row, 0.0, |a, b| a + b) / n;
        let mut centred = [0f32; 16];
        let chunks = row.chunks_exact(16);
        let tail: f32 = chunks
            .remainder()
            .iter()
            .map(|x| (x - mean) * (x - mean))
            .sum();
        for c in chunks {
            for k in 0..16 {
                centred[k] += (c[k] - mean) * (c[k] - mean);
            }
        }
        let var = (centred.iter().sum::<f32>() + tail) / n;
        let inv = 1.0 / (var + self.eps).sqrt();
        for ((x, g), b) in row.iter_mut().zip(&self.gamma).zip(&self.beta) {
            *x = (*x - mean) * inv * g + b;
        }
    }
}

/// Word embeddings (already gathered) + position + token type, normalised.
pub(crate) struct Embed<'a> {
    /// Position id of each row.
    pub positions: &'a [usize],
    /// `[max_positions, hidden]`, flat.
    pub table: &'a [f32],
    pub token_type: &'a [f32],
    pub norm: &'a Norm,
    pub hidden: usize,
}

impl InplaceOp1 for Embed<'_> {
    fn name(&self) -> &'static str {
        "bert-embed"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> candle_core::Result<()> {
        let h = self.hidden;
        let x = contiguous_mut(s, l)?;
        if x.len() != self.positions.len() * h {
            bail!("embedding rows do not match positions")
        }
        x.par_chunks_mut(h * ROWS_PER_TASK)
            .zip(self.positions.par_chunks(ROWS_PER_TASK))
            .for_each(|(rows, positions)| {
                simd(EmbedRows {
                    rows,
                    positions,
                    op: self,
                })
            });
        Ok(())
    }
}

/// `x = LayerNorm(x + bias + residual)`, in place on `x`.
pub(crate) struct AddNorm<'a> {
    pub bias: &'a [f32],
    pub norm: &'a Norm,
}

impl InplaceOp2 for AddNorm<'_> {
    fn name(&self) -> &'static str {
        "bert-add-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let h = self.bias.len();
        let x = contiguous_mut(s1, l1)?;
        let residual = contiguous(s2, l2)?;
        if x.len() != residual.len() || !x.len().is_multiple_of(h) {
            bail!("add-norm: shapes do not match")
        }
        x.par_chunks_mut(h * ROWS_PER_TASK)
            .zip(residual.par_chunks(h * ROWS_PER_TASK))
            .for_each(|(rows, residual)| {
                simd(AddNormRows {
                    rows,
                    residual,
                    op: self,
                })
            });
        Ok(())
    }
}

/// `x = gelu(x + bias)`, in place.
pub(crate) struct BiasGelu<'a> {
    pub bias: &'a [f32],
}

impl InplaceOp1 for BiasGelu<'_> {
    fn name(&self) -> &'static str {
        "bert-bias-gelu"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> candle_core::Result<()> {
        let f = self.bias.len();
        let x = contiguous_mut(s, l)?;
        if !x.len().is_multiple_of(f) {
            bail!("bias-gelu: shapes do not match")
        }
        x.par_chunks_mut(f * ROWS_PER_TASK).for_each(|rows| {
            simd(GeluRows {
                rows,
                bias: self.bias,
            })
        });
        Ok(())
    }
}

/// Self-attention of each text over its own rows. Input: the packed
/// query/key/value projections `[rows, 3 × hidden]` (bias not yet added);
/// output: the attended values `[rows, hidden]`.
pub(crate) struct Attention<'a> {
    pub bias: &'a [f32],
    pub offsets: &'a [usize],
    pub heads: usize,
    pub hidden: usize,
}

impl CustomOp1 for Attention<'_> {
    fn name(&self) -> &'static str {
        "bert-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let h = self.hidden;
        let qkv = contiguous(s, l)?;
        let rows = *self.offsets.last().unwrap_or(&0);
        if qkv.len() != rows * 3 * h || self.bias.len() != 3 * h {
            bail!("attention: shapes do not match")
        }
        let mut out = vec![0f32; rows * h];
        // One mutable slice of the output per text, so texts run in parallel.
        let mut slices = Vec::with_capacity(self.offsets.len());
        let mut rest = out.as_mut_slice();
        for w in self.offsets.windows(2) {
            let (mine, tail) = rest.split_at_mut((w[1] - w[0]) * h);
            slices.push((w[0], w[1], mine));
            rest = tail;
        }
        slices.into_par_iter().for_each(|(a, b, out)| {
            self.text(&qkv[a * 3 * h..b * 3 * h], out);
        });
        Ok((CpuStorage::F32(out), Shape::from((rows, h))))
    }
}

impl Attention<'_> {
    /// One text: `qkv` is its `[t, 3h]` rows, `out` its `[t, h]` rows.
    fn text(&self, qkv: &[f32], out: &mut [f32]) {
        let h = self.hidden;
        let t = qkv.len() / (3 * h);
        if t == 0 {
            return;
        }
        let mut x = qkv.to_vec();
        for row in x.chunks_exact_mut(3 * h) {
            for (v, b) in row.iter_mut().zip(self.bias) {
                *v += b;
            }
        }
        let d = h / self.heads;
        if t >= PARALLEL_HEADS_FROM {
            let blocks: Vec<Vec<f32>> = (0..self.heads)
                .into_par_iter()
                .map(|head| {
                    let mut block = vec![0f32; t * d];
                    simd(Heads {
                        x: &x,
                        t,
                        h,
                        d,
                        heads: head..head + 1,
                        out: &mut block,
                        stride: d,
                    });
                    block
                })
                .collect();
            for (head, block) in blocks.iter().enumerate() {
                for (i, row) in block.chunks_exact(d).enumerate() {
                    out[i * h + head * d..i * h + (head + 1) * d].copy_from_slice(row);
                }
            }
        } else {
            simd(Heads {
                x: &x,
                t,
                h,
                d,
                heads: 0..self.heads,
                out,
                stride: h,
            });
        }
    }
}

/// One head of one text. `x` holds `t` rows of `[q | k | v]` (bias added);
/// row `i` of the result goes to `out[i * stride..][..d]`.
#[inline(always)]
fn head_attention(
    x: &[f32],
    t: usize,
    h: usize,
    d: usize,
    head: usize,
    out: &mut [f32],
    stride: usize,
) {
    // The common head sizes get a version whose accumulators are fixed-size
    // arrays the compiler keeps in vector registers.
    match d {
        16 => head_attention_d::<16>(x, t, h, head, out, stride),
        32 => head_attention_d::<32>(x, t, h, head, out, stride),
        64 => head_attention_d::<64>(x, t, h, head, out, stride),
        _ => head_attention_any(x, t, h, d, head, out, stride),
    }
}

/// [`head_attention`] for head size `D`. The keys are laid out transposed
/// (`[D, t]`, padded to whole blocks of 16), so a query's scores for 16 keys
/// are `D` multiply-adds on one register-held block rather than 16 short dot
/// products that each end in a horizontal sum; the output row is likewise
/// summed in registers.
#[inline(always)]
fn head_attention_d<const D: usize>(
    x: &[f32],
    t: usize,
    h: usize,
    head: usize,
    out: &mut [f32],
    stride: usize,
) {
    let scale = 1.0 / (D as f32).sqrt();
    let tp = t.next_multiple_of(16);
    let at = head * D;
    let mut kt = vec![0f32; D * tp];
    let mut v: Vec<[f32; D]> = Vec::with_capacity(t);
    for (j, row) in x.chunks_exact(3 * h).enumerate() {
        for (c, &k) in row[h + at..h + at + D].iter().enumerate() {
            kt[c * tp + j] = k;
        }
        let mut vj = [0f32; D];
        vj.copy_from_slice(&row[2 * h + at..2 * h + at + D]);
        v.push(vj);
    }
    let mut scores = vec![0f32; tp];
    for (i, row) in x.chunks_exact(3 * h).enumerate() {
        let mut q = [0f32; D];
        for (q, x) in q.iter_mut().zip(&row[at..at + D]) {
            *q = x * scale;
        }
        for (block, s) in scores.chunks_exact_mut(16).enumerate() {
            let mut acc = [0f32; 16];
            for (c, &qc) in q.iter().enumerate() {
                let k = &kt[c * tp + block * 16..c * tp + block * 16 + 16];
                for l in 0..16 {
                    acc[l] += qc * k[l];
                }
            }
            s.copy_from_slice(&acc);
        }
        softmax(&mut scores[..t]);
        let mut o = [0f32; D];
        for (&p, vj) in scores.iter().zip(&v) {
            for l in 0..D {
                o[l] += p * vj[l];
            }
        }
        out[i * stride..i * stride + D].copy_from_slice(&o);
    }
}

/// [`head_attention`] for any head size: plain loops.
fn head_attention_any(
    x: &[f32],
    t: usize,
    h: usize,
    d: usize,
    head: usize,
    out: &mut [f32],
    stride: usize,
) {
    let scale = 1.0 / (d as f32).sqrt();
    let at = head * d;
    let rows: Vec<&[f32]> = x.chunks_exact(3 * h).collect();
    let mut scores = vec![0f32; t];
    for i in 0..t {
        let q = &rows[i][at..at + d];
        for (s, row) in scores.iter_mut().zip(&rows) {
            let k = &row[h + at..h + at + d];
            *s = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * scale;
        }
        softmax(&mut scores);
        let o = &mut out[i * stride..i * stride + d];
        o.fill(0.0);
        for (&p, row) in scores.iter().zip(&rows) {
            for (o, v) in o.iter_mut().zip(&row[2 * h + at..2 * h + at + d]) {
                *o += p * v;
            }
        }
    }
}

/// In place; each step is its own loop so that each vectorises (a
/// running sum inside the `exp` loop would not).
#[inline(always)]
fn softmax(xs: &mut [f32]) {
    let max = lanes(xs, f32::NEG_INFINITY, f32::max);
    for x in xs.iter_mut() {
        *x = exp(*x - max);
    }
    let inv = 1.0 / lanes(xs, 0.0, |a, b| a + b);
    for x in xs.iter_mut() {
        *x *= inv;
    }
}

/// A reduction in sixteen independent lanes, so it vectorises without the
/// compiler having to reassociate float operations.
#[inline(always)]
fn lanes(xs: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; 16];
    let chunks = xs.chunks_exact(16);
    let tail = chunks.remainder().iter().fold(init, |a, &b| f(a, b));
    for c in chunks {
        for k in 0..16 {
            acc[k] = f(acc[k], c[k]);
        }
    }
    acc.iter().fold(tail, |a, &b| f(a, b))
}

/// `e^x` for f32, branch-free: `x = n ln 2 + r` with `|r| <= ln 2 / 2`, a
/// degree-7 Taylor polynomial for `e^r`, and `2^n` built from its bits.
/// Relative error under 5e-7 over the whole range; inputs below -87 give
/// (nearly) 0 rather than denormals.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5 × 2^23 rounds to the nearest integer in
    // plain float arithmetic (|x log2 e| < 2^22 here); `f32::round` would be
    // a libm call that stops the loops around it from vectorising.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    let bits = ((n as i32 + 127) as u32) << 23;
    p * f32::from_bits(bits)
}

/// The error function, branch-free: Abramowitz and Stegun 7.1.26
/// (absolute error under 1.5e-7 in exact arithmetic, under 1e-6 in f32),
/// with the sign restored.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_8,
        -1.453_152_1,
        1.061_405_4,
    ];
    let ax = x.abs();
    let t = 1.0 / (1.0 + P * ax);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let y = 1.0 - poly * exp(-ax * ax);
    y.copysign(x)
}

/// GELU as BERT defines it: `x Φ(x)`, through erf.
#[inline(always)]
pub(crate) fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}
