//! Integer matrix products for the linear layers, where the CPU has
//! AVX-512 VNNI.
//!
//! Both of Carechat's models spend most of their time in four linear layers
//! per block, and on short chat messages those products are as much about
//! streaming the weights as about arithmetic: at f32 the two models' weights
//! are 85 MB, more than the machine's last-level cache. Here the weights are
//! quantized once, at load time, to 11-bit integers (one scale per output
//! column) held in 16-bit lanes, the activations are quantized per row on
//! the fly, and the products run on `vpdpwssd`, which multiplies and adds 32
//! pairs of 16-bit integers per instruction into 32-bit sums (twice the
//! multiply-adds of an f32 FMA, on half the bytes).
//!
//! Why 11 bits: a sum of `K` products of two values below `2^10` stays below
//! `2^31` for every `K` up to 2,048, so nothing can overflow for the
//! encoders this crate loads (inner sizes 384 and 1,536); 11 bits keep the
//! rounding error to about 1e-3 of each row's largest value, well inside what
//! a token classifier or a cosine similarity can notice (the tests hold the
//! whole forward pass to the f32 one). Layers wider than that keep f32.
//!
//! Where the CPU lacks VNNI (or AVX-512), [`QLinear::new`] returns `None`
//! and the caller keeps Candle's f32 product.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, bail};
use pulp::core_arch::x86::{Avx512bw, Avx512f};
use rayon::prelude::*;

use core::arch::x86_64::{__m512, __m512i};

/// The largest quantized magnitude of an activation or a weight.
const QMAX: f32 = 1023.0;
/// The longest inner dimension for which `K × QMAX²` fits in an `i32`.
const MAX_INNER: usize = 2048;
/// Rows per micro-kernel call, and 16-column blocks per panel: 6 × 4
/// accumulators, 4 weight registers and a broadcast fit the 32 registers.
const MR: usize = 6;
const NB: usize = 4;
const PANEL: usize = 16 * NB;
/// Rows per parallel task: enough that a weight panel loaded into cache is
/// used many times, few enough that a batch still splits over the cores.
const ROWS_PER_TASK: usize = 8 * MR;

pulp::simd_type! {
    /// AVX-512 with the VNNI dot-product instructions.
    struct Vnni {
        pub sse: "sse",
        pub sse2: "sse2",
        pub avx: "avx",
        pub avx2: "avx2",
        pub fma: "fma",
        pub avx512f: "avx512f",
        pub avx512bw: "avx512bw",
        pub avx512vl: "avx512vl",
        pub avx512vnni: "avx512vnni",
    }
}

/// A linear layer's weight `[inputs, outputs]`, quantized and packed for the
/// micro-kernel.
pub(crate) struct QLinear {
    inputs: usize,
    outputs: usize,
    /// One per output column: the quantized value times this is the weight.
    scales: Vec<f32>,
    /// Panel `p` (output columns `64p..64p+64`, zero past the end), then
    /// input pair `k` (inputs `2k`, `2k+1`), then block `j` of 16 columns:
    /// 32 values, the pair of each column side by side, as `vpdpwssd`
    /// takes them.
    packed: Vec<[i16; 32]>,
    simd: Vnni,
}

impl QLinear {
    /// Quantizes `weight` (`[inputs, outputs]`, row-major: the layout the
    /// f32 product takes). `None` where the CPU cannot run the kernel or the
    /// layer is too wide to quantize safely.
    pub(crate) fn new(weight: &[f32], inputs: usize, outputs: usize) -> Option<QLinear> {
        let simd = Vnni::try_new()?;
        if inputs == 0 || outputs == 0 || inputs > MAX_INNER || weight.len() != inputs * outputs {
            return None;
        }
        let mut scales = vec![0f32; outputs];
        for row in weight.chunks_exact(outputs) {
            for (s, w) in scales.iter_mut().zip(row) {
                *s = s.max(w.abs());
            }
        }
        for s in &mut scales {
            *s = if *s > 0.0 { *s / QMAX } else { 1.0 };
        }
        let pairs = inputs.div_ceil(2);
        let panels = outputs.div_ceil(PANEL);
        let mut packed = vec![[0i16; 32]; panels * pairs * NB];
        for p in 0..panels {
            for k in 0..pairs {
                for j in 0..NB {
                    let block = &mut packed[(p * pairs + k) * NB + j];
                    for c in 0..16 {
                        let col = p * PANEL + j * 16 + c;
                        if col >= outputs {
                            continue;
                        }
                        for half in 0..2 {
                            let input = 2 * k + half;
                            if input < inputs {
                                let w = weight[input * outputs + col] / scales[col];
                                block[2 * c + half] = w.round().clamp(-QMAX, QMAX) as i16;
                            }
                        }
                    }
                }
            }
        }
        Some(QLinear {
            inputs,
            outputs,
            scales,
            packed,
            simd,
        })
    }

