//! The dictionary layer: names no trigger announces ("can Maria Lopez call
//! me back"), found by looking capitalised words up in lists of common US
//! first names and surnames. The same lexicon also tells the context layer
//! whether the word after "I'm" or "from" is a name at all.
//!
//! Many names are also words ("Will", "May", "Brown"), and any capitalised
//! word starts a sentence, so a dictionary hit alone is weak evidence: a lone
//! name counts only mid-sentence and only when it is not an everyday word,
//! while two names side by side ("Will Smith") count anywhere.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind, StartKind};

use crate::text::{self, Hit, Token, word_at};
use crate::{Detector, Kind, Span};

/// A common first name.
pub(crate) const FIRST: u8 = 1;
/// A common surname.
pub(crate) const LAST: u8 = 2;
/// A name that is also an everyday word: not a name on its own.
pub(crate) const AMBIG: u8 = 4;
/// Never a name or a place after a weak trigger.
pub(crate) const STOP: u8 = 8;
/// A weekday or month.
pub(crate) const TIME: u8 = 16;
/// A surname by its shape, not by a list ([`Lexicon::lookup_compound`]).
const GUESSED: u8 = 32;

const SCORE_PAIR: f32 = 0.75;
const SCORE_FIRST_PLUS: f32 = 0.65;
const SCORE_FIRST: f32 = 0.6;
const SCORE_LAST: f32 = 0.5;
/// Names guessed from shape or company rather than found in a list: below
/// a confident model's street or town, so that where both cover a word the
/// place's kind wins and the address stays one span ("8190 Lake Blvd, Lake
/// McClureton MA").
const SCORE_GUESS: f32 = 0.45;

const TIME_WORDS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "lunes",
    "martes",
    "miercoles",
    "jueves",
    "viernes",
    "sabado",
    "domingo",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
    "today",
    "tomorrow",
    "yesterday",
    "tonight",
    "weekend",
    "christmas",
    "easter",
    "thanksgiving",
];

/// Lowercase name-list particles that may sit inside a name ("José de la
/// Cruz", "Ludwig van Beethoven").
const PARTICLES: &[&str] = &[
    "de", "del", "la", "las", "los", "van", "von", "der", "den", "da", "di", "du", "le", "bin",
    "ibn", "al", "y",
];

/// Every word the name layers know, with its flags.
pub(crate) struct Lexicon {
    ac: AhoCorasick,
    flags: Vec<u8>,
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(Lexicon::build);

pub(crate) fn lexicon() -> &'static Lexicon {
    &LEXICON
}

