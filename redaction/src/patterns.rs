//! The pattern layer: identifiers whose shape, and where there is one their
//! check digit, is evidence enough without a trigger word. Shapes that are
//! ambiguous on their own (a bare nine-digit number, "3/4") are left to the
//! context layer.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder};

use crate::checksum::{dea_valid, iban_valid, luhn_valid, mbi_valid, ssn_plausible, vin_valid};
use crate::names::{self, Lexicon};
use crate::text::{self, Digits, Hit, each_capture, each_match, number_bounded, word_bounded};
use crate::{Detector, Kind, Span};

pub(crate) const MONTHS: &str = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre";

const STATES: &str = "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC|PR|GU|VI";

/// The state codes that are not also everyday words ("in", "or", "me",
/// "hi", "ok" are left out): those count in lowercase too ("austin tx
/// 78704").
const LOWER_STATES: &str = "ak|az|ar|ca|ct|fl|ga|ia|il|ks|ky|md|mn|nc|nd|nh|nj|nm|nv|ny|ri|sc|sd|tn|tx|ut|va|vt|wa|wi|wv|wy|dc";

const STATE_NAMES: &str = "alabama|alaska|arizona|arkansas|california|colorado|connecticut|delaware|florida|georgia|hawaii|idaho|illinois|indiana|iowa|kansas|kentucky|louisiana|maine|maryland|massachusetts|michigan|minnesota|mississippi|missouri|montana|nebraska|nevada|new hampshire|new jersey|new mexico|new york|north carolina|north dakota|ohio|oklahoma|oregon|pennsylvania|rhode island|south carolina|south dakota|tennessee|texas|utah|vermont|virginia|washington|west virginia|wisconsin|wyoming|puerto rico";

/// Street suffixes that are also everyday words ("a 2 hour drive", "2 more
/// ways"): an address ending in one needs capitalised street words.
const AMBIGUOUS_SUFFIXES: &[&str] = &[
    "dr", "drive", "ct", "court", "pl", "place", "way", "ter", "terrace", "cir", "circle", "sq",
    "square", "trl", "trail", "loop", "pike", "plaza", "alley", "aly", "cres", "crescent", "av",
];

/// Words that do not occur in street names but do sit between a number and
/// a suffix-like word in ordinary sentences.
const NOT_STREET_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "to",
    "of",
    "in",
    "on",
    "at",
    "for",
    "and",
    "or",
    "my",
    "your",
    "his",
    "her",
    "our",
    "their",
    "i",
    "we",
    "you",
    "is",
    "are",
    "was",
    "it",
    "times",
    "time",
    "tablets",
    "tablet",
    "pills",
    "pill",
    "mg",
    "ml",
    "days",
    "day",
    "weeks",
    "week",
    "hours",
    "hour",
    "minutes",
    "minute",
    "mins",
    "min",
    "miles",
    "mile",
    "blocks",
    "block",
    "more",
    "other",
    "different",
    "years",
    "year",
    "old",
    "people",
    "kids",
    "children",
    "visits",
    "from",
    "with",
    "by",
    "per",
    "every",
    "each",
    "hr",
    "km",
    "cars",
    "lanes",
    "lane",
    "way",
    "long",
    "short",
];

const SCORE_EMAIL: f32 = 0.95;
const SCORE_URL: f32 = 0.9;
const SCORE_BARE_DOMAIN: f32 = 0.7;
const SCORE_IP: f32 = 0.85;
const SCORE_PHONE: f32 = 0.8;
const SCORE_BARE_PHONE: f32 = 0.5;
const SCORE_TRUNK_PHONE: f32 = 0.49;
const SCORE_SSN: f32 = 0.85;
const SCORE_CARD: f32 = 0.9;
const SCORE_IBAN: f32 = 0.95;
const SCORE_DATE: f32 = 0.85;
const SCORE_AGE: f32 = 0.85;
const SCORE_ADDRESS: f32 = 0.8;
const SCORE_ZIP: f32 = 0.8;
/// A bare ZIP-shaped number whose neighbours say it is one.
const SCORE_ZIP_CONTEXT: f32 = 0.7;
const SCORE_CITY: f32 = 0.6;
const SCORE_COUNTRY: f32 = 0.55;

/// The city and county list, lowercase, one a line (see data/README.md).
const CITIES: &str = include_str!("../data/cities.txt");

