//! OPUS-MT translation models from the Hugging Face hub, or from a mirror
//! laid out like it (`CARECHAT_HUB_URL`).
//!
//! These models are not published as wheels, so Carechat cannot pin them
//! the way it pins its other models: a clinic chooses which language pairs
//! it needs, and each lives in its own hub repository
//! (`Helsinki-NLP/opus-mt-es-en`). What can be checked is checked: every
//! file whose SHA-256 the hub states (its `X-Linked-Etag` header, the Git
//! LFS object id, sent before the redirect to its file store) must match
//! it, the weights must have one, and the commit the hub served
//! (`X-Repo-Commit`) is recorded beside the model in `source.json`. The
//! caller then loads the model and translates a sentence before installing
//! it. Weights published only as `pytorch_model.bin` are converted to
//! safetensors (candle reads the PyTorch file; no Python involved).

use std::path::Path;

use anyhow::{Context, bail, ensure};
use serde_json::json;

use crate::fetch::{agent, download, read_body, sha256_hex};

/// The model hub.
pub const HUB_URL: &str = "https://huggingface.co";
/// The variable naming a mirror of it.
pub const HUB_ENV: &str = "CARECHAT_HUB_URL";
/// Where the download's origin is recorded, beside the model's files.
pub const SOURCE_FILE: &str = "source.json";

/// The hub (or its mirror) this process downloads from.
pub fn hub_url() -> String {
    std::env::var(HUB_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| HUB_URL.to_string())
}

struct Fetched {
    bytes: Vec<u8>,
    /// The SHA-256 the hub stated, which the bytes matched.
    sha256: Option<String>,
    commit: Option<String>,
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A SHA-256 the way the hub writes it in an ETag: 64 hex digits, quoted,
/// perhaps weak (`W/"..."`). Small files' ETags are Git blob ids (40 hex
/// digits): not a SHA-256, so None.
fn stated_sha256(etag: &str) -> Option<String> {
    let v = etag.trim().trim_start_matches("W/").trim_matches('"');
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

/// GETs `url`; None when the hub has no such file (404).
fn fetch(url: &str, what: &str) -> anyhow::Result<Option<Fetched>> {
    let response = agent(false)
        .get(url)
        .call()
        .with_context(|| format!("downloading {url}"))?;
    let status = response.status().as_u16();
    if status == 404 {
        return Ok(None);
    }
    let commit = header(&response, "x-repo-commit");
    let stated = header(&response, "x-linked-etag")
        .or_else(|| header(&response, "etag"))
        .and_then(|e| stated_sha256(&e));
    let bytes = match status {
        200 => read_body(response, url, what)?,
        301 | 302 | 303 | 307 | 308 => {
            let location = header(&response, "location")
                .with_context(|| format!("{url}: redirect without a location"))?;
            let target = if location.starts_with('/') {
                // Relative to the hub's origin: scheme://host[:port].
                let origin_end = url
                    .find("://")
                    .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j))
                    .unwrap_or(url.len());
                format!("{}{location}", &url[..origin_end])
            } else {
                location
            };
            download(&target, what)?
        }
        _ => bail!("downloading {url}: HTTP status {status}"),
    };
    if let Some(expected) = &stated {
        let got = sha256_hex(&bytes);
        ensure!(
            &got == expected,
            "refusing {url}: its SHA-256 is {got}, the hub states {expected}"
        );
    }
    Ok(Some(Fetched {
        bytes,
        sha256: stated,
        commit,
    }))
}

