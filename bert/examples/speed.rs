//! This crate's forward pass against candle-transformers' `BertModel`, side
//! by side in one run, on the same model, texts and batches.
//!
//! ```text
//! cargo run --release -p bert --example speed -- models/pii-ner DATA.json [ROUNDS]
//! ```
//!
//! `DATA.json` is a list of objects with a `full_text` (presidio-research's
//! format, as `carechat eval redact` reads). Texts are sorted by length and
//! cut into batches of 32, as the server batches them; candle-transformers
//! pads each batch to its longest text, this crate packs it. Each round runs
//! both implementations over every batch, alternating which goes first; the
//! report gives the median round for each and their ratio, as one JSON
//! object. The two outputs are also compared, so a fast wrong answer shows.
//! `BATCH=N` in the environment changes the batch size.

use std::time::Instant;

type Error = Box<dyn std::error::Error + Send + Sync>;
/// One implementation's forward pass over a batch: hidden states per text.
type Forward<'a> = dyn Fn(&[Vec<u32>]) -> Result<Vec<Vec<f32>>, Error> + 'a;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::bert::{BertModel, Config as RefConfig};

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, data) = match (args.first(), args.get(1)) {
        (Some(d), Some(f)) => (std::path::PathBuf::from(d), f.clone()),
        _ => return Err("usage: speed MODEL_DIR DATA.json [ROUNDS]".into()),
    };
    let rounds: usize = args.get(2).map_or(Ok(5), |r| r.parse())?;
    let config_json = std::fs::read(dir.join("config.json"))?;
    let weights = std::fs::read(dir.join("model.safetensors"))?;
    let mut tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json"))?;
    tokenizer.with_padding(None);
    tokenizer.with_truncation(Some(tokenizers::TruncationParams {
        max_length: 256,
        ..Default::default()
    }))?;

    let texts: Vec<String> =
        serde_json::from_slice::<Vec<serde_json::Value>>(&std::fs::read(&data)?)?
            .iter()
            .filter_map(|v| v["full_text"].as_str().map(str::to_string))
            .collect();
    let mut ids: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| {
            tokenizer
                .encode(t.as_str(), true)
                .map(|e| e.get_ids().to_vec())
        })
        .collect::<Result<_, _>>()?;
    ids.sort_by_key(Vec::len);
    let batch: usize = std::env::var("BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(32);
    let batches: Vec<&[Vec<u32>]> = ids.chunks(batch).collect();
    let pieces: usize = ids.iter().map(Vec::len).sum();

    let ours = bert::Bert::from_safetensors(bert::Config::from_json(&config_json)?, &weights)?;
    let ref_config: RefConfig = serde_json::from_slice(&config_json)?;
    let tensors = bert::load_safetensors(&weights)?;
    let prefix = if tensors.contains_key("bert.embeddings.word_embeddings.weight") {
        "bert"
    } else {
        ""
    };
    let vb = candle_nn::VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    let reference = BertModel::load(
        if prefix.is_empty() { vb } else { vb.pp(prefix) },
        &ref_config,
    )?;

    let run_ours = |b: &[Vec<u32>]| -> Result<Vec<Vec<f32>>, Error> {
        let refs: Vec<&[u32]> = b.iter().map(Vec::as_slice).collect();
        let h = ours.forward(&refs)?;
        Ok((0..b.len())
            .map(|i| h.rows(i).flatten().copied().collect())
            .collect())
    };
    let run_reference = |b: &[Vec<u32>]| -> Result<Vec<Vec<f32>>, Error> {
        let len = b.iter().map(Vec::len).max().unwrap_or(1);
        let mut flat = Vec::with_capacity(b.len() * len);
        let mut mask = Vec::with_capacity(b.len() * len);
        for t in b {
            flat.extend_from_slice(t);
            flat.extend(std::iter::repeat_n(0u32, len - t.len()));
            mask.extend(std::iter::repeat_n(1u32, t.len()));
            mask.extend(std::iter::repeat_n(0u32, len - t.len()));
        }
        let input = Tensor::from_vec(flat, (b.len(), len), &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, (b.len(), len), &Device::Cpu)?;
        let out = reference.forward(&input, &input.zeros_like()?, Some(&mask))?;
        let rows: Vec<Vec<Vec<f32>>> = out.to_vec3()?;
        Ok(rows
            .into_iter()
            .zip(b)
            .map(|(r, t)| r.into_iter().take(t.len()).flatten().collect())
            .collect())
    };

    // Same answers first (and a warm-up for both).
    let mut worst = 0f32;
    for b in &batches {
        for (x, y) in run_ours(b)?.iter().zip(run_reference(b)?) {
            for (a, c) in x.iter().zip(&y) {
                worst = worst.max((a - c).abs());
            }
        }
    }

    let time = |f: &Forward| {
        let started = Instant::now();
        for b in &batches {
            std::hint::black_box(f(b)?);
        }
        Ok::<f64, Error>(started.elapsed().as_secs_f64())
    };
    let (mut t_ours, mut t_ref) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            t_ours.push(time(&run_ours)?);
            t_ref.push(time(&run_reference)?);
        } else {
            t_ref.push(time(&run_reference)?);
            t_ours.push(time(&run_ours)?);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (m_ours, m_ref) = (median(t_ours), median(t_ref));
    let rate = |secs: f64| (texts.len() as f64 / secs * 10.0).round() / 10.0;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "model": dir.display().to_string(),
            "dataset": data,
            "texts": texts.len(),
            "mean_pieces": (pieces as f64 / texts.len().max(1) as f64 * 10.0).round() / 10.0,
            "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "rounds": rounds,
            "candle_transformers_texts_per_s": rate(m_ref),
            "bert_crate_texts_per_s": rate(m_ours),
            "speedup": (m_ref / m_ours * 100.0).round() / 100.0,
            "max_abs_difference": worst,
        }))?
    );
    Ok(())
}