fn list(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

impl Lexicon {
    fn build() -> Lexicon {
        let mut words: std::collections::HashMap<&str, u8> = std::collections::HashMap::new();
        let files = [
            (FIRST, include_str!("../data/first_names.txt")),
            (LAST, include_str!("../data/last_names.txt")),
            (AMBIG, include_str!("../data/ambiguous_names.txt")),
            (STOP, include_str!("../data/not_names.txt")),
        ];
        let listed = files
            .iter()
            .flat_map(|&(flag, file)| list(file).map(move |w| (flag, w)));
        for (flag, w) in listed.chain(TIME_WORDS.iter().map(|&w| (TIME, w))) {
            *words.entry(w).or_default() |= flag;
        }
        let mut entries: Vec<(&str, u8)> = words.into_iter().collect();
        entries.sort_unstable();
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .start_kind(StartKind::Anchored)
            .build(entries.iter().map(|(w, _)| w))
            .expect("the name lists are small enough for Aho-Corasick");
        Lexicon {
            ac,
            flags: entries.into_iter().map(|(_, f)| f).collect(),
        }
    }

    /// The flags of `word` (any case; common Latin accents folded), 0 when
    /// unknown.
    pub(crate) fn lookup(&self, word: &str) -> u8 {
        if word.is_ascii() {
            return self.lookup_ascii(word);
        }
        let mut folded = String::with_capacity(word.len());
        for c in word.chars() {
            match fold(c) {
                Some(a) => folded.push(a),
                None => return 0,
            }
        }
        self.lookup_ascii(&folded)
    }

    /// Like [`lookup`](Self::lookup), and a word the lists do not hold
    /// whole is a surname ([`LAST`], marked [`GUESSED`]) when it is built
    /// like one: double-barrelled with a listed name among its parts
    /// ("Nakamura-Smith", "Garcia-Lopez"), an Irish or Scottish prefix
    /// before the rest ("O'Neil", "D'Angelo", "McAllister", "Mcclain"; not
    /// "Mac", which starts "MacBook"), or a surname ending of another
    /// language ([`surname_shaped`]).
    pub(crate) fn lookup_compound(&self, word: &str) -> u8 {
        let f = self.lookup(word);
        if f != 0 {
            return f;
        }
        if word.contains('-') {
            let parts: Vec<&str> = word.split('-').collect();
            // "X-Ray" is no name: every part a capitalised word of two
            // letters or more.
            let capitalised = parts.iter().all(|p| {
                p.chars().count() >= 2 && p.chars().next().is_some_and(char::is_uppercase)
            });
            let named = parts.iter().any(|p| {
                let g = self.lookup(p);
                g & (FIRST | LAST) != 0 && g & (STOP | TIME | AMBIG) == 0
            });
            return if capitalised && named {
                LAST | GUESSED
            } else {
                0
            };
        }
        for prefix in ["O'", "O’", "D'", "D’", "Mc"] {
            if let Some(rest) = word.strip_prefix(prefix)
                && rest.chars().count() >= 3
                && (prefix == "Mc" || rest.chars().next().is_some_and(char::is_uppercase))
                && rest.chars().skip(1).all(char::is_lowercase)
            {
                return LAST | GUESSED;
            }
        }
        if surname_shaped(word) {
            LAST | GUESSED
        } else {
            0
        }
    }

    fn lookup_ascii(&self, word: &str) -> u8 {
        let input = Input::new(word).anchored(Anchored::Yes);
        match self.ac.find(input) {
            Some(m) if m.end() == word.len() => self.flags[m.pattern().as_usize()],
            _ => 0,
        }
    }

    /// The dictionary layer itself.
    pub(crate) fn scan(&self, text: &str, out: &mut Vec<Hit>) {
        // Names are capitalised here; lowercase names need a trigger, which
        // the context layer handles.
        if !text.chars().any(char::is_uppercase) {
            return;
        }
        let mut toks = Vec::with_capacity(32);
        text::tokens(text, &mut toks);
        let flags: Vec<u8> = toks
            .iter()
            .map(|t| {
                if t.cap && !t.has_digit {
                    self.lookup_compound(&text[t.start..t.end])
                } else {
                    0
                }
            })
            .collect();
        let name_flags = |f: u8| f & (FIRST | LAST) != 0 && f & STOP == 0;
        let found_from = out.len();
        let mut i = 0;
        while i < toks.len() {
            let (t, f) = (toks[i], flags[i]);
            // An unknown capitalised word mid-sentence before a listed
            // surname is a given name no list holds ("with Ngozi Johnson").
            if let Some(n) = toks.get(i + 1)
                && !t.sentence_start
                && unknown_name_like(text, &t, f)
                && text[t.start..t.end].chars().count() >= 3
                && adjacent(text, &t, n)
                && n.cap
                && flags[i + 1] & LAST != 0
                && flags[i + 1] & (AMBIG | STOP | TIME) == 0
            {
                out.push(Hit::new(t.start, n.end, Kind::Name, SCORE_GUESS));
                i += 2;
                continue;
            }
            if !t.cap || !name_flags(f) {
                i += 1;
                continue;
            }
            let len = text[t.start..t.end].chars().count();
            // A middle initial may sit between two names: "John F. Kennedy".
            let mut j = i + 1;
            if j + 1 < toks.len()
                && is_initial(text, &toks[j])
                && adjacent(text, &t, &toks[j])
                && adjacent(text, &toks[j], &toks[j + 1])
            {
                j += 1;
            }
            let next = toks.get(j).filter(|n| adjacent(text, &toks[j - 1], n));
            if let Some(n) = next.filter(|n| n.cap && !n.has_digit) {
                let g = flags[j];
                if name_flags(g) && (f & AMBIG == 0 || g & AMBIG == 0) {
                    let mut last = j;
                    if let Some(k) = toks.get(j + 1)
                        && adjacent(text, n, k)
                        && k.cap
                        && name_flags(flags[j + 1])
                        && flags[j + 1] & AMBIG == 0
                    {
                        last = j + 1;
                    }
                    out.push(Hit::new(t.start, toks[last].end, Kind::Name, SCORE_PAIR));
                    i = last + 1;
                    continue;
                }
                // A known first name before an unknown capitalised word is
                // most likely a first name and a rarer surname; one more
                // such word may follow ("Thu Trang Nguyen").
                if f & FIRST != 0 && f & AMBIG == 0 && unknown_name_like(text, n, g) && len >= 3 {
                    let mut last = j;
                    if let Some(k) = toks.get(j + 1)
                        && adjacent(text, n, k)
                        && (unknown_name_like(text, k, flags[j + 1])
                            || (name_flags(flags[j + 1]) && flags[j + 1] & AMBIG == 0))
                    {
                        last = j + 1;
                    }
                    out.push(Hit::new(
                        t.start,
                        toks[last].end,
                        Kind::Name,
                        SCORE_FIRST_PLUS,
                    ));
                    i = last + 1;
                    continue;
                }
            }
            // A lone name inside a longer proper noun is part of a place or
            // an institution: "San Antonio", "St. Louis", "Mercy Hospital".
            let in_proper_noun = (i > 0
                && toks[i - 1].cap
                && !toks[i - 1].sentence_start
                && flags[i - 1] & (FIRST | LAST) == 0
                && matches!(&text[toks[i - 1].end..t.start], " " | ". "))
                || next.is_some_and(|n| n.cap && flags[j] & STOP != 0);
            let lone_ok =
                !(f & AMBIG != 0 || t.sentence_start || in_proper_noun || (t.all_caps && len <= 3));
            if lone_ok && f & FIRST != 0 && len >= 3 {
                out.push(Hit::new(t.start, t.end, Kind::Name, SCORE_FIRST));
            } else if lone_ok && len >= 4 {
                out.push(Hit::new(t.start, t.end, Kind::Name, SCORE_LAST));
            }
            i += 1;
        }
        self.lists(text, &toks, &flags, found_from, out);
        // A name that rests on a guessed surname is a guess too.
        for h in out[found_from..].iter_mut() {
            let guessed = toks
                .iter()
                .zip(&flags)
                .any(|(t, &f)| f & GUESSED != 0 && h.start <= t.start && t.end <= h.end);
            if guessed {
                h.score = h.score.min(SCORE_GUESS);
            }
        }
    }

    /// Names joined to a name already found in a list are names too, even
    /// when no list holds them: "Rachel and Tomasz", "Priya & Olu",
    /// "Ingvarsdóttir, Mcclain and Ramirez" (commas count only in a list
    /// that ends with "and" or "&"). The word before a found name is taken
    /// only mid-sentence.
    fn lists(&self, text: &str, toks: &[Token], flags: &[u8], from: usize, out: &mut Vec<Hit>) {
        let mut found: Vec<(usize, usize)> = out[from..]
            .iter()
            .filter(|h| h.kind == Kind::Name)
            .map(|h| (h.start, h.end))
            .collect();
        if found.is_empty() {
            return;
        }
        // joins[a]: the token joined to token a as the next list member,
        // and whether the join is a comma.
        let joins: Vec<Option<(usize, bool)>> = (0..toks.len())
            .map(|a| {
                let gap_to = |b: usize| toks.get(b).map(|t| &text[toks[a].end..t.start]);
                match gap_to(a + 1) {
                    Some(" & ") | Some(", & ") => return Some((a + 1, false)),
                    Some(", ") => return Some((a + 1, true)),
                    _ => {}
                }
                let and = toks.get(a + 1)?;
                let gap = &text[toks[a].end..and.start];
                (text[and.start..and.end].eq_ignore_ascii_case("and")
                    && matches!(gap, " " | ", ")
                    && toks
                        .get(a + 2)
                        .is_some_and(|b| text[and.end..b.start] == *" "))
                .then_some((a + 2, false))
            })
            .collect();
        // A comma join counts when the list goes on to an "and".
        let ends_in_and = |mut a: usize| {
            for _ in 0..8 {
                match joins[a] {
                    Some((_, false)) => return true,
                    Some((b, true)) => a = b,
                    None => return false,
                }
            }
            false
        };
        let member = |t: &Token, f: u8| {
            unknown_name_like(text, t, f) || (t.cap && f & (FIRST | LAST) != 0 && f & STOP == 0)
        };
        let take = |t: Token, found: &mut Vec<(usize, usize)>, out: &mut Vec<Hit>| {
            found.push((t.start, t.end));
            out.push(Hit::new(t.start, t.end, Kind::Name, SCORE_GUESS));
        };
        let covered = |t: &Token, found: &[(usize, usize)]| {
            found.iter().any(|&(s, e)| s < t.end && t.start < e)
        };
        for a in 0..toks.len() {
            let Some((b, comma)) = joins[a] else { continue };
            if comma && !ends_in_and(a) {
                continue;
            }
            let tb = toks[b];
            if found.iter().any(|&(_, e)| e == toks[a].end)
                && !covered(&tb, &found)
                && member(&tb, flags[b])
            {
                take(tb, &mut found, out);
            }
        }
        for a in (0..toks.len()).rev() {
            let Some((b, comma)) = joins[a] else { continue };
            if comma && !ends_in_and(a) {
                continue;
            }
            let ta = toks[a];
            if found.iter().any(|&(s, _)| s == toks[b].start)
                && !covered(&ta, &found)
                && !ta.sentence_start
                && member(&ta, flags[a])
            {
                take(ta, &mut found, out);
            }
        }
    }
}

/// Endings that mark a word as a surname in the languages whose surnames
/// no US list holds: Nordic patronymics and place names ("Salómonsson",
/// "Ingvarsdóttir", "Mikaelsen", "Åström"), Slavic ("Lovrić", "Vizirov",
/// "Kowalczyk", "Shevchenko"), Greek, Romanian, Turkish and Armenian.
const SURNAME_ENDINGS: &[&str] = &[
    "sson", "dóttir", "dottir", "ström", "strom", "qvist", "kvist", "gaard", "ić", "escu", "eanu",
    "opoulos", "akis", "idis", "wicz", "czyk", "owski", "ewski", "inski", "enko", "ovich", "evich",
    "ov", "ev", "ova", "sen", "berg", "stein", "yan", "oglu", "oğlu",
];

/// Whether a capitalised word no list holds ends the way surnames of other
/// languages do (see [`SURNAME_ENDINGS`]), with at least two letters before
/// the ending and five in all.
fn surname_shaped(word: &str) -> bool {
    let mut chars = word.chars();
    if !chars.next().is_some_and(char::is_uppercase)
        || !chars.all(char::is_lowercase)
        || word.chars().count() < 5
    {
        return false;
    }
    let lower = word.to_lowercase();
    SURNAME_ENDINGS
        .iter()
        .any(|e| lower.ends_with(e) && lower[..lower.len() - e.len()].chars().count() >= 2)
}

/// A capitalised word that no list knows and that does not read as an
/// ordinary word: after a known first name, likely a rarer surname.
fn unknown_name_like(text: &str, t: &Token, flags: u8) -> bool {
    t.cap
        && !t.has_digit
        && !t.all_caps
        && flags == 0
        && text[t.start..t.end].chars().count() >= 2
        && !looks_like_word(&text[t.start..t.end])
}

/// Only a single space (or a space after an initial's full stop) between
/// two tokens: names do not run across commas or lines.
fn adjacent(text: &str, a: &Token, b: &Token) -> bool {
    let gap = &text[a.end..b.start];
    gap == " " || (gap == ". " && is_initial(text, a))
}

fn is_initial(text: &str, t: &Token) -> bool {
    t.end - t.start == 1 && t.cap && text[t.end..].starts_with(". ")
}

/// ASCII for the accented Latin letters common in names; `None` for
/// anything else, which then matches no list entry.
fn fold(c: char) -> Option<char> {
    Some(match c {
        'a'..='z' | 'A'..='Z' | '\'' | '-' => c,
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' | 'Å' => 'a',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
        'ñ' | 'Ñ' => 'n',
        'ç' | 'Ç' => 'c',
        '’' => '\'',
        _ => return None,
    })
}

/// Whether a capitalised word nobody listed reads as an ordinary English
/// word (by its ending) rather than a name: "I'm Calling", "I am Diabetic".
pub(crate) fn looks_like_word(word: &str) -> bool {
    const ENDINGS: &[&str] = &[
        "ing", "ed", "ly", "ic", "ful", "ous", "ive", "ish", "ese", "able", "ible", "ness", "ment",
        "tion", "less", "ant", "ent", "ary", "ory", "ogy", "acy", "ics", "ist",
    ];
    word.chars().count() < 2
        || ENDINGS.iter().any(|e| {
            let cut = word.len().saturating_sub(e.len());
            word.len() > e.len() + 2
                && word.is_char_boundary(cut)
                && word[cut..].eq_ignore_ascii_case(e)
        })
}

/// How much a trigger vouches for the word after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strength {
    /// "my name is", "Dr.", "signed": any capitalised word not known to be
    /// something else; with `lower`, lowercase words too ("my name is john").
    Strong { lower: bool },
    /// "I'm", "this is", "my son": a listed name, or an unlisted capitalised
    /// word that does not read as an ordinary word.
    Weak,
}

