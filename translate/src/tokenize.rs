//! The two tokenizers of a Marian model: source text to ids, target ids to
//! text.
//!
//! Two forms of a model directory are accepted:
//!
//! 1. `tokenizer-source.json` and `tokenizer-target.json`, Hugging Face
//!    `tokenizers` files whose ids are the model's (as candle's marian
//!    example converts them). Used when present.
//! 2. `source.spm`, `target.spm` and `vocab.json`, as Helsinki-NLP publish
//!    them. This does what `MarianTokenizer` does: the source sentencepiece
//!    model splits text into pieces, and `vocab.json` (the vocabulary the
//!    model shares between its sides) maps each piece to its id, `<unk>`
//!    for pieces it lacks. The source side is a `tokenizers` Unigram model
//!    built from `source.spm`'s pieces and scores (so it segments as
//!    sentencepiece does), with the model's own normalizer (its precompiled
//!    character map), whitespace handling and a Metaspace pre-tokenizer. The
//!    target side is a Unigram model over `vocab.json` in id order with a
//!    Metaspace decoder; `target.spm` supplies its scores and whether words
//!    carry a leading `▁`.
//!
//! Either way the source ids end with one `</s>`, as `MarianTokenizer`'s do.

use crate::spm::{self, PieceKind, SpmModel};
use crate::{Error, Result, invalid};
use std::collections::HashMap;
use std::path::Path;
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{Precompiled, Replace, Sequence, Strip};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::{AddedToken, NormalizerWrapper, Tokenizer};

/// The files of the first form.
pub(crate) const SOURCE_JSON: &str = "tokenizer-source.json";
pub(crate) const TARGET_JSON: &str = "tokenizer-target.json";
/// The files of the second form.
pub(crate) const SOURCE_SPM: &str = "source.spm";
pub(crate) const TARGET_SPM: &str = "target.spm";
pub(crate) const VOCAB_JSON: &str = "vocab.json";

/// Special tokens a Marian vocabulary has, dropped when decoding.
const SPECIALS: [&str; 3] = ["</s>", "<unk>", "<pad>"];

/// Source text to ids and target ids to text.
pub(crate) struct Tokenizers {
    source: Source,
    target: Tokenizer,
    eos: u32,
}

enum Source {
    /// A tokenizer whose ids are the model's.
    Json(Tokenizer),
    /// A tokenizer over the sentencepiece model's own pieces, whose pieces
    /// `vocab` maps to the model's ids.
    Spm {
        tokenizer: Tokenizer,
        vocab: HashMap<String, u32>,
        unk: u32,
    },
}

fn tokenizer_error(path: &Path, e: impl std::fmt::Display) -> Error {
    invalid(path, e.to_string())
}

impl Tokenizers {
    /// Loads whichever form `dir` holds, for a model of `vocab_size` ids
    /// that ends sentences with `eos`.
    pub(crate) fn load(dir: &Path, vocab_size: usize, eos: u32) -> Result<Tokenizers> {
        let (source_json, target_json) = (dir.join(SOURCE_JSON), dir.join(TARGET_JSON));
        if source_json.exists() || target_json.exists() {
            return Tokenizers::from_json(&source_json, &target_json, vocab_size, eos);
        }
        let source_spm = dir.join(SOURCE_SPM);
        if !source_spm.exists() {
            return Err(invalid(
                dir,
                format!(
                    "no tokenizer: expected {SOURCE_JSON} and {TARGET_JSON}, \
                     or {SOURCE_SPM}, {TARGET_SPM} and {VOCAB_JSON}"
                ),
            ));
        }
        Tokenizers::from_spm(
            &source_spm,
            &dir.join(TARGET_SPM),
            &dir.join(VOCAB_JSON),
            vocab_size,
            eos,
        )
    }

    fn from_json(source: &Path, target: &Path, vocab_size: usize, eos: u32) -> Result<Tokenizers> {
        let load = |path: &Path| -> Result<Tokenizer> {
            let bytes = crate::read(path)?;
            let tokenizer = Tokenizer::from_bytes(&bytes).map_err(|e| tokenizer_error(path, e))?;
            let size = tokenizer.get_vocab_size(true);
            if size > vocab_size {
                return Err(invalid(
                    path,
                    format!("{size} tokens, more than the model's {vocab_size}"),
                ));
            }
            Ok(tokenizer)
        };
        Ok(Tokenizers {
            source: Source::Json(load(source)?),
            target: load(target)?,
            eos,
        })
    }

    fn from_spm(
        source: &Path,
        target: &Path,
        vocab_path: &Path,
        vocab_size: usize,
        eos: u32,
    ) -> Result<Tokenizers> {
        let source_model = load_spm(source)?;
        let target_model = load_spm(target)?;
        let vocab: HashMap<String, u32> = serde_json::from_slice(&crate::read(vocab_path)?)
            .map_err(|e| invalid(vocab_path, format!("not a piece-to-id map: {e}")))?;
        if let Some((piece, &id)) = vocab.iter().find(|(_, id)| **id as usize >= vocab_size) {
            return Err(invalid(
                vocab_path,
                format!("{piece:?} has id {id}, outside the model's {vocab_size}"),
            ));
        }
        let unk = *vocab
            .get("<unk>")
            .ok_or_else(|| invalid(vocab_path, "no <unk> entry"))?;
        Ok(Tokenizers {
            source: Source::Spm {
                tokenizer: source_tokenizer(source, &source_model)?,
                vocab: vocab.clone(),
                unk,
            },
            target: target_tokenizer(target, &target_model, &vocab)?,
            eos,
        })
    }