/// Country names that are not also everyday words or given names ("Chad",
/// "Jordan", "Turkey", "China", "Georgia" and "Guinea" alone are left out).
/// Safe Harbor does not require them, but a country in a patient's message
/// is usually where they live or travelled, and costs little context.
const COUNTRIES: &[&str] = &[
    "afghanistan",
    "albania",
    "algeria",
    "andorra",
    "angola",
    "antigua and barbuda",
    "argentina",
    "armenia",
    "australia",
    "austria",
    "azerbaijan",
    "bahamas",
    "bahrain",
    "bangladesh",
    "barbados",
    "belarus",
    "belgium",
    "belize",
    "benin",
    "bhutan",
    "bolivia",
    "bosnia and herzegovina",
    "botswana",
    "brazil",
    "brunei",
    "bulgaria",
    "burkina faso",
    "burundi",
    "cambodia",
    "cameroon",
    "canada",
    "cape verde",
    "central african republic",
    "chile",
    "colombia",
    "comoros",
    "costa rica",
    "croatia",
    "cuba",
    "cyprus",
    "czech republic",
    "czechia",
    "denmark",
    "djibouti",
    "dominica",
    "dominican republic",
    "ecuador",
    "egypt",
    "el salvador",
    "equatorial guinea",
    "eritrea",
    "estonia",
    "eswatini",
    "ethiopia",
    "fiji",
    "finland",
    "france",
    "gabon",
    "gambia",
    "germany",
    "ghana",
    "greece",
    "grenada",
    "greenland",
    "guatemala",
    "guinea-bissau",
    "guyana",
    "haiti",
    "honduras",
    "hungary",
    "iceland",
    "india",
    "democratic republic of the congo",
    "republic of the congo",
    "congo",
    "people's republic of china",
    "republic of china",
    "republic of korea",
    "korea",
    "saint vincent and the grenadines",
    "sao tome and principe",
    "são tomé and príncipe",
    "lao people's democratic republic",
    "syrian arab republic",
    "libyan arab jamahiriya",
    "united republic of tanzania",
    "holy see",
    "turks and caicos islands",
    "wallis and futuna",
    "saint pierre and miquelon",
    "cocos (keeling) islands",
    "british indian ocean territory",
    "united states minor outlying islands",
    "heard island and mcdonald islands",
    "south georgia and the south sandwich islands",
    "svalbard & jan mayen islands",
    "falkland islands (malvinas)",
    "palestinian territory",
    "timor-leste",
    "indonesia",
    "iran",
    "iraq",
    "ireland",
    "italy",
    "jamaica",
    "japan",
    "kazakhstan",
    "kenya",
    "kiribati",
    "north korea",
    "south korea",
    "kosovo",
    "kuwait",
    "kyrgyzstan",
    "laos",
    "latvia",
    "lebanon",
    "lesotho",
    "liberia",
    "libya",
    "liechtenstein",
    "lithuania",
    "luxembourg",
    "madagascar",
    "malawi",
    "malaysia",
    "maldives",
    "mali",
    "malta",
    "marshall islands",
    "mauritania",
    "mauritius",
    "mexico",
    "micronesia",
    "federated states of micronesia",
    "moldova",
    "monaco",
    "mongolia",
    "montenegro",
    "morocco",
    "mozambique",
    "myanmar",
    "namibia",
    "nauru",
    "nepal",
    "netherlands",
    "kingdom of the netherlands",
    "netherlands antilles",
    "new zealand",
    "nicaragua",
    "nigeria",
    "north macedonia",
    "macedonia",
    "norway",
    "oman",
    "pakistan",
    "palau",
    "palestine",
    "panama",
    "papua new guinea",
    "paraguay",
    "peru",
    "philippines",
    "poland",
    "portugal",
    "qatar",
    "romania",
    "russia",
    "russian federation",
    "rwanda",
    "saint kitts and nevis",
    "saint lucia",
    "samoa",
    "san marino",
    "saudi arabia",
    "senegal",
    "serbia",
    "seychelles",
    "sierra leone",
    "singapore",
    "slovakia",
    "slovenia",
    "solomon islands",
    "somalia",
    "south africa",
    "south sudan",
    "spain",
    "sri lanka",
    "sudan",
    "suriname",
    "sweden",
    "switzerland",
    "syria",
    "taiwan",
    "tajikistan",
    "tanzania",
    "thailand",
    "timor-leste",
    "tonga",
    "trinidad and tobago",
    "tunisia",
    "turkmenistan",
    "tuvalu",
    "uganda",
    "ukraine",
    "united arab emirates",
    "united kingdom",
    "united states",
    "uruguay",
    "uzbekistan",
    "vanuatu",
    "venezuela",
    "vietnam",
    "viet nam",
    "yemen",
    "zambia",
    "zimbabwe",
    "england",
    "scotland",
    "wales",
    "puerto rico",
];
const SCORE_VIN: f32 = 0.9;
const SCORE_MBI: f32 = 0.85;
const SCORE_DEA: f32 = 0.85;

pub(crate) struct Patterns {
    email: Regex,
    url: Regex,
    bare_domain: Regex,
    ipv4: Regex,
    ipv6: Regex,
    phone: Regex,
    phone_bare: Regex,
    phone_intl: Regex,
    ssn: Regex,
    digit_run: Regex,
    iban: Regex,
    date_numeric: Regex,
    date_iso: Regex,
    date_month_year_numeric: Regex,
    date_month_day: Regex,
    date_day_month: Regex,
    date_month_year: Regex,
    age: Regex,
    address: Regex,
    po_box: Regex,
    military: Regex,
    street_intl: Regex,
    unit: Regex,
    phone_paren: Regex,
    phone_trunk: Regex,
    state_zip: Regex,
    state_zip_lower: Regex,
    state_name_zip: Regex,
    zip_shape: Regex,
    city_state: Regex,
    city_state_name: Regex,
    vin: Regex,
    countries: AhoCorasick,
    city_names: AhoCorasick,
    mbi: Regex,
    dea: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(Patterns::build);

pub(crate) fn get() -> &'static Patterns {
    &PATTERNS
}

/// An ASCII-only regex: `\d` and `\b` mean ASCII digits and boundaries, and
/// the faster engines need not give up on Unicode word boundaries.
pub(crate) fn ascii(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .unwrap_or_else(|e| panic!("built-in pattern {pattern:?}: {e}"))
}

fn unicode(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern:?}: {e}"))
}

