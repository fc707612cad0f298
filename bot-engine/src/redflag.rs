//! Red flags: phrases that mean a patient may be in danger right now.
//!
//! They are matched literally, before and independently of the model, so an
//! emergency is recognised even when the classifier would hesitate. Matching
//! runs on folded text (lower case, no accents, one kind of apostrophe) because
//! frightened people do not type carefully.
//!
//! A trigger is a phrase ("chest pain") or a combination of parts joined by
//! `+`, each part a list of alternatives joined by `|`:
//! `"took|swallowed + too many|whole bottle + pills|tablets"` fires when the
//! message holds one alternative of every part, in any order. An emergency
//! is told in many words ("my son swallowed all of my sleeping pills"), and
//! a list of whole phrases cannot hold every way of saying it; the parts
//! can, and requiring all of them keeps "I took too many days off" calm.

use aho_corasick::{AhoCorasick, MatchKind};

pub struct RedFlags {
    /// Every distinct alternative of every part, folded.
    automaton: Option<AhoCorasick>,
    /// For each alternative, the (trigger, part) pairs it satisfies.
    satisfies: Vec<Vec<(usize, usize)>>,
    /// Each trigger as written, and how many parts it has.
    triggers: Vec<(String, usize)>,
}

impl RedFlags {
    pub fn new<'a>(triggers: impl IntoIterator<Item = &'a str>) -> RedFlags {
        let mut alternatives: Vec<String> = Vec::new();
        let mut satisfies: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut kept = Vec::new();
        for trigger in triggers {
            let parts: Vec<Vec<String>> = trigger
                .split('+')
                .map(|part| {
                    part.split('|')
                        .map(fold)
                        .filter(|a| !a.is_empty())
                        .collect::<Vec<_>>()
                })
                .filter(|alts| !alts.is_empty())
                .collect();
            if parts.is_empty() {
                continue;
            }
            let t = kept.len();
            for (p, alts) in parts.iter().enumerate() {
                for alt in alts {
                    let i = match alternatives.iter().position(|a| a == alt) {
                        Some(i) => i,
                        None => {
                            alternatives.push(alt.clone());
                            satisfies.push(Vec::new());
                            alternatives.len() - 1
                        }
                    };
                    satisfies[i].push((t, p));
                }
            }
            kept.push((trigger.trim().to_string(), parts.len()));
        }
        // Overlapping matches: "pills" must still count inside "too many
        // pills", so every alternative is found wherever it occurs.
        let automaton = (!alternatives.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&alternatives)
                .expect("red-flag phrases build an automaton")
        });
        RedFlags {
            automaton,
            satisfies,
            triggers: kept,
        }
    }

    /// The first trigger (in the order given) whose every part is found as
    /// whole words in `text`.
    pub fn find(&self, text: &str) -> Option<&str> {
        let automaton = self.automaton.as_ref()?;
        let folded = fold(text);
        let bytes = folded.as_bytes();
        let mut found: Vec<Vec<bool>> = self
            .triggers
            .iter()
            .map(|(_, parts)| vec![false; *parts])
            .collect();
        for m in automaton.find_overlapping_iter(&folded) {
            let before = m.start() == 0 || !bytes[m.start() - 1].is_ascii_alphanumeric();
            let after = m.end() == bytes.len() || !bytes[m.end()].is_ascii_alphanumeric();
            if before && after {
                for &(t, p) in &self.satisfies[m.pattern().as_usize()] {
                    found[t][p] = true;
                }
            }
        }
        found
            .iter()
            .position(|parts| parts.iter().all(|&f| f))
            .map(|t| self.triggers[t].0.as_str())
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
        assert_eq!(RedFlags::new(["", " | + "]).find("chest pain"), None);
    }

    #[test]
    fn a_combination_needs_one_alternative_of_every_part_in_any_order() {
        let overdose = "took|swallowed + too many|all of|whole bottle + pills|tablets";
        let f = RedFlags::new(["chest pain", overdose]);
        for text in [
            "my son swallowed all of my sleeping pills",
            "TOOK TOO MANY TABLETS",
            "pills, the whole bottle, he took them",
            // Inside another alternative's match ("too many pills").
            "she took too many pills",
        ] {
            assert_eq!(f.find(text), Some(overdose), "{text}");
        }
        for text in [
            "I took too many days off",
            "can I get more tablets, I ran out",
            "how many pills should I take",
            "I tooktoo many pills",
        ] {
            assert_ne!(f.find(text), Some(overdose), "{text}");
        }
        // The first trigger in the given order wins.
        assert_eq!(
            f.find("chest pain after I took too many pills"),
            Some("chest pain")
        );
    }
}
