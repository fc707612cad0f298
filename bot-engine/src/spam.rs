//! Spam scoring for a clinic's chat box.
//!
//! What reaches a clinic's widget is mostly vendor pitches (SEO, marketing,
//! web design), link drops, prize and crypto scams, and the same text pasted
//! again and again. The score combines those signals in a logistic function so
//! that a single weak signal never blocks a patient: blocking a patient costs
//! far more than letting one spam message through.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;
use std::sync::LazyLock;

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|io|ru|xyz|top|biz|info|click|shop)\b")
        .expect("url regex")
});

/// Pitch vocabulary, with weights. Phrases, not single words, where a single
/// word would also occur in a patient's question ("free", "offer").
const PITCH: &[(&str, f32)] = &[
    ("seo", 1.6),
    ("backlink", 2.0),
    ("search engine", 1.4),
    ("rank your", 1.6),
    ("first page of google", 2.0),
    ("google ranking", 1.8),
    ("web design", 1.3),
    ("website design", 1.3),
    ("redesign your website", 1.8),
    ("digital marketing", 1.6),
    ("marketing services", 1.6),
    ("lead generation", 1.6),
    ("more patients", 0.8),
    ("increase your revenue", 1.4),
    ("our agency", 1.2),
    ("business proposal", 1.2),
    ("guest post", 1.6),
    ("crypto", 1.4),
    ("bitcoin", 1.4),
    ("investment opportunity", 1.8),
    ("casino", 1.8),
    ("viagra", 2.0),
    ("cialis", 2.0),
    ("you have won", 2.0),
    ("you've won", 2.0),
    ("winner", 1.0),
    ("claim your prize", 2.2),
    ("prize", 1.0),
    ("cash prize", 1.8),
    ("gift card", 1.0),
    ("click here", 1.6),
    ("click the link", 1.4),
    ("buy now", 1.4),
    ("limited time offer", 1.6),
    ("act now", 1.2),
    ("100% free", 1.4),
    ("free trial", 1.0),
    ("unsubscribe", 1.2),
    ("loan", 0.8),
    ("dating", 1.2),
    ("whatsapp me", 1.4),
    ("telegram", 1.0),
    ("txt stop", 1.6),
    ("call now", 1.0),
];

pub struct SpamScorer {
    pitch: AhoCorasick,
}

impl Default for SpamScorer {
    fn default() -> Self {
        Self::new()
    }
}

impl SpamScorer {
    pub fn new() -> Self {
        SpamScorer {
            pitch: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(PITCH.iter().map(|(p, _)| p))
                .expect("pitch automaton"),
        }
    }

    /// A score in 0..1. `repeats` is how many times this conversation already
    /// sent the same text; `recent` how many messages it sent in the last
    /// minute.
    pub fn score(&self, text: &str, repeats: usize, recent: usize) -> f32 {
        let mut z = -4.0f32;
        let bytes = text.as_bytes();
        let mut seen = [false; PITCH.len()];
        for m in self.pitch.find_iter(text) {
            let ok_before = m.start() == 0 || !bytes[m.start() - 1].is_ascii_alphanumeric();
            let ok_after = m.end() == bytes.len() || !bytes[m.end()].is_ascii_alphanumeric();
            let i = m.pattern().as_usize();
            if ok_before && ok_after && !seen[i] {
                seen[i] = true;
                z += PITCH[i].1;
            }
        }
        let urls = URL.find_iter(text).count();
        z += 1.8 * urls.min(3) as f32;
        let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
        if letters.len() >= 20 {
            let upper = letters.iter().filter(|c| c.is_uppercase()).count();
            if upper * 10 >= letters.len() * 7 {
                z += 1.2;
            }
        }
        if text.contains("$$$") || text.contains("!!!") {
            z += 0.8;
        }
        if text.chars().count() > 1200 {
            z += 0.8;
        }
        z += 1.5 * repeats.min(3) as f32;
        if recent > 8 {
            z += 0.5 * (recent - 8).min(6) as f32;
        }
        1.0 / (1.0 + (-z).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patients_score_low() {
        let s = SpamScorer::new();
        for text in [
            "what time do you open on saturday?",
            "Do you take Blue Cross insurance?",
            "I need a refill of my lisinopril, is the pharmacy on Main St ok?",
            "Can I get a free flu shot?",
            "I HAVE A TERRIBLE TOOTHACHE PLEASE HELP",
            "My results are on the portal at https://portal.example.org, can someone explain them?",
        ] {
            assert!(s.score(text, 0, 1) < 0.5, "{text}: {}", s.score(text, 0, 1));
        }
    }

    #[test]
    fn pitches_and_link_drops_score_high() {
        let s = SpamScorer::new();
        for text in [
            "We can get your clinic to the first page of Google with our SEO and backlink packages, visit www.rankfast.biz",
            "Congratulations! You have won a $1000 gift card. Click here to claim your prize: http://bit.ly/x",
            "Hi, our agency offers digital marketing services and web design. Get more patients! www.agency.top",
        ] {
            assert!(s.score(text, 0, 1) > 0.9, "{text}: {}", s.score(text, 0, 1));
        }
    }

    #[test]
    fn repetition_raises_the_score() {
        let s = SpamScorer::new();
        let text = "check out my page www.example.xyz";
        assert!(s.score(text, 3, 12) > s.score(text, 0, 1));
    }
}
