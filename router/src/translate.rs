//! The translation seam. The router decides *whether* a chat needs
//! translating, and into which of the clinician's languages
//! ([`translation_plan`], [`translation_plan_with`]); a backend outside this
//! crate (the Candle Marian models, say) does the translating by implementing
//! [`Translator`]. The trait is object-safe and `Send + Sync` so the server
//! can hold one `Arc<dyn Translator>` and call it from any task; it is pure in
//! the sense that it takes text and gives text, with no say over routing.

use crate::clinicians::{Clinician, Fluency, Language};

/// Translates text between languages given as ISO 639-1 codes (`"en"`,
/// `"es"`); codes are compared case-insensitively by callers in this crate.
pub trait Translator: Send + Sync {
    /// Whether this translator can translate from `from` to `to`. Cheap: the
    /// router's callers ask it while deciding a plan.
    fn supports(&self, from: &str, to: &str) -> bool;

    /// Translates `text` from `from` to `to`.
    fn translate(&self, text: &str, from: &str, to: &str) -> Result<String, TranslateError>;
}

/// Why a translation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// No installed model covers this pair.
    #[error("no model translates {from} to {to}")]
    Unsupported { from: String, to: String },
    /// The model ran and failed; the message is for the log, not the patient.
    #[error("translation failed: {0}")]
    Failed(String),
}

/// Which messages need translating for this clinician to serve a patient who
/// writes `patient_language`: `Some((patient_language, clinician_language))`
/// when the clinician does not speak the patient's language fluently (not at
/// all, or only at [`Fluency::Basic`]) and speaks another language better,
/// which becomes the target (their strongest, the first listed among equals).
/// The reply goes the other way. `None` means no translation: they are fluent,
/// or they have no better language to translate into.
pub fn translation_plan(patient_language: &str, clinician: &Clinician) -> Option<(String, String)> {
    let theirs = clinician.level(patient_language);
    if theirs >= Some(Fluency::Fluent) {
        return None;
    }
    let best = strongest(clinician, patient_language).next()?;
    (Some(best.level) > theirs).then(|| (patient_language.to_owned(), best.code.clone()))
}

/// Like [`translation_plan`], but only with a target `translator` can handle
/// both ways (patient to clinician and back): the clinician's strongest such
/// language that is at least fluent. `None` when no translation is needed or
/// none is possible; compare with [`translation_plan`] to tell the two apart.
pub fn translation_plan_with(
    patient_language: &str,
    clinician: &Clinician,
    translator: &dyn Translator,
) -> Option<(String, String)> {
    translation_plan(patient_language, clinician)?;
    strongest(clinician, patient_language)
        .filter(|l| l.level >= Fluency::Fluent)
        .find(|l| {
            translator.supports(patient_language, &l.code)
                && translator.supports(&l.code, patient_language)
        })
        .map(|l| (patient_language.to_owned(), l.code.clone()))
}

/// The clinician's other languages, strongest first, list order among equals.
fn strongest<'a>(
    clinician: &'a Clinician,
    except: &'a str,
) -> impl Iterator<Item = &'a Language> + 'a {
    let mut langs: Vec<&Language> = clinician
        .languages
        .iter()
        .filter(|l| !l.code.eq_ignore_ascii_case(except))
        .collect();
    // Stable, so list order survives among equal levels.
    langs.sort_by_key(|l| std::cmp::Reverse(l.level));
    langs.into_iter()
}