impl Patterns {
    fn build() -> Patterns {
        Patterns {
            email: ascii(
                r"(?i)[a-z0-9._%+-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}",
            ),
            url: unicode(r#"(?i)(?:https?://|ftp://|www\.)[^\s<>"'()\[\]{}]+"#),
            bare_domain: ascii(
                r"(?i)\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.(?:com|org|net|edu|gov|io|info|biz|us|health|care)\b(?:/[!-~]*)?",
            ),
            ipv4: ascii(
                r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}",
            ),
            ipv6: ascii(r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,8}(?:\.\d{1,3}){0,3}"),
            phone: ascii(
                r"(?i)(?:\+?1[ .-]?|001[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]?\d{4}(?:\s*(?:ext\.?|extension|x|\#)\s*\d{1,6})?",
            ),
            phone_bare: ascii(r"(?:\+?1[ .-]?)?\d{10}"),
            phone_intl: ascii(
                r"(?i)\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}(?:\s*(?:ext\.?|x)\s*\d{1,6})?",
            ),
            ssn: ascii(r"\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}"),
            digit_run: ascii(r"\d+(?:[ -]\d+)*"),
            iban: ascii(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}"),
            date_numeric: ascii(
                r"\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})|\d{1,2}-\d{1,2}-(?:\d{4}|\d{2})|\d{1,2}\.\d{1,2}\.\d{4}|\d{2}\.\d{2}\.\d{2}",
            ),
            date_iso: ascii(
                r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2})(?:[ T](?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?)?",
            ),
            date_month_year_numeric: ascii(r"(?:0?[1-9]|1[0-2])/(?:19|20)\d{2}"),
            date_month_day: ascii(&format!(
                r"(?i)\b({MONTHS})\b(\.?)\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?"
            )),
            date_day_month: ascii(&format!(
                r"(?i)\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+|de\s+)?({MONTHS})\b(\.?)(?:,?\s+(?:de\s+|del\s+)?(\d{{4}})\b)?"
            )),
            date_month_year: ascii(&format!(
                r"(?i)\b({MONTHS})\b(\.?),?\s+(?:of\s+|de\s+|del\s+)?(\d{{4}})\b"
            )),
            age: unicode(
                r"(?i)\b(\d{2,3})(?:\s*-\s*|\s+)?(?:years?|yrs?)(?:\s*-\s*|\s+)old\b|\b(\d{2,3})\s*(?:y/o|y\.o\.|yo\b|años|anos\b)",
            ),
            address: ascii(
                r"(?i)\b\d{1,6}[a-z]?((?:\s+(?:n|s|e|w|ne|nw|se|sw|north|south|east|west)\.?)?(?:\s+[a-z0-9][a-z0-9'-]*){1,4}?)\s+(street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace|ter|circle|cir|parkway|pkwy|highway|hwy|trail|trl|square|sq|alley|aly|loop|crescent|cres|pike|plaza)\b(?:\s+(?:nw|ne|sw|se)\b)?(?:,?\s*(?:apt|apartment|suite|ste|unit|fl|floor|bldg|\#)\.?\s*\#?\s*[a-z0-9-]{1,6}\b)?",
            ),
            military: unicode(
                r"\b(?:(?:PSC|CMR|Unit)\s+\d{3,5},?\s+Box\s+\d{1,5}|(?:USS|USNS|USNV|USCGC)\s+\p{Lu}\p{Ll}+)\s*\n?\s*(?i:APO|FPO|DPO)\s+(?i:AA|AE|AP)\s+\d{5}\b",
            ),
            street_intl: unicode(
                r"(?:^|[\s,>:(])((?:(?i:via|viale|rua|rue|calle|avenida|strada|ul\.|ulica|trg|carrer|piazza|praça|largo|travessa|estrada|chaussée|chemin|allée)\s+(?:\p{Lu}[\p{L}'.-]*\s+|(?:de|da|do|dos|das|del|la|le|les|des|di|du|van|von|der)\s+){0,4}\p{Lu}[\p{L}'.-]*\.?|(?:\p{Lu}[\p{L}-]*\s+){0,2}\p{Lu}\p{L}{2,}(?:straße|strasse|str\.|weg|vej|vägen|gatan|gata|laan|straat|plein|dreef|steenweg|veien|vegen|katu)|(?:\p{Lu}[\p{L}-]*\s+){1,2}(?:út|utca|ulica|straße|strasse|str\.))\s+\d{1,4}[a-z]?)(?:$|[\s,.;)])",
            ),
            unit: ascii(r"(?i)\b(?:apt|apartment|suite|ste|unit)\b\.?\s*\#?\s*\d{1,5}[a-z]?\b"),
            phone_paren: ascii(
                r"(?i)\(\d{2,4}\)[ .-]?(?:\d{3,4}[.-]\d{3,4}|\d{4} ?\d{4})(?:\s*(?:ext\.?|x)\s*\d{1,6})?",
            ),
            phone_trunk: ascii(r"\b0[1-9]\d{0,3}(?:[ .-]\d{2,8}){1,4}"),
            po_box: ascii(r"(?i)\b(?:p\.?\s?o\.?|post\s+office)\s*box\s*\#?\s*\d{1,6}\b"),
            state_zip: ascii(&format!(r"\b(?:{STATES})\.?,?\s+(\d{{5}}(?:-\d{{4}})?)\b")),
            state_zip_lower: ascii(&format!(
                r"(?i)\b[a-z]+,?\s+(?:{LOWER_STATES})\.?,?\s+(\d{{5}}(?:-\d{{4}})?)\b"
            )),
            zip_shape: ascii(r"\b\d{5}(?:-\d{4})?\b"),
            state_name_zip: ascii(&format!(
                r"(?i)\b(?:{STATE_NAMES}),?\s+(\d{{5}}(?:-\d{{4}})?)\b"
            )),
            city_state: ascii(&format!(
                r"\b([A-Z][a-z]+(?:[ -][A-Z][a-z]+){{0,2}}),\s*(?:{STATES})\b"
            )),
            city_state_name: ascii(&format!(
                r"\b([A-Z][a-z]+(?:[ -][A-Z][a-z]+){{0,2}}),\s*(?i:{STATE_NAMES})\b"
            )),
            vin: ascii(r"\b[A-HJ-NPR-Z0-9]{17}\b"),
            countries: AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(COUNTRIES)
                .unwrap_or_else(|e| panic!("country list: {e}")),
            city_names: AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(CITIES.lines().filter(|l| !l.is_empty()))
                .unwrap_or_else(|e| panic!("city list: {e}")),
            mbi: ascii(r"\b[1-9][A-Z][A-Z0-9]\d-?[A-Z][A-Z0-9]\d-?[A-Z]{2}\d{2}\b"),
            dea: ascii(r"\b[A-Z][A-Z9]\d{7}\b"),
        }
    }

    pub(crate) fn scan(&self, text: &str, lex: &Lexicon, out: &mut Vec<Hit>) {
        let bytes = text.as_bytes();
        if bytes.contains(&b'@') {
            self.emails(text, out);
        }
        if bytes.contains(&b'.') {
            self.urls(text, out);
        }
        if bytes.contains(&b',') {
            self.cities(text, lex, out);
        }
        self.countries(text, out);
        self.city_list(text, out);
        // Everything below needs a digit; most chat messages have none.
        if !bytes.iter().any(u8::is_ascii_digit) {
            return;
        }
        if bytes.contains(&b'.') {
            self.ipv4(text, out);
        }
        if bytes.contains(&b':') {
            self.ipv6(text, out);
        }
        self.phones(text, out);
        self.ssns(text, out);
        self.cards(text, out);
        self.ibans(text, out);
        self.dates(text, out);
        self.ages(text, out);
        self.addresses(text, lex, out);
        self.zips(text, out);
        self.codes(text, out);
    }

    fn emails(&self, text: &str, out: &mut Vec<Hit>) {
        for m in self.email.find_iter(text) {
            out.push(Hit::new(m.start(), m.end(), Kind::Email, SCORE_EMAIL));
        }
    }

    fn urls(&self, text: &str, out: &mut Vec<Hit>) {
        let trim = |s: usize, e: usize| {
            s + text[s..e]
                .trim_end_matches(['.', ',', ';', ':', '!', '?'])
                .len()
        };
        for m in self.url.find_iter(text) {
            let end = trim(m.start(), m.end());
            if end - m.start() > 4 {
                out.push(Hit::new(m.start(), end, Kind::Url, SCORE_URL));
            }
        }
        each_match(&self.bare_domain, text, |s, e| {
            // The domain of an e-mail address is the e-mail's.
            if text[..s].ends_with(['@', '.', '/']) {
                return false;
            }
            out.push(Hit::new(s, trim(s, e), Kind::Url, SCORE_BARE_DOMAIN));
            true
        });
    }

    fn ipv4(&self, text: &str, out: &mut Vec<Hit>) {
        each_match(&self.ipv4, text, |s, e| {
            let ok = number_bounded(text, s, e);
            if ok {
                out.push(Hit::new(s, e, Kind::Ip, SCORE_IP));
            }
            ok
        });
    }

    fn ipv6(&self, text: &str, out: &mut Vec<Hit>) {
        each_match(&self.ipv6, text, |s, e| {
            let cand = &text[s..e];
            let glued = |c: Option<char>| c.is_some_and(|c| text::is_word(c) || c == ':');
            let ok = cand.matches(':').count() >= 2
                && !glued(text::prev_char(text, s))
                && !glued(text::next_char(text, e))
                && cand.parse::<Ipv6Addr>().is_ok();
            if ok {
                out.push(Hit::new(s, e, Kind::Ip, SCORE_IP));
            }
            ok
        });
    }

    fn phones(&self, text: &str, out: &mut Vec<Hit>) {
        let mut push = |re: &Regex, score: f32, check: &dyn Fn(&str) -> bool| {
            each_match(re, text, |s, e| {
                let ok = number_bounded(text, s, e) && check(&text[s..e]);
                if ok {
                    out.push(Hit::new(s, e, Kind::Phone, score));
                }
                ok
            });
        };
        push(&self.phone, SCORE_PHONE, &|p| {
            // Area codes never start with 0 or 1 (a leading 1 is the country).
            let number = p.split(['x', 'X', '#']).next().unwrap_or(p);
            Digits::of(number).is_some_and(|d| {
                let area = match d.len() {
                    11 => 1,
                    13 if d.as_str().starts_with("001") => 3,
                    _ => 0,
                };
                d.as_str().as_bytes().get(area).is_some_and(|&c| c >= b'2')
            })
        });
        push(&self.phone_bare, SCORE_BARE_PHONE, &|p| {
            let d = p.trim_start_matches(['+', '1', ' ', '.', '-']);
            // A run of one digit is a placeholder, not a number.
            d.len() >= 10 && d.as_bytes()[0] >= b'2' && d.bytes().any(|c| c != d.as_bytes()[0])
        });
        push(&self.phone_intl, SCORE_PHONE, &|p| {
            let number = p.split(['x', 'X', 'e', 'E']).next().unwrap_or(p);
            (8..=15).contains(&text::count_digits(number))
        });
        // "(027) 7972-805", "(11) 4706-6184": a bracketed area code.
        push(&self.phone_paren, SCORE_PHONE, &|p| {
            let number = p.split(['x', 'X', 'e', 'E']).next().unwrap_or(p);
            (8..=11).contains(&text::count_digits(number))
        });
        // "06-24312407", "079 4650 2145", "02.27.96.63.08": a trunk 0 and
        // nine to eleven digits in groups, which no date has.
        push(&self.phone_trunk, SCORE_TRUNK_PHONE, &|p| {
            let groups: Vec<&str> = p.split([' ', '.', '-']).collect();
            let dated = groups.len() >= 3
                && groups[0].len() <= 2
                && groups[1].len() <= 2
                && groups[2].len() == 4;
            (9..=11).contains(&text::count_digits(p)) && !dated
        });
        // A trunk number glued to more digit groups is part of something
        // longer (an IBAN, an account): drop it.
        out.retain(|h| {
            h.kind != Kind::Phone
                || h.score != SCORE_TRUNK_PHONE
                || !in_digit_run(text, h.start, h.end)
        });
    }

    fn ssns(&self, text: &str, out: &mut Vec<Hit>) {
        each_match(&self.ssn, text, |s, e| {
            let ok = number_bounded(text, s, e)
                && Digits::of(&text[s..e]).is_some_and(|d| ssn_plausible(d.as_str()));
            if ok {
                out.push(Hit::new(s, e, Kind::Ssn, SCORE_SSN));
            }
            ok
        });
    }

    /// Card numbers: runs of digit groups, where a run may hold more than the
    /// card ("4111 1111 1111 1111 exp 12 28" does not, but "card 4111 1111
    /// 1111 1111 2028" does), so every contiguous group range is tried,
    /// longest first.
    fn cards(&self, text: &str, out: &mut Vec<Hit>) {
        for m in self.digit_run.find_iter(text) {
            let run = m.as_str();
            if text::count_digits(run) < 13 || !word_bounded(text, m.start(), m.end()) {
                continue;
            }
            let mut groups: Vec<(usize, usize)> = Vec::with_capacity(8);
            let mut start = 0;
            for (i, c) in run.char_indices() {
                if c == ' ' || c == '-' {
                    groups.push((start, i));
                    start = i + 1;
                }
            }
            groups.push((start, run.len()));
            let mut i = 0;
            while i < groups.len() {
                let mut found = None;
                for j in (i..groups.len()).rev() {
                    let (s, e) = (groups[i].0, groups[j].1);
                    let cand = &run[s..e];
                    if let Some(d) = Digits::of(cand)
                        && (13..=19).contains(&d.len())
                        && card_like(cand, d.as_str())
                        && number_bounded(text, m.start() + s, m.start() + e)
                    {
                        found = Some((j, s, e));
                        break;
                    }
                }
                match found {
                    Some((j, s, e)) => {
                        out.push(Hit::new(
                            m.start() + s,
                            m.start() + e,
                            Kind::Card,
                            SCORE_CARD,
                        ));
                        i = j + 1;
                    }
                    None => i += 1,
                }
            }
        }
    }

    fn ibans(&self, text: &str, out: &mut Vec<Hit>) {
        each_match(&self.iban, text, |s, e| {
            let Some(end) = longest_iban(&text[s..e]) else {
                return false;
            };
            out.push(Hit::new(s, s + end, Kind::Iban, SCORE_IBAN));
            true
        });
    }

    fn dates(&self, text: &str, out: &mut Vec<Hit>) {
        let mut push = |s, e| out.push(Hit::new(s, e, Kind::Date, SCORE_DATE));
        each_match(&self.date_numeric, text, |s, e| {
            let ok = number_bounded(text, s, e) && numeric_date_valid(&text[s..e]);
            if ok {
                push(s, e);
            }
            ok
        });
        each_match(&self.date_iso, text, |s, e| {
            // "1991-04-02 04:44:09": the time of day belongs to the date.
            let date = text[s..e].split([' ', 'T']).next().unwrap_or("");
            let mut parts = date
                .split(['-', '/'])
                .map(|p| p.parse::<u32>().unwrap_or(0));
            let (y, m, d) = (
                parts.next().unwrap_or(0),
                parts.next().unwrap_or(0),
                parts.next().unwrap_or(0),
            );
            let ok = number_bounded(text, s, e)
                && (1900..=2100).contains(&y)
                && (1..=12).contains(&m)
                && (1..=31).contains(&d);
            if ok {
                push(s, e);
            }
            ok
        });
        // "04/2023": a month and a year are a date element too.
        each_match(&self.date_month_year_numeric, text, |s, e| {
            let ok = number_bounded(text, s, e);
            if ok {
                push(s, e);
            }
            ok
        });
        for c in self.date_month_day.captures_iter(text) {
            let (Some(month), Some(day)) = (c.get(1), c.get(3)) else {
                continue;
            };
            let year = c.get(4).filter(|y| year_ok(y.as_str()));
            let dotted = c.get(2).is_some_and(|d| !d.is_empty());
            // "March 3:30" is a time, "March 3.5" a number.
            if day_ok(day.as_str())
                && month_ok(month.as_str(), dotted || year.is_some())
                && number_bounded(
                    text,
                    day.start(),
                    day.end() + ordinal_len(&text[day.end()..]),
                )
            {
                let end = year.map_or(day.end() + ordinal_len(&text[day.end()..]), |y| y.end());
                push(month.start(), end);
            }
        }
        for c in self.date_day_month.captures_iter(text) {
            let (Some(day), Some(month)) = (c.get(1), c.get(2)) else {
                continue;
            };
            let year = c.get(4).filter(|y| year_ok(y.as_str()));
            let dotted = c.get(3).is_some_and(|d| !d.is_empty());
            if day_ok(day.as_str())
                && month_ok(month.as_str(), dotted || year.is_some())
                && number_bounded(
                    text,
                    day.start(),
                    day.end() + ordinal_len(&text[day.end()..]),
                )
            {
                push(day.start(), year.map_or(month.end(), |y| y.end()));
            }
        }
        for c in self.date_month_year.captures_iter(text) {
            let (Some(month), Some(year)) = (c.get(1), c.get(3)) else {
                continue;
            };
            if year_ok(year.as_str()) && month_ok(month.as_str(), true) {
                push(month.start(), year.end());
            }
        }
    }

    fn ages(&self, text: &str, out: &mut Vec<Hit>) {
        for c in self.age.captures_iter(text) {
            if let Some(n) = c.get(1).or_else(|| c.get(2))
                && age_over_89(n.as_str())
            {
                out.push(Hit::new(n.start(), n.end(), Kind::Age, SCORE_AGE));
            }
        }
    }

    fn addresses(&self, text: &str, lex: &Lexicon, out: &mut Vec<Hit>) {
        let mut anchors: Vec<(usize, usize)> = Vec::new();
        each_capture(&self.address, text, |c| {
            let (Some(all), Some(words), Some(suffix)) = (c.get(0), c.get(1), c.get(2)) else {
                return false;
            };
            let ok = !text[..all.start()].ends_with(['$', '#', '.', '/', '-', ':'])
                && street_ok(words.as_str(), suffix.as_str());
            if ok {
                anchors.push((all.start(), all.end()));
            }
            ok
        });
        for m in self.po_box.find_iter(text) {
            anchors.push((m.start(), m.end()));
        }
        for c in self.street_intl.captures_iter(text) {
            if let Some(m) = c.get(1) {
                anchors.push((m.start(), m.end().min(text.len())));
            }
        }
        for m in self.military.find_iter(text) {
            anchors.push((m.start(), m.end()));
        }
        for m in self.unit.find_iter(text) {
            if let Some(start) = street_before_unit(text, lex, m.start()) {
                // A street on the line above and the unit are two hits, so
                // that quote marks between them stay.
                match text[start..m.start()].find('\n') {
                    Some(nl) => {
                        let street = text[start..start + nl].trim_end();
                        anchors.push((start, start + street.len()));
                        anchors.push((m.start(), m.end()));
                    }
                    None => anchors.push((start, m.end())),
                }
            }
        }
        for (s, e) in anchors {
            out.push(Hit::new(s, e, Kind::Address, SCORE_ADDRESS));
            address_block(text, lex, e, out);
        }
    }

    /// ZIP codes: after a state, and bare five-digit or ZIP+4 numbers whose
    /// neighbours make them one (see [`zip_in_context`]). "zip", "postal
    /// code" and the like are the context layer's triggers.
    fn zips(&self, text: &str, out: &mut Vec<Hit>) {
        for re in [&self.state_zip, &self.state_zip_lower, &self.state_name_zip] {
            for c in re.captures_iter(text) {
                if let Some(z) = c.get(1)
                    && number_bounded(text, z.start(), z.end())
                {
                    out.push(Hit::new(z.start(), z.end(), Kind::Zip, SCORE_ZIP));
                }
            }
        }
        let places = out.len();
        for m in self.zip_shape.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            if number_bounded(text, s, e) && zip_in_context(text, s, e, &out[..places]) {
                out.push(Hit::new(s, e, Kind::Zip, SCORE_ZIP_CONTEXT));
            }
        }
    }

    fn cities(&self, text: &str, lex: &Lexicon, out: &mut Vec<Hit>) {
        for re in [&self.city_state, &self.city_state_name] {
            for c in re.captures_iter(text) {
                let Some(city) = c.get(1) else { continue };
                // "Call me Monday, CA" or "Thanks, OK": no weekdays, and a
                // single word must not be a known non-place.
                let words: Vec<u8> = city
                    .as_str()
                    .split([' ', '-'])
                    .map(|w| lex.lookup(w))
                    .collect();
                let known_word = words.iter().any(|f| f & names::TIME != 0)
                    || (words.len() == 1 && words[0] & names::STOP != 0);
                if !known_word {
                    out.push(Hit::new(
                        city.start(),
                        city.end(),
                        Kind::Location,
                        SCORE_CITY,
                    ));
                }
            }
        }
    }

    /// Cities of 15,000 people or more, and US counties, as whole words
    /// (`data/cities.txt`; names that are also everyday words are left out).
    fn city_list(&self, text: &str, out: &mut Vec<Hit>) {
        for m in self.city_names.find_iter(text) {
            if word_bounded(text, m.start(), m.end()) {
                out.push(Hit::new(m.start(), m.end(), Kind::Location, SCORE_CITY));
            }
        }
    }

    /// Country names, as whole words.
    fn countries(&self, text: &str, out: &mut Vec<Hit>) {
        for m in self.countries.find_iter(text) {
            if word_bounded(text, m.start(), m.end()) {
                out.push(Hit::new(m.start(), m.end(), Kind::Location, SCORE_COUNTRY));
            }
        }
    }

    /// Identifiers with a distinctive shape of their own: VINs, Medicare
    /// MBIs and DEA numbers.
    fn codes(&self, text: &str, out: &mut Vec<Hit>) {
        if !text.bytes().any(|b| b.is_ascii_uppercase()) {
            return;
        }
        for m in self.vin.find_iter(text) {
            let v = m.as_str();
            if v.bytes().any(|b| b.is_ascii_uppercase()) && vin_valid(v) {
                out.push(Hit::new(m.start(), m.end(), Kind::Vehicle, SCORE_VIN));
            }
        }
        for m in self.mbi.find_iter(text) {
            let dashes = m.as_str().matches('-').count();
            if (dashes == 0 || dashes == 2)
                && Digits::alnum_of(m.as_str()).is_some_and(|d| mbi_valid(d.as_str()))
            {
                out.push(Hit::new(m.start(), m.end(), Kind::MemberId, SCORE_MBI));
            }
        }
        for m in self.dea.find_iter(text) {
            if dea_valid(m.as_str()) {
                out.push(Hit::new(m.start(), m.end(), Kind::License, SCORE_DEA));
            }
        }
    }
}