    /// `x W` for `x` of `[rows, inputs]`, row-major, into `[rows, outputs]`.
    pub(crate) fn matmul(&self, x: &[f32]) -> Vec<f32> {
        let rows = x.len() / self.inputs;
        let width = 2 * self.inputs.div_ceil(2);
        // Each row quantized with its own scale; an odd row ends in a zero.
        // Read as i32, two neighbouring 16-bit values are one input pair,
        // low half first, as the instruction takes them.
        let mut qx = vec![0i16; rows * width];
        let mut row_scales = vec![0f32; rows];
        qx.par_chunks_mut(width * ROWS_PER_TASK)
            .zip(row_scales.par_chunks_mut(ROWS_PER_TASK))
            .zip(x.par_chunks(self.inputs * ROWS_PER_TASK))
            .for_each(|((q, s), x)| {
                self.simd.vectorize(Quantize {
                    x,
                    inputs: self.inputs,
                    q,
                    width,
                    scales: s,
                })
            });
        let mut out = vec![0f32; rows * self.outputs];
        let panels = self.outputs.div_ceil(PANEL);
        // Tasks: row chunk × panel; each fills a tile, copied into place after.
        let chunks: Vec<(usize, usize)> = (0..rows.div_ceil(ROWS_PER_TASK))
            .flat_map(|c| (0..panels).map(move |p| (c, p)))
            .collect();
        let results: Vec<(usize, usize, Vec<f32>)> = chunks
            .par_iter()
            .map(|&(c, p)| {
                let (r0, r1) = (c * ROWS_PER_TASK, ((c + 1) * ROWS_PER_TASK).min(rows));
                let mut tile = vec![0f32; (r1 - r0) * PANEL];
                self.simd.vectorize(Panel {
                    q: self,
                    qx: &qx[r0 * width..r1 * width],
                    row_scales: &row_scales[r0..r1],
                    panel: p,
                    out: &mut tile,
                });
                (c, p, tile)
            })
            .collect();
        for (c, p, tile) in results {
            let c0 = p * PANEL;
            let width = PANEL.min(self.outputs - c0);
            for (i, t) in tile.chunks_exact(PANEL).enumerate() {
                let r = c * ROWS_PER_TASK + i;
                out[r * self.outputs + c0..r * self.outputs + c0 + width]
                    .copy_from_slice(&t[..width]);
            }
        }
        out
    }
}

/// Quantizes rows of `x` into rows of `q` (`width` apart), each with its
/// own scale.
struct Quantize<'a> {
    x: &'a [f32],
    inputs: usize,
    q: &'a mut [i16],
    width: usize,
    scales: &'a mut [f32],
}

impl pulp::NullaryFnOnce for Quantize<'_> {
    type Output = ();

    #[inline(always)]
    fn call(self) {
        for ((x, q), s) in self
            .x
            .chunks_exact(self.inputs)
            .zip(self.q.chunks_exact_mut(self.width))
            .zip(self.scales.iter_mut())
        {
            let mut lanes = [0f32; 16];
            let chunks = x.chunks_exact(16);
            let tail = chunks.remainder().iter().fold(0f32, |m, v| m.max(v.abs()));
            for c in chunks {
                for k in 0..16 {
                    lanes[k] = lanes[k].max(c[k].abs());
                }
            }
            let max = lanes.iter().fold(tail, |m, v| m.max(*v));
            *s = if max > 0.0 { max / QMAX } else { 1.0 };
            let inv = 1.0 / *s;
            for (q, x) in q.iter_mut().zip(x) {
                *q = (x * inv).round_ties_even() as i16;
            }
        }
    }
}

/// One panel of 64 output columns for a chunk of rows.
struct Panel<'a> {
    q: &'a QLinear,
    /// `[rows, width]`: quantized rows, an even number of values each.
    qx: &'a [i16],
    row_scales: &'a [f32],
    panel: usize,
    /// `[rows, 64]`.
    out: &'a mut [f32],
}

impl pulp::NullaryFnOnce for Panel<'_> {
    type Output = ();

    #[inline(always)]
    fn call(self) {
        let pairs = self.q.inputs.div_ceil(2);
        let width = 2 * pairs;
        let rows = self.row_scales.len();
        let w = &self.q.packed[self.panel * pairs * NB..(self.panel + 1) * pairs * NB];
        let c0 = self.panel * PANEL;
        let mut scales = [0f32; PANEL];
        for (c, s) in scales.iter_mut().enumerate() {
            *s = self.q.scales.get(c0 + c).copied().unwrap_or(0.0);
        }
        let mut r = 0;
        while r < rows {
            let n = MR.min(rows - r);
            let qx = &self.qx[r * width..(r + n) * width];
            let out = &mut self.out[r * PANEL..(r + n) * PANEL];
            let rs = &self.row_scales[r..r + n];
            match n {
                6 => kernel::<6>(self.q.simd, w, qx, pairs, rs, &scales, out),
                5 => kernel::<5>(self.q.simd, w, qx, pairs, rs, &scales, out),
                4 => kernel::<4>(self.q.simd, w, qx, pairs, rs, &scales, out),
                3 => kernel::<3>(self.q.simd, w, qx, pairs, rs, &scales, out),
                2 => kernel::<2>(self.q.simd, w, qx, pairs, rs, &scales, out),
                _ => kernel::<1>(self.q.simd, w, qx, pairs, rs, &scales, out),
            }
            r += n;
        }
    }
}

