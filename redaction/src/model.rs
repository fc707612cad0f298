//! The model layer: a BERT token classifier for PII, run with Candle.
//!
//! Rules find what has a shape; names, streets and towns mostly do not, and
//! no dictionary holds every surname a patient may type. A token classifier
//! reads the words around them instead ("my neighbour Okonkwo drove me").
//! The model tags each word piece with a BIO label (GIVEN_NAME, SURNAME,
//! STREET_NAME, CITY, ...); here the labels become [`Kind`]s, a tagged piece
//! widens to its whole word, and neighbouring words of one kind join into one
//! span, so "John Smith" is one `[NAME]` and "12 Oak Street, Apt 4" one
//! `[ADDRESS]`.
//!
//! The layer is pure: it is built from the model files' bytes (the caller
//! reads them) and runs on the calling thread. Batch with
//! [`NerModel::detect_batch`]; a single text goes through the [`Detector`]
//! impl. The model has no DATE, AGE or MRN labels: the rules cover those.

use bert::Bert;
use tokenizers::Tokenizer;

use crate::{Detector, Kind, Span};

/// Word pieces per window, [CLS] and [SEP] included: the model's limit.
const MAX_WINDOW: usize = 512;
/// Windows for long texts: short enough to keep the attention cost down,
/// overlapping so that an entity cut by one window is whole in the next.
const WINDOW: usize = 256;
const OVERLAP: usize = 64;
/// Windows per forward pass.
const MAX_BATCH: usize = 32;
/// A piece is part of an identifier when its likeliest entity label has at
/// least this probability, even where "O" is likelier: the redactor leans
/// towards hiding. Chosen on calibration data (half of presidio-research's
/// set and a chat corpus of its own seed): the highest threshold that kept
/// recall at 0.97 or more on both (docs/redaction.md).
pub const DEFAULT_THRESHOLD: f32 = 0.3;
/// A model span's score is its probability times this, so that a validated
/// pattern (a checksummed card number, a dated "DOB") wins an overlap.
const SCORE_SCALE: f32 = 0.75;

/// Why the model could not be built or run.
#[derive(Debug)]
pub struct ModelError(String);

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

impl From<bert::BertError> for ModelError {
    fn from(e: bert::BertError) -> Self {
        ModelError(format!("model: {e}"))
    }
}

fn err(what: &str, e: impl std::fmt::Display) -> ModelError {
    ModelError(format!("{what}: {e}"))
}

/// The label set's entity types, as this crate's kinds. Labels outside it
/// (and "O") are ignored.
fn kind_of(entity: &str) -> Option<Kind> {
    Some(match entity {
        "GIVEN_NAME" | "SURNAME" => Kind::Name,
        "EMAIL" => Kind::Email,
        "PHONE" => Kind::Phone,
        "URL" => Kind::Url,
        "TAX_ID" => Kind::Ssn,
        "BANK_ACCOUNT" => Kind::Account,
        "ROUTING_NUMBER" => Kind::Routing,
        "GOVERNMENT_ID" | "PASSPORT" => Kind::Id,
        "DRIVERS_LICENSE" => Kind::License,
        "BUILDING_NUMBER" | "STREET_NAME" | "SECONDARY_ADDRESS" => Kind::Address,
        "CITY" | "STATE" => Kind::Location,
        "ZIP_CODE" => Kind::Zip,
        _ => return None,
    })
}

/// Per-piece output of one text, for checking the model against another
/// runtime: the pieces, their byte offsets, and the logits over the labels.
#[derive(Debug, Clone)]
pub struct TokenLogits {
    pub tokens: Vec<String>,
    pub offsets: Vec<(usize, usize)>,
    pub logits: Vec<Vec<f32>>,
}

pub struct NerModel {
    bert: Bert,
    classifier: bert::Linear,
    tokenizer: Tokenizer,
    /// Label index → kind (None for "O" and unknown labels).
    kinds: Vec<Option<Kind>>,
    labels: Vec<String>,
    cls: u32,
    sep: u32,
    threshold: f32,
}

impl std::fmt::Debug for NerModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NerModel")
            .field("labels", &self.labels.len())
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

/// One window of one text's pieces.
struct Window {
    text: usize,
    /// Range into that text's pieces.
    from: usize,
    to: usize,
}