/// Whether a digit string with separators reads as a card number when no
/// trigger says so: it passes Luhn, is not one repeated digit, and is either
/// 15-16 digits long (Amex, Visa, Mastercard, Discover) or grouped the way
/// cards are printed (fours, or Amex's 4-6-5).
pub(crate) fn card_like(cand: &str, digits: &str) -> bool {
    if !luhn_valid(digits) || digits.bytes().all(|b| b == digits.as_bytes()[0]) {
        return false;
    }
    if matches!(digits.len(), 15 | 16) {
        return true;
    }
    let sizes: Vec<usize> = cand.split([' ', '-']).map(str::len).collect();
    sizes.len() >= 4 && sizes[..sizes.len() - 1].iter().all(|&n| n == 4)
}

/// The byte length of the longest prefix of `cand` that ends between groups
/// and is a valid IBAN, trying longer prefixes first.
pub(crate) fn longest_iban(cand: &str) -> Option<usize> {
    let mut ends: Vec<usize> = cand
        .match_indices(' ')
        .map(|(i, _)| i)
        .chain(std::iter::once(cand.len()))
        .collect();
    // Unspaced IBANs have one end; spaced ones end after a group.
    if ends.len() == 1 {
        ends = (15..=cand.len().min(34)).collect();
    }
    ends.iter()
        .rev()
        .copied()
        .find(|&end| Digits::alnum_of(&cand[..end]).is_some_and(|d| iban_valid(d.as_str())))
}