/// The name right after a trigger that ends at byte `at`, as a byte range.
pub(crate) fn capture_name(
    lex: &Lexicon,
    text: &str,
    at: usize,
    strength: Strength,
) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut i = at;
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b':' | b',' | b'.' | b'-') {
        i += 1;
    }
    if i == at && i < bytes.len() {
        // The trigger must be followed by a separator, not run into the name.
        return None;
    }
    let c = text::next_char(text, i).filter(|c| c.is_alphabetic())?;
    let (end, has_digit) = word_at(text, i);
    let word = &text[i..end];
    let f = lex.lookup(word);
    let named = f & (FIRST | LAST) != 0;
    if has_digit || f & STOP != 0 || (f & TIME != 0 && f & FIRST == 0) {
        return None;
    }
    let lower_mode = !c.is_uppercase();
    if lower_mode {
        // People type "hi im jake": after a weak trigger a lowercase word
        // still counts when the lists know it as a name and as nothing else.
        let listed_name = named && f & AMBIG == 0;
        let allowed = match strength {
            Strength::Strong { lower } => lower,
            Strength::Weak => listed_name,
        };
        if !allowed || word.chars().count() < 2 {
            return None;
        }
    } else {
        let all_caps = word.chars().all(|c| !c.is_lowercase());
        if all_caps && word.chars().count() <= 3 && !named {
            return None;
        }
        // After a weak trigger an unlisted word must look like a name: not
        // an ordinary word by its ending, and not shouted ("SPEAK TO SOMEONE").
        if strength == Strength::Weak && !named && (looks_like_word(word) || all_caps) {
            return None;
        }
    }
    let mut last_end = end;
    let mut taken = 1;
    let mut pos = end;
    let mut after_initial = word.chars().count() == 1;
    while taken < 4 {
        let gap = if text[pos..].starts_with(' ') {
            1
        } else if after_initial && text[pos..].starts_with(". ") {
            2
        } else {
            break;
        };
        let s = pos + gap;
        let Some(c) = text::next_char(text, s).filter(|c| c.is_alphabetic()) else {
            break;
        };
        let (e, has_digit) = word_at(text, s);
        let w = &text[s..e];
        if has_digit {
            break;
        }
        let g = lex.lookup(w);
        if c.is_uppercase() {
            if g & STOP != 0 || (g & TIME != 0 && g & FIRST == 0) {
                break;
            }
            if lower_mode && g & (FIRST | LAST) == 0 {
                break;
            }
            last_end = e;
            pos = e;
            taken += 1;
            after_initial = w.chars().count() == 1;
        } else if PARTICLES.contains(&w) && !lower_mode {
            // Only inside a name: a capitalised word must follow.
            pos = e;
        } else if lower_mode && g & (FIRST | LAST) != 0 && g & (AMBIG | STOP) == 0 {
            last_end = e;
            pos = e;
            taken += 1;
        } else {
            break;
        }
    }
    Some((i, last_end))
}