/// `R` rows × 64 columns: for each input pair, four weight blocks times each
/// row's broadcast pair, summed in 32-bit lanes; then scaled back to f32.
#[inline(always)]
fn kernel<const R: usize>(
    simd: Vnni,
    w: &[[i16; 32]],
    qx: &[i16],
    pairs: usize,
    row_scales: &[f32],
    col_scales: &[f32; PANEL],
    out: &mut [f32],
) {
    let f: Avx512f = simd.avx512f;
    let bw: Avx512bw = simd.avx512bw;
    let rows: [&[i16]; R] = core::array::from_fn(|r| &qx[r * 2 * pairs..(r + 1) * 2 * pairs]);
    let mut acc = [[f._mm512_setzero_si512(); NB]; R];
    for (k, blocks) in w.chunks_exact(NB).enumerate() {
        let b: [__m512i; NB] = core::array::from_fn(|j| pulp::cast(blocks[j]));
        for (r, acc) in acc.iter_mut().enumerate() {
            let pair = (rows[r][2 * k] as u16 as u32) | ((rows[r][2 * k + 1] as u16 as u32) << 16);
            let a = f._mm512_set1_epi32(pair as i32);
            for j in 0..NB {
                // madd + add: the compiler fuses them into `vpdpwssd`.
                acc[j] = f._mm512_add_epi32(acc[j], bw._mm512_madd_epi16(a, b[j]));
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let rs = f._mm512_set1_ps(row_scales[r]);
        for j in 0..NB {
            let cs: __m512 =
                pulp::cast(<[f32; 16]>::try_from(&col_scales[16 * j..16 * j + 16]).unwrap());
            let v = f._mm512_mul_ps(f._mm512_mul_ps(f._mm512_cvtepi32_ps(acc[j]), rs), cs);
            let v: [f32; 16] = pulp::cast(v);
            out[r * PANEL + 16 * j..r * PANEL + 16 * j + 16].copy_from_slice(&v);
        }
    }
}

/// [`QLinear::matmul`] as a Candle op on a contiguous f32 tensor.
pub(crate) struct QMatMul<'a>(pub &'a QLinear);

impl CustomOp1 for QMatMul<'_> {
    fn name(&self) -> &'static str {
        "bert-qmatmul"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(v) = s else {
            bail!("expected f32 storage")
        };
        let Some((a, b)) = l.contiguous_offsets() else {
            bail!("expected a contiguous tensor")
        };
        let (rows, inputs) = l.shape().dims2()?;
        if inputs != self.0.inputs {
            bail!("{inputs} inputs, the layer takes {}", self.0.inputs)
        }
        let out = self.0.matmul(&v[a..b]);
        Ok((CpuStorage::F32(out), Shape::from((rows, self.0.outputs))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reproducible values in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn integer_product_is_within_its_rounding_of_the_exact_one() {
        if Vnni::try_new().is_none() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI, the f32 product is used");
            return;
        }
        // Odd inputs, outputs that do not fill the last panel, rows that do
        // not fill the last micro-kernel or task, a zero row, a large value.
        for (rows, inputs, outputs) in [(1, 1, 1), (13, 7, 70), (61, 384, 130), (7, 1536, 64)] {
            let mut w = values(inputs * outputs, 1);
            w[0] = 40.0;
            let mut x = values(rows * inputs, 2);
            x[..inputs].iter_mut().for_each(|v| *v = 0.0);
            if rows > 2 {
                x[2 * inputs] = -300.0;
            }
            let q = QLinear::new(&w, inputs, outputs).unwrap();
            let got = q.matmul(&x);
            assert_eq!(got.len(), rows * outputs);
            for r in 0..rows {
                let xr = &x[r * inputs..(r + 1) * inputs];
                let xmax = xr.iter().fold(0f32, |m, v| m.max(v.abs()));
                for c in 0..outputs {
                    let exact: f64 = (0..inputs)
                        .map(|k| xr[k] as f64 * w[k * outputs + c] as f64)
                        .sum();
                    let wmax = (0..inputs).fold(0f32, |m, k| m.max(w[k * outputs + c].abs()));
                    // Each factor is off by at most half a step of its scale.
                    let step = (xmax as f64 / 1023.0) * (wmax as f64 / 1023.0);
                    let bound = inputs as f64 * step * (0.5 * 1023.0 + 0.5 * 1023.0 + 0.25) + 1e-6;
                    let err = (got[r * outputs + c] as f64 - exact).abs();
                    assert!(
                        err <= bound,
                        "{rows}x{inputs}x{outputs} [{r},{c}]: error {err} > {bound}"
                    );
                }
            }
            // A zero row stays exactly zero.
            assert!(got[..outputs].iter().all(|v| *v == 0.0));
        }
    }

    #[test]
    fn layers_too_wide_to_sum_safely_stay_f32() {
        assert!(QLinear::new(&vec![0.5; (MAX_INNER + 1) * 2], MAX_INNER + 1, 2).is_none());
        assert!(QLinear::new(&[0.5; 3], 2, 2).is_none());
    }
}