    /// The model's source ids for `text`, ending in `</s>`.
    pub(crate) fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = match &self.source {
            Source::Json(tokenizer) => tokenizer
                .encode(text, true)
                .map_err(|e| Error::Tokenizer(e.to_string()))?
                .get_ids()
                .to_vec(),
            Source::Spm {
                tokenizer,
                vocab,
                unk,
            } => tokenizer
                .encode(text, false)
                .map_err(|e| Error::Tokenizer(e.to_string()))?
                .get_tokens()
                .iter()
                .map(|piece| vocab.get(piece).copied().unwrap_or(*unk))
                .collect(),
        };
        // A tokenizer file may or may not append `</s>` itself.
        if ids.last() != Some(&self.eos) {
            ids.push(self.eos);
        }
        Ok(ids)
    }

    /// The target piece each id stands for.
    pub(crate) fn target_piece(&self, id: u32) -> Option<String> {
        self.target.id_to_token(id)
    }

    /// Target ids to text, special tokens dropped.
    pub(crate) fn decode(&self, ids: &[u32]) -> Result<String> {
        self.target
            .decode(ids, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }
}

fn load_spm(path: &Path) -> Result<SpmModel> {
    let model = spm::parse(&crate::read(path)?).map_err(|e| invalid(path, e))?;
    if model.model_type != 1 {
        return Err(invalid(
            path,
            format!(
                "sentencepiece model type {} is not unigram, the only kind OPUS-MT uses",
                model.model_type
            ),
        ));
    }
    Ok(model)
}

fn prepend_scheme(model: &SpmModel) -> PrependScheme {
    if model.add_dummy_prefix {
        PrependScheme::Always
    } else {
        PrependScheme::Never
    }
}

/// The source side: sentencepiece's own pieces, so that it segments text as
/// sentencepiece would. Control, unused and byte pieces are left out: they
/// are never produced from text (and `</s>` typed into a chat must not end
/// the sentence).
fn source_tokenizer(path: &Path, model: &SpmModel) -> Result<Tokenizer> {
    let mut vocab = Vec::new();
    let mut unk = None;
    for p in &model.pieces {
        match p.kind {
            PieceKind::Normal | PieceKind::UserDefined => {}
            PieceKind::Unknown => unk = Some(vocab.len()),
            PieceKind::Control | PieceKind::Unused | PieceKind::Byte => continue,
        }
        vocab.push((p.piece.clone(), f64::from(p.score)));
    }
    let unk = unk.ok_or_else(|| invalid(path, "no unknown piece"))?;
    let unigram = Unigram::from(vocab, Some(unk), false).map_err(|e| tokenizer_error(path, e))?;
    let mut tokenizer = Tokenizer::new(unigram);
    // Sentencepiece's normalization: the model's character map (NFKC-like
    // for `nmt_nfkc`), then no leading, trailing or repeated spaces.
    let mut steps: Vec<NormalizerWrapper> = Vec::new();
    if !model.precompiled_charsmap.is_empty() {
        let map = Precompiled::from(&model.precompiled_charsmap)
            .map_err(|e| invalid(path, format!("character map: {e}")))?;
        steps.push(map.into());
    }
    if model.remove_extra_whitespaces {
        steps.push(Strip::new(true, true).into());
        steps.push(
            Replace::new(
                tokenizers::normalizers::replace::ReplacePattern::Regex(" {2,}".into()),
                " ",
            )
            .map_err(|e| tokenizer_error(path, e))?
            .into(),
        );
    }
    tokenizer
        .with_normalizer(Some(Sequence::new(steps)))
        .map_err(|e| tokenizer_error(path, e))?;
    tokenizer.with_pre_tokenizer(Some(Metaspace::new('▁', prepend_scheme(model), true)));
    tokenizer.with_decoder(Some(Metaspace::new('▁', prepend_scheme(model), true)));
    Ok(tokenizer)
}

/// The target side: every id of the shared vocabulary, in id order, so
/// that the model's output ids decode directly.
fn target_tokenizer(
    path: &Path,
    model: &SpmModel,
    vocab: &HashMap<String, u32>,
) -> Result<Tokenizer> {
    let scores: HashMap<&str, f32> = model
        .pieces
        .iter()
        .map(|p| (p.piece.as_str(), p.score))
        .collect();
    let size = vocab.values().max().map_or(0, |&m| m as usize + 1);
    // A gap in the ids gets a placeholder no text can produce.
    let mut pieces: Vec<(String, f64)> = (0..size)
        .map(|id| (format!("<unused-id-{id}>"), -100.0))
        .collect();
    for (piece, &id) in vocab {
        let score = scores.get(piece.as_str()).copied().unwrap_or(-100.0);
        pieces[id as usize] = (piece.clone(), f64::from(score));
    }
    let unk = vocab.get("<unk>").map(|&id| id as usize);
    let unigram = Unigram::from(pieces, unk, false).map_err(|e| tokenizer_error(path, e))?;
    let mut tokenizer = Tokenizer::new(unigram);
    tokenizer.with_pre_tokenizer(Some(Metaspace::new('▁', prepend_scheme(model), true)));
    tokenizer.with_decoder(Some(Metaspace::new('▁', prepend_scheme(model), true)));
    let specials: Vec<AddedToken> = SPECIALS
        .iter()
        .filter(|s| vocab.contains_key(**s))
        .map(|s| AddedToken::from(*s, true))
        .collect();
    tokenizer
        .add_special_tokens(specials)
        .map_err(|e| tokenizer_error(path, e))?;
    Ok(tokenizer)
}
