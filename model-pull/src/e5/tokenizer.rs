//! The encoder's tokenizer, rebuilt from the file's sentencepiece
//! vocabulary and normalisation map.

use std::collections::BTreeMap;

use anyhow::{Context, bail, ensure};
use tokenizers::models::unigram::Unigram;
use tokenizers::normalizers::{NFKC, Replace, Sequence};
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, NormalizedString, Normalizer, Tokenizer};

use super::reader::Reader;

/// The sentencepiece unigram vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    pub pieces: Vec<String>,
    pub scores: Vec<f32>,
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
}

/// `tokenizer.json`: a tokenizers `Unigram` over the pieces and scores,
/// XLM-R style (`▁` word starts, `<s> … </s>`), with the package's
/// normalisation map (`normalise`) expressed as NFKC plus the entries where
/// the map differs from NFKC (control characters dropped, odd spaces to
/// spaces), then runs of spaces collapsed, as the package does.
pub(super) fn build(v: &Vocab, normalise: &BTreeMap<char, String>) -> anyhow::Result<Tokenizer> {
    let vocab: Vec<(String, f64)> = v
        .pieces
        .iter()
        .zip(&v.scores)
        .map(|(p, &s)| (p.clone(), f64::from(s)))
        .collect();
    let model = Unigram::from(vocab, Some(v.unk as usize), false)
        .map_err(|e| anyhow::anyhow!("building the unigram model: {e}"))?;
    let mut tokenizer = Tokenizer::new(model);

    // Characters whose replacement is not what NFKC makes of them,
    // grouped by replacement: one regex pass per distinct replacement.
    let mut by_output: BTreeMap<&str, Vec<char>> = BTreeMap::new();
    for (&c, out) in normalise {
        if nfkc(&c.to_string())? != *out {
            by_output.entry(out.as_str()).or_default().push(c);
        }
    }
    let mut steps = Vec::new();
    for (out, chars) in by_output {
        let class: String = chars
            .iter()
            .map(|c| format!("\\x{{{:x}}}", *c as u32))
            .collect();
        let replace = Replace::new(
            tokenizers::normalizers::replace::ReplacePattern::Regex(format!("[{class}]")),
            out,
        )
        .map_err(|e| anyhow::anyhow!("building the normaliser: {e}"))?;
        steps.push(replace.into());
    }
    steps.push(NFKC.into());
    steps.push(
        Replace::new(
            tokenizers::normalizers::replace::ReplacePattern::Regex(" {2,}".into()),
            " ",
        )
        .map_err(|e| anyhow::anyhow!("building the normaliser: {e}"))?
        .into(),
    );
    tokenizer
        .with_normalizer(Some(Sequence::new(steps)))
        .map_err(|e| anyhow::anyhow!("setting the normaliser: {e}"))?;
    tokenizer.with_pre_tokenizer(Some(Metaspace::new('▁', PrependScheme::Always, true)));
    tokenizer.with_decoder(Some(tokenizers::decoders::metaspace::Metaspace::new(
        '▁',
        PrependScheme::Always,
        true,
    )));
    let piece = |id: u32| v.pieces[id as usize].clone();
    let (bos, eos) = (piece(v.bos), piece(v.eos));
    let post = TemplateProcessing::builder()
        .try_single(format!("{bos} $A {eos}"))
        .and_then(|b| b.try_pair(format!("{bos} $A {eos} {eos} $B {eos}")))
        .map_err(|e| anyhow::anyhow!("building the post-processor: {e}"))?
        .special_tokens(vec![(bos.clone(), v.bos), (eos.clone(), v.eos)])
        .build()
        .map_err(|e| anyhow::anyhow!("building the post-processor: {e}"))?;
    tokenizer.with_post_processor(Some(post));
    let specials: Vec<AddedToken> = [v.bos, v.pad, v.eos, v.unk]
        .into_iter()
        .map(|id| AddedToken::from(piece(id), true))
        .collect();
    tokenizer
        .add_special_tokens(specials)
        .map_err(|e| anyhow::anyhow!("adding the special tokens: {e}"))?;
    Ok(tokenizer)
}

fn nfkc(s: &str) -> anyhow::Result<String> {
    let mut n = NormalizedString::from(s);
    NFKC.normalize(&mut n)
        .map_err(|e| anyhow::anyhow!("NFKC: {e}"))?;
    Ok(n.get().to_string())
}

pub(super) fn parse_vocab(r: &mut Reader<'_>, embedding_rows: usize) -> anyhow::Result<Vocab> {
    let n = r.count("the piece count", embedding_rows)?;
    ensure!(n > 0, "the vocabulary is empty");
    let mut special = [0u32; 4];
    for (s, what) in special.iter_mut().zip(["<s>", "</s>", "<pad>", "<unk>"]) {
        let id = r.count(&format!("the {what} id"), n - 1)?;
        *s = id as u32;
    }
    let [bos, eos, pad, unk] = special;
    let blob_len =
        usize::try_from(r.u64("the piece blob length")?).context("the piece blob length")?;
    let offsets_bytes = r.take((n + 1) * 4, "the piece offsets")?;
    let offsets: Vec<usize> = offsets_bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let scores: Vec<f32> = r
        .take(n * 4, "the piece scores")?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let blob = r.take(blob_len, "the piece bytes")?;
    ensure!(
        offsets[0] == 0 && offsets[n] == blob_len,
        "the piece offsets do not span the piece bytes"
    );
    let mut pieces = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b) = (offsets[i], offsets[i + 1]);
        ensure!(
            a <= b && b <= blob_len,
            "piece {i}'s offsets are out of order"
        );
        let piece =
            std::str::from_utf8(&blob[a..b]).with_context(|| format!("piece {i} is not UTF-8"))?;
        ensure!(!piece.is_empty(), "piece {i} is empty");
        pieces.push(piece.to_string());
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        bail!("piece {i} has a non-finite score");
    }
    Ok(Vocab {
        pieces,
        scores,
        bos,
        eos,
        pad,
        unk,
    })
}

/// The normaliser: `count` entries of (u32 code point, u8 n, n × u32 code
/// points), `len` bytes in all.
pub(super) fn parse_normaliser(r: &mut Reader<'_>) -> anyhow::Result<BTreeMap<char, String>> {
    let count = r.count("the normaliser entry count", 1 << 21)?;
    let len = r.u32("the normaliser length")? as usize;
    let mut nr = Reader {
        bytes: r.take(len, "the normaliser")?,
        pos: 0,
    };
    let mut map = BTreeMap::new();
    let cp = |v: u32| char::from_u32(v).with_context(|| format!("{v:#x} is not a character"));
    for _ in 0..count {
        let from = cp(nr.u32("a normaliser entry")?)?;
        let n = nr.u8("a normaliser entry")?;
        let mut to = String::new();
        for _ in 0..n {
            to.push(cp(nr.u32("a normaliser entry")?)?);
        }
        ensure!(
            map.insert(from, to).is_none(),
            "the normaliser maps {from:?} twice"
        );
    }
    ensure!(
        nr.pos == len,
        "the normaliser's {count} entries take {} of its {len} bytes",
        nr.pos
    );
    Ok(map)
}
