//! Embedding texts as the bot reads them (redacted), with a cache between
//! starts.

use super::*;

/// Where example embeddings are kept between starts, so that a restart (or
/// a second evaluation run) does not redact and embed thousands of
/// phrasings again. The engine does no I/O: the server implements this.
pub trait EmbeddingCache: Send + Sync {
    fn load(&self, key: &str) -> Option<Vec<Vec<f32>>>;
    fn store(&self, key: &str, vectors: &[Vec<f32>]);
}

/// No cache: embed every time.
pub struct NoCache;

impl EmbeddingCache for NoCache {
    fn load(&self, _: &str) -> Option<Vec<Vec<f32>>> {
        None
    }
    fn store(&self, _: &str, _: &[Vec<f32>]) {}
}

/// The cache key of `texts` as this encoder and scrubber would embed them:
/// a SHA-256 over the model's name, the redaction set-up and every text.
pub fn cache_key(encoder: &EncoderHandle, scrubber: &Scrubber, texts: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"carechat-embeddings-v1\0");
    h.update(encoder.id().as_bytes());
    h.update(b"\0");
    h.update(scrubber.id().as_bytes());
    for t in texts {
        h.update(b"\0");
        h.update(t.as_bytes());
    }
    crate::hex(&h.finalize())
}

/// `texts` redacted as patients' messages are (so "my name is [NAME]" is
/// compared with "my name is [NAME]") and embedded, through `cache`.
pub(super) async fn embed_cached(
    encoder: &EncoderHandle,
    scrubber: &Scrubber,
    texts: Vec<String>,
    cache: &dyn EmbeddingCache,
) -> Result<Vec<Vec<f32>>> {
    embed_view(encoder, scrubber, texts, cache, false).await
}

/// `texts` as the spam model reads them in [`Bot::assess`]: redacted, links
/// left out ([`crate::spam::embedding_text`]), embedded and pooled both ways
/// ([`crate::Pooled::spam_features`], twice the encoder's width), through
/// `cache`. For `carechat-lab train spam` and `eval spam`.
pub async fn embed_for_spam(
    encoder: &EncoderHandle,
    scrubber: &Scrubber,
    texts: Vec<String>,
    cache: &dyn EmbeddingCache,
) -> Result<Vec<Vec<f32>>> {
    embed_view(encoder, scrubber, texts, cache, true).await
}

/// Redacts `texts`, takes the spam model's view of each if `for_spam`,
/// embeds (the mean for the intents; both poolings for spam).
async fn embed_view(
    encoder: &EncoderHandle,
    scrubber: &Scrubber,
    texts: Vec<String>,
    cache: &dyn EmbeddingCache,
    for_spam: bool,
) -> Result<Vec<Vec<f32>>> {
    let mut key = cache_key(encoder, scrubber, &texts);
    let dim = if for_spam {
        key = format!("spam-mean-max-{key}");
        2 * encoder.dim()
    } else {
        encoder.dim()
    };
    if let Some(v) = cache.load(&key)
        && v.len() == texts.len()
        && v.iter().all(|x| x.len() == dim)
    {
        return Ok(v);
    }
    let redacted = scrubber
        .redact_all(&texts)
        .await?
        .into_iter()
        .map(|r| {
            if for_spam {
                crate::spam::embedding_text(&r.text)
            } else {
                r.text
            }
        })
        .collect();
    let vectors = if for_spam {
        let pooled = encoder.embed_all_pooled(redacted).await?;
        pooled.iter().map(crate::Pooled::spam_features).collect()
    } else {
        encoder.embed_all(redacted).await?
    };
    cache.store(&key, &vectors);
    Ok(vectors)
}