fn ordinal_len(rest: &str) -> usize {
    let b = rest.as_bytes();
    if b.len() >= 2 {
        let suffix = [b[0].to_ascii_lowercase(), b[1].to_ascii_lowercase()];
        if matches!(&suffix, b"st" | b"nd" | b"rd" | b"th")
            && b.get(2).is_none_or(|c| !c.is_ascii_alphanumeric())
        {
            return 2;
        }
    }
    0
}

fn day_ok(day: &str) -> bool {
    day.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
}

fn year_ok(year: &str) -> bool {
    year.parse::<u32>()
        .is_ok_and(|y| (1900..=2100).contains(&y))
}

/// Whether a month word is one here. Only "may" is an everyday word next
/// to a number ("you may 2 pills"), so lowercase it needs a year (or a full
/// stop) to count.
fn month_ok(month: &str, confirmed: bool) -> bool {
    !month.eq_ignore_ascii_case("may") || month.starts_with('M') || confirmed
}

/// "3/4/61", "03.04.1961", "3-4-61": month/day or day/month, both plausible.
pub(crate) fn numeric_date_valid(date: &str) -> bool {
    let mut parts = date
        .split(['/', '-', '.'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let md = (1..=12).contains(&a) && (1..=31).contains(&b);
    let dm = (1..=31).contains(&a) && (1..=12).contains(&b);
    md || dm
}

pub(crate) fn age_over_89(n: &str) -> bool {
    n.parse::<u32>().is_ok_and(|n| (90..=130).contains(&n))
}

/// The words between a house number and a street suffix must look like a
/// street name, and the suffixes that are also ordinary words need
/// capitalised names before them.
fn street_ok(words: &str, suffix: &str) -> bool {
    let words: Vec<&str> = words.split_whitespace().collect();
    if words.is_empty()
        || words
            .iter()
            .any(|w| NOT_STREET_WORDS.iter().any(|n| w.eq_ignore_ascii_case(n)))
    {
        return false;
    }
    let ambiguous = AMBIGUOUS_SUFFIXES
        .iter()
        .any(|a| suffix.eq_ignore_ascii_case(a));
    if ambiguous {
        let capitalised = |w: &str| {
            w.as_bytes()
                .first()
                .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        };
        return capitalised(suffix) && words.iter().all(|w| capitalised(w));
    }
    true
}

/// Words before a bare five-digit number that make it a place: "I'm in
/// 33101", "patients from 60614", "an office near 85004".
const ZIP_BEFORE: &[&str] = &[
    "in", "near", "from", "around", "outside", "within", "serving", "serve", "covers", "cover",
    "area",
];

/// Words after a bare five-digit number that make it a place: "the 30301
/// area", "33101 zip code".
const ZIP_AFTER: &[&str] = &[
    "area",
    "zip",
    "zipcode",
    "region",
    "neighborhood",
    "neighbourhood",
];

/// Words after a number that make it a quantity, not a ZIP code: "in 10000
/// steps", "from 12000 dollars".
const QUANTITY_WORDS: &[&str] = &[
    "steps",
    "step",
    "dollars",
    "dollar",
    "usd",
    "bucks",
    "mg",
    "mcg",
    "iu",
    "units",
    "unit",
    "ml",
    "feet",
    "ft",
    "foot",
    "miles",
    "mile",
    "km",
    "meters",
    "people",
    "patients",
    "persons",
    "calories",
    "cal",
    "kcal",
    "times",
    "points",
    "views",
    "members",
    "employees",
    "words",
    "lbs",
    "pounds",
    "kg",
    "grams",
    "g",
    "cells",
    "copies",
    "per",
    "chance",
    "births",
    "cases",
    "deaths",
    "rpm",
    "hours",
    "hrs",
    "minutes",
    "seconds",
    "days",
    "years",
    "dpi",
    "mah",
    "mb",
    "gb",
];

/// Whether the ZIP-shaped number `[s, e)` ("02139", "90210-1234") reads as
/// a ZIP code from what stands around it:
///
/// - a ZIP+4 shape is one on its own;
/// - a five-digit number is one after a place preposition ("I'm in 33101",
///   "patients from 60614"), before "area" or "zip" ("the 30301 area"), or
///   next to a city, country or street already found in `places` ("Dover
///   03820", "48201 detroit").
///
/// Never when a currency sign, "#" or "no." comes before it, or a unit or
/// count word after it ("in 10000 steps", "1 in 10000 chance").
fn zip_in_context(text: &str, s: usize, e: usize, places: &[Hit]) -> bool {
    if text[..s].ends_with(['$', '#', '£', '€', '¥']) || text[e..].starts_with(['%', '$']) {
        return false;
    }
    let (after, after_at) = word_after(text, e);
    if QUANTITY_WORDS.iter().any(|w| after.eq_ignore_ascii_case(w)) {
        return false;
    }
    let (before, before_at) = word_before(text, s);
    let lower_before = before.to_ascii_lowercase();
    if matches!(
        lower_before.as_str(),
        "no" | "nr" | "number" | "room" | "rm" | "order"
    ) {
        return false;
    }
    if e - s == 10 {
        return true;
    }
    // "1 in 10000", "from 10000 to 20000": numbers compared, not places.
    let (before2, _) = word_before(text, before_at);
    let number = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit());
    let between_numbers = number(before2)
        || (matches!(after, "to" | "-") && number(word_after(text, after_at + after.len()).0));
    if between_numbers {
        return false;
    }
    // The preposition must be a word of its own in lowercase or capitalised
    // ("In 33101"), not "IN" (Indiana, which the state patterns handle).
    let place_word = ZIP_BEFORE.contains(&lower_before.as_str()) && before != "IN";
    let area_after = ZIP_AFTER.iter().any(|w| after.eq_ignore_ascii_case(w));
    let gap_ok = |gap: &str| gap.len() <= 3 && gap.chars().all(|c| matches!(c, ' ' | ',' | '\n'));
    let next_to_place = places.iter().any(|h| {
        matches!(h.kind, Kind::Location | Kind::Address)
            && ((h.end <= s && gap_ok(&text[h.end..s]))
                || (h.start >= e && gap_ok(&text[e..h.start])))
    });
    place_word || area_after || next_to_place
}

/// The word (letters and digits) that ends before byte `i`, skipping
/// spaces and an abbreviation's full stop, and where it starts; empty when
/// other punctuation or nothing stands there.
fn word_before(text: &str, i: usize) -> (&str, usize) {
    let trimmed = text[..i].trim_end_matches(' ');
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    let start = trimmed
        .char_indices()
        .rev()
        .find(|&(_, c)| !c.is_alphanumeric())
        .map_or(0, |(p, c)| p + c.len_utf8());
    (&trimmed[start..], start)
}

/// The word (letters, or digits) that starts after byte `i`, skipping
/// spaces and one comma, and where it starts.
fn word_after(text: &str, i: usize) -> (&str, usize) {
    let rest = text[i..].trim_start_matches(' ');
    let start = text.len() - rest.len();
    let Some(first) = rest.chars().next() else {
        return ("", start);
    };
    let end = if first == '-' {
        1
    } else {
        rest.find(|c: char| {
            if first.is_ascii_digit() {
                !c.is_ascii_digit()
            } else {
                !c.is_alphabetic()
            }
        })
        .unwrap_or(rest.len())
    };
    (&rest[..end], start)
}

/// Whether `[s, e)` has another digit group right before or after it.
fn in_digit_run(text: &str, s: usize, e: usize) -> bool {
    let sep = [' ', '-', '.'];
    let before = text[..s].trim_end_matches(sep);
    let after = text[e..].trim_start_matches(sep);
    (before.len() < s && before.ends_with(|c: char| c.is_ascii_digit()))
        || (after.len() < text.len() - e && after.starts_with(|c: char| c.is_ascii_digit()))
}

/// Words that end a letter rather than continue an address block.
const CLOSERS: &[&str] = &[
    "thanks",
    "thank",
    "regards",
    "best",
    "cheers",
    "sincerely",
    "love",
    "hi",
    "hello",
    "please",
    "ok",
    "okay",
    "yes",
    "no",
    "sent",
    "call",
    "text",
];

/// Where the street of a unit designator ("Suite 976", "Apt. 831") starts:
/// the line above when the unit opens its own line ("36 Essex Rd\n Suite
/// 203"), or, on the same line, the house number that opens up to six
/// street words before it ("40 Rue Dielhère 446 Suite 976"). None when no
/// street with a number stands there ("I'm in suite 4 today").
fn street_before_unit(text: &str, lex: &Lexicon, unit: usize) -> Option<usize> {
    let line_start = text[..unit].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..unit];
    if before.trim_matches(LINE_MARKS).is_empty() {
        let prev_end = line_start.checked_sub(1)?;
        let prev_start = text[..prev_end].rfind('\n').map_or(0, |i| i + 1);
        let prev = &text[prev_start..prev_end];
        let line = prev.trim_matches(LINE_MARKS);
        let words: Vec<&str> = line.split_whitespace().collect();
        let ok = !words.is_empty()
            && words.len() <= 8
            && line.chars().count() <= 60
            && words.iter().any(|w| w.bytes().all(|b| b.is_ascii_digit()))
            && words.iter().all(|w| street_word(lex, w));
        return ok.then(|| prev_start + (prev.len() - prev.trim_start_matches(LINE_MARKS).len()));
    }
    // Same line: walk back over street words to the furthest house number.
    let mut start = None;
    let mut end = unit;
    for (n, w) in before
        .split(' ')
        .rev()
        .filter(|w| !w.is_empty())
        .take(6)
        .enumerate()
    {
        let Some(at) = text[..end].rfind(w) else {
            break;
        };
        end = at;
        if !street_word(lex, w) {
            break;
        }
        if w.bytes().all(|b| b.is_ascii_digit()) && w.len() <= 6 && n > 0 {
            start = Some(at);
        }
    }
    start
}