impl NerModel {
    /// Builds the model from a Hugging Face `BertForTokenClassification`
    /// directory's files: `config.json` (with `id2label`), `tokenizer.json`
    /// and f32 `model.safetensors`; `products` says how its linear layers
    /// multiply.
    pub fn from_bytes(
        config_json: &[u8],
        tokenizer_json: &[u8],
        weights: Vec<u8>,
        products: bert::Products,
    ) -> Result<NerModel, ModelError> {
        let config = bert::Config::from_json(config_json)?;
        let raw: serde_json::Value =
            serde_json::from_slice(config_json).map_err(|e| err("config.json", e))?;
        let id2label = raw
            .get("id2label")
            .and_then(|v| v.as_object())
            .ok_or_else(|| ModelError("config.json has no id2label".into()))?;
        let mut labels = vec![String::new(); id2label.len()];
        for (id, label) in id2label {
            let i: usize = id.parse().map_err(|e| err("id2label", e))?;
            let label = label.as_str().unwrap_or_default();
            *labels
                .get_mut(i)
                .ok_or_else(|| ModelError(format!("id2label: id {i} out of range")))? =
                label.to_string();
        }
        let kinds = labels
            .iter()
            .map(|l| {
                l.strip_prefix("B-")
                    .or_else(|| l.strip_prefix("I-"))
                    .and_then(kind_of)
            })
            .collect();
        let mut tokenizer =
            Tokenizer::from_bytes(tokenizer_json).map_err(|e| err("tokenizer.json", e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| err("tokenizer.json", e))?;
        let special = |t: &str| {
            tokenizer
                .token_to_id(t)
                .ok_or_else(|| ModelError(format!("tokenizer.json has no {t}")))
        };
        let (cls, sep) = (special("[CLS]")?, special("[SEP]")?);
        let tensors = bert::load_safetensors(&weights)?;
        let bert = Bert::load_with(config, &tensors, products)?;
        let tensor = |name: &str| {
            tensors
                .get(name)
                .ok_or_else(|| ModelError(format!("the weights have no {name}")))
        };
        let classifier =
            bert::Linear::new(tensor("classifier.weight")?, tensor("classifier.bias")?)?;
        if classifier.outputs() != labels.len() {
            return Err(ModelError(format!(
                "the classifier has {} outputs for {} labels",
                classifier.outputs(),
                labels.len()
            )));
        }
        Ok(NerModel {
            bert,
            classifier,
            tokenizer,
            kinds,
            labels,
            cls,
            sep,
            threshold: DEFAULT_THRESHOLD,
        })
    }

    /// The lowest entity-label probability that counts
    /// ([`DEFAULT_THRESHOLD`] by default).
    pub fn with_threshold(mut self, threshold: f32) -> NerModel {
        self.threshold = threshold;
        self
    }

    /// The decision threshold in use.
    /// How the model's linear layers multiply (integer where asked for and
    /// the CPU has the instructions).
    pub fn products(&self) -> bert::Products {
        self.bert.products()
    }

    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Word pieces in `text` ([CLS] and [SEP] included): what it costs a
    /// forward pass.
    pub fn pieces(&self, text: &str) -> usize {
        self.tokenizer
            .encode(text, true)
            .map_or(text.len(), |e| e.len())
    }

    /// The label names, by index.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Identifiers in each of `texts`, as char-offset spans (unmerged with
    /// the rules; [`crate::Redactor::find_with`] does that).
    pub fn detect_batch(&self, texts: &[&str]) -> Result<Vec<Vec<Span>>, ModelError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), false)
            .map_err(|e| err("tokenizing", e))?;
        let mut windows = Vec::new();
        for (t, e) in encodings.iter().enumerate() {
            let n = e.get_ids().len();
            if n == 0 {
                continue;
            }
            if n <= MAX_WINDOW - 2 {
                windows.push(Window {
                    text: t,
                    from: 0,
                    to: n,
                });
                continue;
            }
            let mut from = 0;
            loop {
                let to = (from + WINDOW - 2).min(n);
                windows.push(Window { text: t, from, to });
                if to == n {
                    break;
                }
                from = to - OVERLAP;
            }
        }
        // Per text and piece: the likeliest entity label (never "O") and its
        // probability, the highest any window gave.
        let mut best: Vec<Vec<(f32, usize)>> = encodings
            .iter()
            .map(|e| vec![(0.0, 0); e.get_ids().len()])
            .collect();
        windows.sort_by_key(|w| w.to - w.from);
        for chunk in windows.chunks(MAX_BATCH) {
            let probs = self.forward(chunk, &encodings)?;
            for (w, rows) in chunk.iter().zip(probs) {
                for (piece, row) in (w.from..w.to).zip(rows) {
                    let top = row
                        .iter()
                        .copied()
                        .enumerate()
                        .filter(|&(label, _)| self.kinds[label].is_some())
                        .max_by(|a, b| a.1.total_cmp(&b.1));
                    let slot = &mut best[w.text][piece];
                    if let Some((label, p)) = top.filter(|&(_, p)| p > slot.0) {
                        *slot = (p, label);
                    }
                }
            }
        }
        Ok(texts
            .iter()
            .zip(&encodings)
            .zip(&best)
            .map(|((text, e), best)| self.spans(text, e, best))
            .collect())
    }

    /// Label probabilities for each piece of each window, as rows.
    fn forward(
        &self,
        windows: &[Window],
        encodings: &[tokenizers::Encoding],
    ) -> Result<Vec<Vec<Vec<f32>>>, ModelError> {
        let inputs: Vec<Vec<u32>> = windows
            .iter()
            .map(|w| {
                let mut ids = Vec::with_capacity(w.to - w.from + 2);
                ids.push(self.cls);
                ids.extend_from_slice(&encodings[w.text].get_ids()[w.from..w.to]);
                ids.push(self.sep);
                ids
            })
            .collect();
        let refs: Vec<&[u32]> = inputs.iter().map(Vec::as_slice).collect();
        let hidden = self.bert.forward(&refs)?;
        let labels = self.classifier.outputs();
        Ok((0..windows.len())
            .map(|i| {
                let n = refs[i].len() - 2;
                let logits = self.classifier.apply(hidden.rows(i).skip(1).take(n));
                logits
                    .chunks_exact(labels)
                    .map(|row| softmax(row.to_vec()))
                    .collect()
            })
            .collect())
    }

    /// Turns per-piece labels into spans: a labelled piece tags its whole
    /// word, and neighbouring words of one kind (with only spaces between)
    /// join.
    fn spans(&self, text: &str, e: &tokenizers::Encoding, best: &[(f32, usize)]) -> Vec<Span> {
        let offsets = e.get_offsets();
        let words = e.get_word_ids();
        // Byte spans with kind and probability, one per tagged word.
        let mut tagged: Vec<(usize, usize, Kind, f32)> = Vec::new();
        let mut i = 0;
        while i < offsets.len() {
            // The pieces of one word: [i, j).
            let mut j = i + 1;
            while j < offsets.len() && words[j].is_some() && words[j] == words[i] {
                j += 1;
            }
            let top = (i..j)
                .filter(|&k| best[k].0 >= self.threshold)
                .filter_map(|k| Some((self.kinds[best[k].1]?, best[k].0)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((kind, p)) = top {
                let (start, end) = (offsets[i].0, offsets[j - 1].1);
                match tagged.last_mut() {
                    Some(last)
                        if last.2 == kind
                            && text
                                .get(last.1..start)
                                .is_some_and(|gap| gap.chars().all(char::is_whitespace)) =>
                    {
                        last.1 = last.1.max(end);
                        last.3 = last.3.max(p);
                    }
                    _ => tagged.push((start, end, kind, p)),
                }
            }
            i = j;
        }
        tagged
            .into_iter()
            .filter_map(|(s, e, kind, p)| {
                // Offsets are bytes on char boundaries; the API speaks chars.
                let start = text.get(..s)?.chars().count();
                let end = start + text.get(s..e)?.chars().count();
                (start < end).then_some(Span {
                    start,
                    end,
                    kind,
                    score: p * SCORE_SCALE,
                })
            })
            .collect()
    }

    /// Raw logits for one short text (no windowing), for checking a
    /// conversion against the original runtime.
    pub fn logits(&self, text: &str) -> Result<TokenLogits, ModelError> {
        let e = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| err("tokenizing", e))?;
        let hidden = self.bert.forward(&[e.get_ids()])?;
        let logits = self.classifier.apply(hidden.rows(0));
        Ok(TokenLogits {
            tokens: e.get_tokens().to_vec(),
            offsets: e.get_offsets().to_vec(),
            logits: logits
                .chunks_exact(self.classifier.outputs())
                .map(<[f32]>::to_vec)
                .collect(),
        })
    }
}

fn softmax(mut xs: Vec<f32>) -> Vec<f32> {
    let max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in &mut xs {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in &mut xs {
        *x /= sum;
    }
    xs
}

impl Detector for NerModel {
    /// A model failure leaves the rules' result standing (the trait cannot
    /// report errors); use [`NerModel::detect_batch`] to see them.
    fn detect(&self, text: &str, out: &mut Vec<Span>) {
        if let Ok(mut spans) = self.detect_batch(&[text]) {
            out.append(&mut spans[0]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_family_maps_to_a_kind_and_o_to_none() {
        for (entity, kind) in [
            ("GIVEN_NAME", Kind::Name),
            ("SURNAME", Kind::Name),
            ("STREET_NAME", Kind::Address),
            ("SECONDARY_ADDRESS", Kind::Address),
            ("CITY", Kind::Location),
            ("ZIP_CODE", Kind::Zip),
            ("TAX_ID", Kind::Ssn),
            ("DRIVERS_LICENSE", Kind::License),
        ] {
            assert_eq!(kind_of(entity), Some(kind), "{entity}");
        }
        assert_eq!(kind_of("O"), None);
        assert_eq!(kind_of("DATE"), None);
    }
}
