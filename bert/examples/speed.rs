//! This crate's forward pass, with f32 and with integer products, against
//! candle-transformers' `BertModel`, side by side in one run, on the same
//! model, texts and batches.
//!
//! ```text
//! cargo run --release -p bert --example speed -- models/pii-ner DATA.json [ROUNDS]
//! ```
//!
//! `DATA.json` is a list of objects with a `full_text` (presidio-research's
//! format, as `carechat eval redact` reads). Texts are sorted by length and
//! cut into batches of 32, as the server batches them; candle-transformers
//! pads each batch to its longest text, this crate packs it. Each round runs
//! every implementation over every batch, in a rotating order; the report
//! gives the median round for each and the ratios, as one JSON object. Then
//! the same for one text at a time (the first 300 texts, in their file
//! order: what one patient's message costs), as the median and 99th
//! percentile over rounds of each text's time. The outputs are compared
//! with candle-transformers', so a fast wrong answer shows. `BATCH=N` in the
//! environment changes the batch size.

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
    let ids_in_order = ids.clone();
    ids.sort_by_key(Vec::len);
    let batch: usize = std::env::var("BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(32);
    let batches: Vec<&[Vec<u32>]> = ids.chunks(batch).collect();
    let pieces: usize = ids.iter().map(Vec::len).sum();

    let tensors = bert::load_safetensors(&weights)?;
    let config = bert::Config::from_json(&config_json)?;
    let float = bert::Bert::load_with(config.clone(), &tensors, bert::Products::Float)?;
    let integer = bert::Bert::load_with(config, &tensors, bert::Products::Integer)?;
    if integer.products() != bert::Products::Integer {
        eprintln!("this CPU has no AVX-512 VNNI: the integer run below is f32 too");
    }
    let ref_config: RefConfig = serde_json::from_slice(&config_json)?;
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

    let ours = |model: &bert::Bert, b: &[Vec<u32>]| -> Result<Vec<Vec<f32>>, Error> {
        let refs: Vec<&[u32]> = b.iter().map(Vec::as_slice).collect();
        let h = model.forward(&refs)?;
        Ok((0..b.len())
            .map(|i| h.rows(i).flatten().copied().collect())
            .collect())
    };
    let run_float = |b: &[Vec<u32>]| ours(&float, b);
    let run_integer = |b: &[Vec<u32>]| ours(&integer, b);
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

    // Same answers first (and a warm-up for all three).
    let (mut worst_float, mut worst_integer) = (0f32, 0f32);
    for b in &batches {
        let expected = run_reference(b)?;
        for (worst, got) in [
            (&mut worst_float, run_float(b)?),
            (&mut worst_integer, run_integer(b)?),
        ] {
            for (x, y) in got.iter().zip(&expected) {
                for (a, c) in x.iter().zip(y) {
                    *worst = worst.max((a - c).abs());
                }
            }
        }
    }

    let runs: [&Forward; 3] = [&run_reference, &run_float, &run_integer];
    let time = |f: &Forward, batches: &[&[Vec<u32>]]| {
        let started = Instant::now();
        for b in batches {
            std::hint::black_box(f(b)?);
        }
        Ok::<f64, Error>(started.elapsed().as_secs_f64())
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut batched: [Vec<f64>; 3] = Default::default();
    for round in 0..rounds {
        for i in 0..3 {
            let which = (round + i) % 3;
            batched[which].push(time(runs[which], &batches)?);
        }
    }
    let [m_ref, m_float, m_int] = batched.map(median);
    let rate = |secs: f64| (texts.len() as f64 / secs * 10.0).round() / 10.0;

    // One text at a time: each text's median over the rounds, then the
    // median and 99th percentile over texts.
    let singles: Vec<[Vec<u32>; 1]> = ids_in_order.iter().take(300).map(|t| [t.clone()]).collect();
    let mut per_text: [Vec<Vec<f64>>; 3] = Default::default();
    for p in &mut per_text {
        *p = vec![Vec::new(); singles.len()];
    }
    for round in 0..rounds {
        for i in 0..3 {
            let which = (round + i) % 3;
            for (t, one) in singles.iter().enumerate() {
                let started = Instant::now();
                std::hint::black_box(runs[which](one)?);
                per_text[which][t].push(started.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    let latency = |p: &Vec<Vec<f64>>| {
        let mut each: Vec<f64> = p.iter().map(|v| median(v.clone())).collect();
        each.sort_by(f64::total_cmp);
        let ms = |x: f64| (x * 100.0).round() / 100.0;
        serde_json::json!({
            "p50_ms": ms(each[each.len() / 2]),
            "p99_ms": ms(each[(each.len() * 99 / 100).min(each.len() - 1)]),
        })
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "model": dir.display().to_string(),
            "dataset": data,
            "texts": texts.len(),
            "mean_pieces": (pieces as f64 / texts.len().max(1) as f64 * 10.0).round() / 10.0,
            "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "rounds": rounds,
            "batched_texts_per_s": {
                "candle_transformers": rate(m_ref),
                "bert_f32": rate(m_float),
                "bert_integer": rate(m_int),
            },
            "speedup_f32_over_candle": (m_ref / m_float * 100.0).round() / 100.0,
            "speedup_integer_over_f32": (m_float / m_int * 100.0).round() / 100.0,
            "one_text_at_a_time": {
                "candle_transformers": latency(&per_text[0]),
                "bert_f32": latency(&per_text[1]),
                "bert_integer": latency(&per_text[2]),
            },
            "max_abs_difference_from_candle": {
                "bert_f32": worst_float,
                "bert_integer": worst_integer,
            },
        }))?
    );
    Ok(())
}