/// What may open or close a line of an address block besides the address:
/// indentation, quoting, and list bullets ("> ", "- ", "• ", and "???"
/// where a bullet lost its encoding).
const LINE_MARKS: [char; 9] = [' ', '\t', '>', '\r', '?', '*', '•', '·', '-'];

/// Street suffixes and unit words: words of an address line, although the
/// name lists hold them as never-names ("Road", "Suite").
const ADDRESS_WORDS: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "court",
    "ct",
    "place",
    "pl",
    "way",
    "highway",
    "hwy",
    "parkway",
    "pkwy",
    "suite",
    "ste",
    "apt",
    "apartment",
    "unit",
    "floor",
    "fl",
    "bldg",
    "building",
];

/// A word that can stand in a street line: no sentence words, no
/// punctuation that ends a clause.
fn street_word(lex: &Lexicon, w: &str) -> bool {
    let w = w.trim_end_matches(['.', ',']);
    !w.is_empty()
        && !w.contains(['?', '!', ':', ';', '@', '(', ')', '"'])
        && !NOT_STREET_WORDS.iter().any(|n| w.eq_ignore_ascii_case(n))
        && !CLOSERS.iter().any(|n| w.eq_ignore_ascii_case(n))
        && (ADDRESS_WORDS.iter().any(|a| w.eq_ignore_ascii_case(a))
            || lex.lookup(w) & (names::STOP | names::TIME) == 0)
}

