//! The on-disk cache of example embeddings (`bot_engine::EmbeddingCache`):
//! one file per key under `models/cache/embeddings/`, so that a restart, or
//! a second evaluation run over thousands of phrasings, skips redacting and
//! embedding them again. The key (a SHA-256 over the model, the redaction
//! set-up and every text) changes whenever any of them does; a file that
//! does not read back whole is ignored and rebuilt.

use std::io::Write;
use std::path::PathBuf;

const MAGIC: &[u8; 8] = b"CCEMB\x00\x00\x01";

pub struct FileCache {
    dir: PathBuf,
}

impl FileCache {
    pub fn new(models_dir: &std::path::Path) -> FileCache {
        FileCache {
            dir: models_dir.join("cache").join("embeddings"),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.bin"))
    }
}

fn decode(bytes: &[u8]) -> Option<Vec<Vec<f32>>> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let count = u32::from_le_bytes(rest.get(0..4)?.try_into().ok()?) as usize;
    let dim = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?) as usize;
    let data = rest.get(8..)?;
    if dim == 0 || data.len() != count.checked_mul(dim)?.checked_mul(4)? {
        return None;
    }
    Some(
        data.chunks_exact(dim * 4)
            .map(|row| {
                row.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            })
            .collect(),
    )
}

fn encode(vectors: &[Vec<f32>]) -> Option<Vec<u8>> {
    let dim = vectors.first().map_or(0, Vec::len);
    if vectors.iter().any(|v| v.len() != dim) {
        return None;
    }
    let mut out = Vec::with_capacity(16 + vectors.len() * dim * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u32::try_from(vectors.len()).ok()?.to_le_bytes());
    out.extend_from_slice(&u32::try_from(dim).ok()?.to_le_bytes());
    for x in vectors.iter().flatten() {
        out.extend_from_slice(&x.to_le_bytes());
    }
    Some(out)
}

impl bot_engine::EmbeddingCache for FileCache {
    fn load(&self, key: &str) -> Option<Vec<Vec<f32>>> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let v = decode(&bytes);
        if v.is_none() {
            tracing::warn!(key, "ignoring an unreadable embedding cache file");
        }
        v
    }

    /// Best effort: a cache that cannot be written only costs time.
    fn store(&self, key: &str, vectors: &[Vec<f32>]) {
        let Some(bytes) = encode(vectors) else { return };
        let tmp = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        let result = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::File::create(&tmp))
            .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, self.path(key)));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(error = %e, "could not write the embedding cache");
        }
    }
}

#[cfg(test)]
mod tests {
    use bot_engine::EmbeddingCache;

    use super::*;

    #[test]
    fn round_trips_and_ignores_damaged_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(dir.path());
        assert!(cache.load("k").is_none());
        let v = vec![vec![0.5f32, -1.0, 2.25], vec![0.0, 1.0, f32::MIN_POSITIVE]];
        cache.store("k", &v);
        assert_eq!(cache.load("k").unwrap(), v);
        // A truncated file is not trusted.
        let path = cache.path("k");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        assert!(cache.load("k").is_none());
        // Ragged input is not written.
        cache.store("r", &[vec![1.0], vec![1.0, 2.0]]);
        assert!(cache.load("r").is_none());
    }
}
