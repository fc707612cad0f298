//! Red flags: phrases that mean a patient may be in danger right now.
//!
//! They are matched literally, before and independently of the model, so an
//! emergency is recognised even when the classifier would hesitate. Matching
//! runs on folded text (lower case, no accents, one kind of apostrophe) because
//! frightened people do not type carefully.

use aho_corasick::{AhoCorasick, MatchKind};

pub struct RedFlags {
    automaton: Option<AhoCorasick>,
    phrases: Vec<String>,
}

impl RedFlags {
    pub fn new<'a>(triggers: impl IntoIterator<Item = &'a str>) -> RedFlags {
        let phrases: Vec<String> = triggers
            .into_iter()
            .map(fold)
            .filter(|p| !p.is_empty())
            .collect();
        let automaton = (!phrases.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&phrases)
                .expect("red-flag phrases build an automaton")
        });
        RedFlags { automaton, phrases }
    }

    /// The first trigger phrase found as whole words in `text`.
    pub fn find(&self, text: &str) -> Option<&str> {
        let automaton = self.automaton.as_ref()?;
        let folded = fold(text);
        let bytes = folded.as_bytes();
        automaton
            .find_iter(&folded)
            .find(|m| {
                let before = m.start() == 0 || !bytes[m.start() - 1].is_ascii_alphanumeric();
                let after = m.end() == bytes.len() || !bytes[m.end()].is_ascii_alphanumeric();
                before && after
            })
            .map(|m| self.phrases[m.pattern().as_usize()].as_str())
    }
}

/// Lower case, accents stripped, curly apostrophes straightened, runs of
/// white space collapsed.
pub(crate) fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'á' | 'à' | 'ä' | 'â' | 'ã' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'õ' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            '’' | '‘' | '`' => '\'',
            c => c,
        };
        if c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> RedFlags {
        RedFlags::new([
            "chest pain",
            "can't breathe",
            "dolor de pecho",
            "stroke",
            "quitarme la vida",
        ])
    }

    #[test]
    fn finds_phrases_case_and_accent_insensitively() {
        let f = flags();
        assert_eq!(f.find("I have crushing CHEST   PAIN"), Some("chest pain"));
        assert_eq!(f.find("I can’t breathe"), Some("can't breathe"));
        assert_eq!(
            f.find("Tengo un dolor de pécho fuerte"),
            Some("dolor de pecho")
        );
        assert_eq!(f.find("quiero quitarme la vida"), Some("quitarme la vida"));
    }

    #[test]
    fn needs_whole_words() {
        let f = flags();
        assert_eq!(f.find("my backstroke lessons"), None);
        assert_eq!(f.find("what time do you open on saturday?"), None);
        assert_eq!(RedFlags::new([]).find("chest pain"), None);
    }
}
