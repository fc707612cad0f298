//! Several models, one per language pair, chosen by `(from, to)`.

use crate::marian::MarianModel;
use crate::{Error, Result, invalid};
use crate::{TranslateError, Translator};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The file in a model directory that names its language pair:
/// `{"from": "es", "to": "en"}`.
pub const PAIR_FILE: &str = "carechat.json";

#[derive(Deserialize)]
struct PairFile {
    from: String,
    to: String,
}

struct Entry {
    from: String,
    to: String,
    dir: PathBuf,
    model: MarianModel,
}

/// The loaded translation models, at most one per language pair.
///
/// Language codes are compared by their primary subtag, lowercased:
/// `es-MX` and `ES` both mean `es`. There is no pivoting (es→en→de) and no
/// identity "translation": a pair is supported when a model translates
/// exactly it.
///
/// Its [`Translator`] impl blocks for as long as the model runs (CPU-bound,
/// up to seconds for a long message): call it from `spawn_blocking` or an
/// inference thread, never on an async worker.
#[derive(Default)]
pub struct Translations {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Translations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.pairs()).finish()
    }
}

/// The primary subtag of a language code, lowercased.
fn language(code: &str) -> String {
    code.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Which pair `dir` translates: its [`PAIR_FILE`] if it has one, otherwise
/// its name when that is `opus-mt-<from>-<to>` (as Helsinki-NLP name their
/// models; `opus-mt-tc-big-fr-en` works too: the last two parts count).
pub fn pair_of(dir: &Path) -> Result<(String, String)> {
    let file = dir.join(PAIR_FILE);
    if file.exists() {
        let pair: PairFile = serde_json::from_slice(&crate::read(&file)?).map_err(|e| {
            invalid(
                &file,
                format!("expected {{\"from\": \"es\", \"to\": \"en\"}}: {e}"),
            )
        })?;
        let (from, to) = (language(&pair.from), language(&pair.to));
        if from.is_empty() || to.is_empty() {
            return Err(invalid(&file, "a language code is empty"));
        }
        return Ok((from, to));
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parts: Vec<&str> = name
        .strip_prefix("opus-mt-")
        .map(|rest| rest.split('-').collect())
        .unwrap_or_default();
    match parts[..] {
        [.., from, to]
            if [from, to]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphabetic())) =>
        {
            Ok((language(from), language(to)))
        }
        _ => Err(invalid(
            dir,
            format!(
                "cannot tell which languages this model translates: name the directory \
                 opus-mt-<from>-<to> or add {PAIR_FILE} with {{\"from\": \"es\", \"to\": \"en\"}}"
            ),
        )),
    }
}

impl Translations {
    /// Loads every directory in `dirs` (see [`MarianModel::load`] for what
    /// one holds and [`pair_of`] for how its pair is named). Two
    /// directories for the same pair are an error, not a silent choice.
    pub fn load_dirs(dirs: &[PathBuf]) -> Result<Translations> {
        let mut translations = Translations::default();
        for dir in dirs {
            let (from, to) = pair_of(dir)?;
            let model = MarianModel::load(dir)?;
            translations.insert(&from, &to, dir.clone(), model)?;
        }
        Ok(translations)
    }

    /// Adds a loaded model for `from` → `to`; `dir` names it in errors.
    pub fn insert(&mut self, from: &str, to: &str, dir: PathBuf, model: MarianModel) -> Result<()> {
        let (from, to) = (language(from), language(to));
        if let Some(e) = self.entries.iter().find(|e| e.from == from && e.to == to) {
            return Err(Error::DuplicatePair {
                from,
                to,
                first: e.dir.clone(),
                second: dir,
            });
        }
        self.entries.push(Entry {
            from,
            to,
            dir,
            model,
        });
        Ok(())
    }

    /// The `(from, to)` pairs there are models for, in loading order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str()))
    }

    /// Whether no model is loaded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The model for `from` → `to`, if there is one.
    pub fn model(&self, from: &str, to: &str) -> Option<&MarianModel> {
        let (from, to) = (language(from), language(to));
        self.entries
            .iter()
            .find(|e| e.from == from && e.to == to)
            .map(|e| &e.model)
    }
}

impl Translator for Translations {
    fn supports(&self, from: &str, to: &str) -> bool {
        self.model(from, to).is_some()
    }

    fn translate(&self, text: &str, from: &str, to: &str) -> Result<String, TranslateError> {
        let model = self
            .model(from, to)
            .ok_or_else(|| TranslateError::Unsupported {
                from: from.to_string(),
                to: to.to_string(),
            })?;
        model
            .translate(text)
            .map_err(|e| TranslateError::Failed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_come_from_the_directory_name_or_carechat_json() {
        let p = |name: &str| pair_of(Path::new("/nonexistent").join(name).as_path());
        assert_eq!(p("opus-mt-es-en").unwrap(), ("es".into(), "en".into()));
        assert_eq!(
            p("opus-mt-tc-big-fr-en").unwrap(),
            ("fr".into(), "en".into())
        );
        let err = p("spanish-model").unwrap_err().to_string();
        assert!(
            err.contains("spanish-model") && err.contains(PAIR_FILE),
            "{err}"
        );
        assert!(p("opus-mt-en").is_err());
        assert_eq!(language(" es-MX "), "es");
        assert_eq!(language("PT_br"), "pt");
    }
}