/// Downloads `Helsinki-NLP/<name>` from `hub` into `into` (a new, empty
/// directory): config, tokenizers and weights, the weights as
/// `model.safetensors`, and a [`SOURCE_FILE`] saying where they came from.
pub fn download_opus_mt(name: &str, hub: &str, into: &Path) -> anyhow::Result<()> {
    let repo = format!("Helsinki-NLP/{name}");
    let base = format!("{}/{repo}/resolve/main", hub.trim_end_matches('/'));
    let mut commit = None;
    let mut hashes = serde_json::Map::new();
    let mut save = |file: &str, fetched: Fetched| -> anyhow::Result<()> {
        commit = commit.take().or(fetched.commit);
        if let Some(sha) = fetched.sha256 {
            hashes.insert(file.to_string(), json!(sha));
        }
        std::fs::write(into.join(file), &fetched.bytes)
            .with_context(|| format!("writing {}", into.join(file).display()))
    };
    for file in ["config.json", "source.spm", "target.spm", "vocab.json"] {
        let url = format!("{base}/{file}");
        let fetched = fetch(&url, file)?
            .with_context(|| format!("{repo} has no {file} ({url}): is it an OPUS-MT model?"))?;
        save(file, fetched)?;
    }
    let mut weights = None;
    for file in ["model.safetensors", "pytorch_model.bin"] {
        if let Some(fetched) = fetch(&format!("{base}/{file}"), file)? {
            weights = Some((file, fetched));
            break;
        }
    }
    let (file, fetched) = weights
        .with_context(|| format!("{repo} has neither model.safetensors nor pytorch_model.bin"))?;
    ensure!(
        fetched.sha256.is_some(),
        "refusing {base}/{file}: the hub states no SHA-256 for it, so the download cannot be checked"
    );
    save(file, fetched)?;
    if file == "pytorch_model.bin" {
        let bin = into.join(file);
        pytorch_to_safetensors(&bin, &into.join("model.safetensors"))?;
        std::fs::remove_file(&bin)?;
    }
    let source = json!({
        "source": format!("{}/{repo}", hub.trim_end_matches('/')),
        "revision": commit,
        "sha256": hashes,
    });
    std::fs::write(into.join(SOURCE_FILE), serde_json::to_vec_pretty(&source)?)?;
    Ok(())
}

/// Converts a PyTorch state dict (`torch.save`'s zip format) to safetensors.
fn pytorch_to_safetensors(bin: &Path, out: &Path) -> anyhow::Result<()> {
    let tensors: std::collections::HashMap<String, candle_core::Tensor> =
        candle_core::pickle::read_all(bin)
            .with_context(|| {
                format!(
                    "reading {}: candle reads PyTorch's zip format (torch 1.6 and later); \
                     convert older files to model.safetensors and install with --from DIR",
                    bin.display()
                )
            })?
            .into_iter()
            .collect();
    ensure!(
        !tensors.is_empty(),
        "{} holds no tensors candle can read",
        bin.display()
    );
    candle_core::safetensors::save(&tensors, out)
        .with_context(|| format!("converting {} to {}", bin.display(), out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sha256_from_an_etag_and_nothing_else() {
        let sha = "a".repeat(64);
        assert_eq!(stated_sha256(&format!("\"{sha}\"")), Some(sha.clone()));
        assert_eq!(
            stated_sha256(&format!("W/\"{}\"", sha.to_uppercase())),
            Some(sha)
        );
        // A Git blob id, as small files have.
        assert_eq!(stated_sha256(&format!("\"{}\"", "b".repeat(40))), None);
        assert_eq!(stated_sha256(&format!("\"{}\"", "z".repeat(64))), None);
    }

    /// `lab/dev/make_pytorch_fixture.py` wrote the fixture: tensor k holds
    /// 0.5 * (k + 1) + 0.25 * i at flat index i.
    #[test]
    fn converts_a_pytorch_state_dict_to_safetensors() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tiny_pytorch_model.bin");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("model.safetensors");
        pytorch_to_safetensors(&fixture, &out).unwrap();
        let tensors = candle_core::safetensors::load(&out, &candle_core::Device::Cpu).unwrap();
        assert_eq!(tensors.len(), 2);
        let weight = &tensors["model.encoder.weight"];
        assert_eq!(weight.dims(), &[2, 3]);
        assert_eq!(
            weight.to_vec2::<f32>().unwrap(),
            vec![vec![0.5, 0.75, 1.0], vec![1.25, 1.5, 1.75]]
        );
        let bias = &tensors["final_logits_bias"];
        assert_eq!(
            bias.to_vec2::<f32>().unwrap(),
            vec![vec![1.0, 1.25, 1.5, 1.75]]
        );

        std::fs::write(dir.path().join("legacy.bin"), b"not a zip archive").unwrap();
        let err = pytorch_to_safetensors(&dir.path().join("legacy.bin"), &out).unwrap_err();
        assert!(format!("{err:#}").contains("zip format"), "{err:#}");
    }
}