/// A line after a street that reads as the rest of an address: a unit, a
/// city, a region, a postcode or a country ("Apt. 831", "GUÉRET", "Sudan
/// 30046", "Dąbrowa Górnicza"), short, capitalised, with no sentence words.
fn address_line_ok(lex: &Lexicon, line: &str) -> bool {
    let line = line.trim_end_matches('.');
    let words: Vec<&str> = line.split_whitespace().collect();
    !words.is_empty()
        && words.len() <= 4
        && line.chars().count() <= 40
        && text::count_digits(line) <= 6
        && line
            .chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
        && words.iter().all(|w| {
            street_word(lex, w)
                && w.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '.' | '\'' | '-' | ','))
        })
}

/// The rest of the block of an address that ends at `end`, one hit per
/// line: the rest of the same line when it holds only address words and
/// nothing follows them, then up to four following lines that read as
/// address lines (one blank line between them is allowed). Quote marks and
/// commas between the lines are left out.
fn address_block(text: &str, lex: &Lexicon, end: usize, out: &mut Vec<Hit>) {
    let mut push = |s: usize, e: usize| out.push(Hit::new(s, e, Kind::Address, SCORE_ADDRESS));
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let rest = text[end..line_end].trim_end_matches([' ', '\t', '\r']);
    let rest_words = rest.trim_start_matches([' ', ',']);
    if !rest_words.is_empty() {
        if !rest_words.contains(',') && address_line_ok(lex, rest_words) {
            let s = end + (rest.len() - rest_words.len());
            push(s, s + rest_words.trim_end_matches('.').len());
        } else {
            return;
        }
    }
    let mut at = line_end;
    let (mut lines, mut blanks) = (0, 0);
    while lines < 4 && at < text.len() {
        let ls = at + 1;
        let le = text[ls..].find('\n').map_or(text.len(), |i| ls + i);
        let raw = &text[ls..le];
        let line = raw.trim_matches(LINE_MARKS).trim_matches(',');
        at = le;
        if line.is_empty() {
            blanks += 1;
            if blanks > 1 {
                break;
            }
            continue;
        }
        if !address_line_ok(lex, line) {
            break;
        }
        let lead = raw.len()
            - raw
                .trim_start_matches(|c| LINE_MARKS.contains(&c) || c == ',')
                .len();
        let line = line.trim_end_matches('.');
        push(ls + lead, ls + lead + line.len());
        lines += 1;
    }
}

/// The pattern layer as a stand-alone [`Detector`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PatternLayer;

impl Detector for PatternLayer {
    fn detect(&self, text: &str, out: &mut Vec<Span>) {
        let mut hits = Vec::new();
        get().scan(text, names::lexicon(), &mut hits);
        text::push_spans(text, &hits, out);
    }
}
