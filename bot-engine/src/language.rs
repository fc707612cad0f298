//! Which language the patient writes in.

use whatlang::{Detector, Lang};

/// Languages a US practice's patients commonly write in. Restricting whatlang
/// to them keeps it from calling a short English line Latin or Esperanto.
const LANGS: &[(Lang, &str)] = &[
    (Lang::Eng, "en"),
    (Lang::Spa, "es"),
    (Lang::Fra, "fr"),
    (Lang::Deu, "de"),
    (Lang::Por, "pt"),
    (Lang::Ita, "it"),
    (Lang::Vie, "vi"),
    (Lang::Cmn, "zh"),
    (Lang::Rus, "ru"),
    (Lang::Ara, "ar"),
    (Lang::Kor, "ko"),
    (Lang::Jpn, "ja"),
    (Lang::Hin, "hi"),
    (Lang::Tgl, "tl"),
    (Lang::Pol, "pl"),
    (Lang::Ukr, "uk"),
];

/// Below this many letters whatlang's guess is noise; fall back to what we
/// already know about the conversation or the browser.
const MIN_LETTERS: usize = 12;

pub struct LanguageDetector {
    detector: Detector,
}

impl Default for LanguageDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl LanguageDetector {
    pub fn new() -> Self {
        let allow = LANGS.iter().map(|(l, _)| *l).collect();
        LanguageDetector {
            detector: Detector::with_allowlist(allow),
        }
    }

    /// The ISO 639-1 code of `text`'s language and how sure whatlang is (0..1).
    /// Short or unreliable text takes `previous` (the conversation's language
    /// so far), then `browser` (a BCP 47 tag such as `es-MX`), then English.
    pub fn detect(
        &self,
        text: &str,
        previous: Option<&str>,
        browser: Option<&str>,
    ) -> (String, f64) {
        let letters = text.chars().filter(|c| c.is_alphabetic()).count();
        let guess = self.detector.detect(text).and_then(|info| {
            let code = LANGS.iter().find(|(l, _)| *l == info.lang())?.1;
            Some((code, info.confidence(), info.is_reliable()))
        });
        match guess {
            Some((code, confidence, reliable)) if letters >= MIN_LETTERS && reliable => {
                (code.to_string(), confidence)
            }
            _ => {
                let fallback = previous
                    .map(str::to_string)
                    .or_else(|| browser.and_then(primary_subtag))
                    .unwrap_or_else(|| "en".to_string());
                (fallback, guess.map(|g| g.1).unwrap_or(0.0))
            }
        }
    }
}

/// `es-MX` -> `es`, when it is a language we know. The tag comes from the
/// browser, so anything else is ignored rather than trusted.
pub fn primary_subtag(tag: &str) -> Option<String> {
    let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
    LANGS
        .iter()
        .any(|(_, code)| *code == primary)
        .then_some(primary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_clear_sentences() {
        let d = LanguageDetector::new();
        for (text, want) in [
            ("What time do you open on Saturday morning?", "en"),
            ("¿A qué hora abren el sábado por la mañana?", "es"),
            ("Est-ce que vous acceptez les nouveaux patients ?", "fr"),
        ] {
            assert_eq!(d.detect(text, None, None).0, want, "{text}");
        }
    }

    #[test]
    fn short_text_falls_back_to_conversation_then_browser() {
        let d = LanguageDetector::new();
        assert_eq!(d.detect("ok", Some("es"), Some("fr-FR")).0, "es");
        assert_eq!(d.detect("ok", None, Some("fr-FR")).0, "fr");
        assert_eq!(d.detect("ok", None, Some("xx-YY")).0, "en");
        assert_eq!(d.detect("gracias", None, None).0, "en");
    }

    #[test]
    fn browser_language_tags() {
        assert_eq!(primary_subtag("es-MX").as_deref(), Some("es"));
        assert_eq!(primary_subtag("FR").as_deref(), Some("fr"));
        // Once a panic in the server: a byte slice through a multi-byte character.
        assert_eq!(primary_subtag("aé"), None);
        assert_eq!(primary_subtag(""), None);
        assert_eq!(primary_subtag("<script>"), None);
    }
}