/// A place name (city, town) right after "live in", "from" and the like.
pub(crate) fn capture_place(lex: &Lexicon, text: &str, at: usize) -> Option<(usize, usize)> {
    let i = at + text[at..].len() - text[at..].trim_start_matches([' ', '\t']).len();
    if i == at {
        return None;
    }
    let mut end = None;
    let mut pos = i;
    for _ in 0..3 {
        text::next_char(text, pos).filter(|c| c.is_uppercase())?;
        let (e, has_digit) = word_at(text, pos);
        let w = &text[pos..e];
        let f = lex.lookup(w);
        let first = end.is_none();
        let abbreviation = matches!(w, "St" | "Ft" | "Mt") && text[e..].starts_with(". ");
        let all_caps = w.chars().all(|c| !c.is_lowercase());
        if has_digit
            || f & (STOP | TIME) != 0
            || (first && (f & FIRST != 0 && f & LAST == 0))
            || (all_caps && w.len() <= 3 && !abbreviation)
            || (!abbreviation && (w.chars().count() < 3 || looks_like_word(w)))
        {
            break;
        }
        end = Some(e);
        let gap = if abbreviation { 2 } else { 1 };
        if !text[e..].starts_with(if abbreviation { ". " } else { " " }) {
            break;
        }
        match text::next_char(text, e + gap) {
            Some(n) if n.is_uppercase() => pos = e + gap,
            _ => break,
        }
    }
    end.map(|e| (i, e))
}

/// The dictionary layer as a stand-alone [`Detector`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DictionaryLayer;

impl Detector for DictionaryLayer {
    fn detect(&self, text: &str, out: &mut Vec<Span>) {
        let mut hits = Vec::new();
        lexicon().scan(text, &mut hits);
        text::push_spans(text, &hits, out);
    }
}
