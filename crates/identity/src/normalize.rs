//! Normalisation: turns a name as somebody typed it into one canonical, lower-case string of
//! tokens, repairs letters typed in the wrong script and guesses the language from the letters.
//!
//! Everything else in the engine (transliteration for display, fold keys, later scoring) reads
//! names through this module, so two spellings that differ only in Unicode form, case, stress
//! marks, apostrophes, spacing or look-alike letters must come out identical here.
//!
//! It must never translate, transliterate or drop letters that carry meaning (only stress
//! marks, apostrophes and punctuation go), never read more than [`MAX_INPUT_CHARS`] characters
//! of its input, and never panic: it runs on untrusted input at the gRPC edge.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest token kept, in characters; longer tokens are truncated to this length.
///
/// Real surnames and given names stay far below it; the cap exists so that the work done on
/// one token (and the size of any key derived from it) is bounded.
pub const MAX_TOKEN_CHARS: usize = 64;

/// Longest normalised name, in characters (tokens and the single spaces between them).
///
/// A name that would come out longer is cut at a token boundary where possible, otherwise
/// inside the last token.
pub const MAX_NAME_CHARS: usize = 256;

/// How many characters of the raw input are read at all; the rest is ignored unseen.
///
/// Set well above [`MAX_NAME_CHARS`] so that stress marks, apostrophes and runs of spaces do
/// not eat into a real name before the name cap applies, while keeping the time spent on a
/// hostile multi-megabyte "name" constant.
pub const MAX_INPUT_CHARS: usize = 4 * MAX_NAME_CHARS;

/// Which language the Cyrillic letters of a name point to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LanguageHint {
    /// At least one of і ї є ґ and none of ы э ъ ё.
    Ukrainian,
    /// At least one of ы э ъ ё and none of і ї є ґ.
    Russian,
    /// No marker letter, or markers of both languages (a mixed or garbled entry).
    #[default]
    Unknown,
}

/// A normalised name: lower-case tokens separated by single spaces, with its language hint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NormalizedName {
    text: String,
    hint: LanguageHint,
    repaired: usize,
}

impl NormalizedName {
    /// The normalised text: tokens joined by single ASCII spaces, no leading or trailing space.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The tokens in input order; a hyphenated surname ("римский-корсаков") is one token.
    pub fn tokens(&self) -> impl Iterator<Item = &str> + '_ {
        self.text.split(' ').filter(|t| !t.is_empty())
    }

    /// The language hint, taken only from letters that were typed as Cyrillic (a Latin `i`
    /// repaired into Cyrillic `і` is not evidence of Ukrainian).
    pub fn language_hint(&self) -> LanguageHint {
        self.hint
    }

    /// How many look-alike letters were switched to the script of their word.
    ///
    /// Worth showing in an explanation: a repaired name is a sign of OCR or copy-paste.
    pub fn homoglyphs_repaired(&self) -> usize {
        self.repaired
    }

    /// Whether nothing but separators was left.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The normalised text, by value.
    pub fn into_string(self) -> String {
        self.text
    }
}

/// Normalises a name for comparison.
///
/// Steps, in order:
/// 1. only the first [`MAX_INPUT_CHARS`] characters are read;
/// 2. apostrophes and quote marks of every kind (`'` `’` `ʼ` `` ` `` `"` `‘` `´` `ʹ` `ʺ` `«` `»` …)
///    are removed, so "Знам'янка", "Знамʼянка" and "Знамянка" agree;
/// 3. Unicode NFKC, with stress marks (combining acute U+0301 and grave U+0300) removed — which
///    also strips acute and grave accents from Latin letters ("José" → "jose");
/// 4. anything that is not a letter, digit, combining mark or hyphen separates tokens; dashes
///    of every kind become `-`, kept only between two token characters;
/// 5. lower case (full Unicode lower-casing, not locale-specific);
/// 6. tokens longer than [`MAX_TOKEN_CHARS`] characters are truncated, and the name is cut to
///    [`MAX_NAME_CHARS`] characters;
/// 7. mixed-script homoglyph repair per token, on what was kept (see below).
///
/// The result is a fixed point: normalising a normalised name returns it unchanged, so stored
/// forms can be normalised again after a change of their source.
///
/// Homoglyph repair: a Latin letter that has a Cyrillic twin in print (a c e i o p x y ë ï, and
/// k m t h b, whose capitals K M T H B are twins of К М Т Н В) is turned into that twin when
/// every other letter of its token is Cyrillic or a twin and the token has a letter that exists
/// only in Cyrillic; when every letter of a mixed token has a twin, the letters without twins in
/// the rest of the name decide, then the majority, ties going to Cyrillic. The same holds the
/// other way round (a Cyrillic `о` inside "Оlena" becomes Latin). A token typed wholly in one
/// script is never switched, and a token with letters that exist only in Latin *and* letters
/// that exist only in Cyrillic is left alone: neither can be told from a real word.
pub fn normalize(input: &str) -> NormalizedName {
    let head: String = input.chars().take(MAX_INPUT_CHARS).collect();

    // Apostrophes go before decomposition too: NFKD turns `´` into a space plus an accent,
    // which would otherwise split "Знам´янка" into two tokens.
    let cleaned: String = head
        .chars()
        .filter(|c| !is_apostrophe(*c) && !is_invisible(*c))
        .nfkd()
        .filter(|c| !is_stress_mark(*c) && !is_apostrophe(*c))
        .nfc()
        .map(|c| if is_dash(c) { '-' } else { c })
        .collect();

    // Lower case and cut before repair: the look-alike tables then need no capitals, and repair
    // sees exactly the letters that will be kept, so normalising a normalised name classifies
    // every token as the first pass did (the output is a fixed point).
    let mut tokens: Vec<Vec<char>> = Vec::new();
    let mut used = 0;
    for token in split_tokens(&cleaned) {
        let separator = usize::from(!tokens.is_empty());
        let room = MAX_NAME_CHARS
            .saturating_sub(used + separator)
            .min(MAX_TOKEN_CHARS);
        if room == 0 {
            break;
        }
        // Lower case can leave NFC (T + ◌̈ has no precomposed capital, t + ◌̈ is ẗ): recompose.
        let lower = token.into_iter().collect::<String>().to_lowercase();
        let mut kept: Vec<char> = lower.nfc().take(room).collect();
        while kept.last() == Some(&'-') {
            kept.pop();
        }
        if kept.is_empty() {
            continue;
        }
        used += separator + kept.len();
        tokens.push(kept);
    }
    let name_script = dominant_strong_script(&tokens);

    let mut text = String::with_capacity(used * 2);
    let mut uk = false;
    let mut ru = false;
    let mut repaired = 0;
    for token in &tokens {
        let fixed = repair_token(token, name_script);
        repaired += fixed.repaired;
        if !text.is_empty() {
            text.push(' ');
        }
        for (c, original) in &fixed.chars {
            if *original {
                uk |= is_ukrainian_marker(*c);
                ru |= is_russian_marker(*c);
            }
        }
        let letters = fixed.chars.iter().map(|(c, _)| *c);
        if fixed.repaired == 0 {
            text.extend(letters);
        } else {
            // A swapped letter may now compose with a mark that followed it (Cyrillic т + ◌̈
            // has no precomposed form, Latin t + ◌̈ is ẗ), so recompose to stay in NFC.
            text.extend(letters.nfc());
        }
    }

    NormalizedName {
        text,
        hint: hint_from(uk, ru),
        repaired,
    }
}

/// The language hint of a text from its letters alone, with no other normalisation.
///
/// Both cases count. Used on a whole name, or on one token when a caller wants per-token hints.
pub fn language_hint(text: &str) -> LanguageHint {
    let mut uk = false;
    let mut ru = false;
    for c in text.chars().take(MAX_INPUT_CHARS) {
        uk |= is_ukrainian_marker(c);
        ru |= is_russian_marker(c);
    }
    hint_from(uk, ru)
}

fn hint_from(uk: bool, ru: bool) -> LanguageHint {
    match (uk, ru) {
        (true, false) => LanguageHint::Ukrainian,
        (false, true) => LanguageHint::Russian,
        _ => LanguageHint::Unknown,
    }
}

fn is_ukrainian_marker(c: char) -> bool {
    matches!(c, 'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є' | 'Ґ')
}

fn is_russian_marker(c: char) -> bool {
    matches!(c, 'ы' | 'э' | 'ъ' | 'ё' | 'Ы' | 'Э' | 'Ъ' | 'Ё')
}

/// Apostrophes, primes and quotation marks: in names they mark a Ukrainian apostrophe, a
/// transliterated soft or hard sign, or a quoted nickname, and none of these should decide
/// whether two names match.
pub(crate) fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '"'
            | '`'
            | '\u{00B4}' // ´ acute accent used as an apostrophe
            | '\u{02B9}' // ʹ modifier prime (soft sign in scholarly transliteration)
            | '\u{02BA}' // ʺ modifier double prime (hard sign)
            | '\u{02BB}' // ʻ
            | '\u{02BC}' // ʼ the Ukrainian apostrophe recommended by Unicode
            | '\u{02BD}'
            | '\u{02C8}' // ˈ
            | '\u{2018}'
            | '\u{2019}'
            | '\u{201A}'
            | '\u{201B}'
            | '\u{201C}'
            | '\u{201D}'
            | '\u{201E}'
            | '\u{201F}'
            | '\u{2032}' // ′ prime
            | '\u{2033}' // ″ double prime
            | '\u{00AB}' // «
            | '\u{00BB}' // »
            | '\u{2039}'
            | '\u{203A}'
            | '\u{FF02}'
            | '\u{FF07}'
    )
}

/// Soft hyphens and zero-width characters: pasted from web pages and word processors into the
/// middle of names, where they must neither split nor mark a word.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

fn is_stress_mark(c: char) -> bool {
    matches!(c, '\u{0300}' | '\u{0301}')
}

fn is_dash(c: char) -> bool {
    matches!(
        c,
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}'
    )
}

fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// Splits on separators, keeping a hyphen only when it joins two token characters.
fn split_tokens(text: &str) -> Vec<Vec<char>> {
    let mut tokens = Vec::new();
    let mut current: Vec<char> = Vec::new();
    let mut pending_hyphen = false;
    for c in text.chars() {
        if is_token_char(c) {
            if pending_hyphen && !current.is_empty() {
                current.push('-');
            }
            pending_hyphen = false;
            current.push(c);
        } else if c == '-' {
            pending_hyphen = true;
        } else {
            pending_hyphen = false;
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
}

fn script_of(c: char) -> Option<Script> {
    if !c.is_alphabetic() {
        return None;
    }
    match c as u32 {
        0x0041..=0x024F | 0x1E00..=0x1EFF | 0x2C60..=0x2C7F | 0xA720..=0xA7FF => {
            Some(Script::Latin)
        }
        0x0400..=0x052F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => {
            Some(Script::Cyrillic)
        }
        _ => None,
    }
}

/// The Cyrillic twin of a lower-case Latin letter that looks the same in print (or whose
/// capital does).
fn latin_to_cyrillic(c: char) -> Option<char> {
    Some(match c {
        'a' => 'а',
        'c' => 'с',
        'e' => 'е',
        'i' => 'і',
        'o' => 'о',
        'p' => 'р',
        'x' => 'х',
        'y' => 'у',
        'ë' => 'ё',
        'ï' => 'ї',
        // Twins only as capitals (K M T H B); their lower-case forms follow them.
        'k' => 'к',
        'm' => 'м',
        't' => 'т',
        'h' => 'н',
        'b' => 'в',
        _ => return None,
    })
}

/// The Latin twin of a lower-case Cyrillic letter, including the non-Russian, non-Ukrainian Cyrillic
/// letters that exist mainly as spoofing material (ј ѕ ԁ һ ԛ ԝ).
fn cyrillic_to_latin(c: char) -> Option<char> {
    Some(match c {
        'а' => 'a',
        'с' => 'c',
        'е' => 'e',
        'і' => 'i',
        'о' => 'o',
        'р' => 'p',
        'х' => 'x',
        'у' => 'y',
        'ё' => 'ë',
        'ї' => 'ï',
        'ј' => 'j',
        'ѕ' => 's',
        'һ' => 'h',
        'ԁ' => 'd',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'ь' => 'b',
        'к' => 'k',
        'м' => 'm',
        'т' => 't',
        'н' => 'h',
        'в' => 'b',
        _ => return None,
    })
}

#[derive(Debug, Default, Clone, Copy)]
struct ScriptCounts {
    latin: usize,
    cyrillic: usize,
    strong_latin: usize,
    strong_cyrillic: usize,
}

fn count_scripts(token: &[char]) -> ScriptCounts {
    let mut n = ScriptCounts::default();
    for &c in token {
        match script_of(c) {
            Some(Script::Latin) => {
                n.latin += 1;
                if latin_to_cyrillic(c).is_none() {
                    n.strong_latin += 1;
                }
            }
            Some(Script::Cyrillic) => {
                n.cyrillic += 1;
                if cyrillic_to_latin(c).is_none() {
                    n.strong_cyrillic += 1;
                }
            }
            None => {}
        }
    }
    n
}

/// The script that owns every letter without a twin across the whole name, if only one does.
fn dominant_strong_script(tokens: &[Vec<char>]) -> Option<Script> {
    let mut latin = 0;
    let mut cyrillic = 0;
    for t in tokens {
        let n = count_scripts(t);
        latin += n.strong_latin;
        cyrillic += n.strong_cyrillic;
    }
    match (latin > 0, cyrillic > 0) {
        (true, false) => Some(Script::Latin),
        (false, true) => Some(Script::Cyrillic),
        _ => None,
    }
}

struct RepairedToken {
    /// Each character with whether it is as typed (false when repair replaced it).
    chars: Vec<(char, bool)>,
    repaired: usize,
}

fn repair_token(token: &[char], name_script: Option<Script>) -> RepairedToken {
    let n = count_scripts(token);
    let target = if n.latin > 0 && n.cyrillic > 0 {
        // Mixed token: the letters without twins decide; failing that, the rest of the name;
        // failing that, the majority, with ties going to Cyrillic (the scripts of these lists).
        match (n.strong_latin, n.strong_cyrillic) {
            (0, s) if s > 0 => Some(Script::Cyrillic),
            (s, 0) if s > 0 => Some(Script::Latin),
            (0, 0) => name_script.or(if n.latin > n.cyrillic {
                Some(Script::Latin)
            } else {
                Some(Script::Cyrillic)
            }),
            _ => None,
        }
    } else {
        // A token typed wholly in one script is never switched, even when all its letters
        // have twins: "Тарас" next to "Shevchenko" is a Cyrillic word, not a spoofed "Tapac".
        None
    };

    let mut repaired = 0;
    let chars = token
        .iter()
        .map(|&c| {
            let swapped = match (target, script_of(c)) {
                (Some(Script::Cyrillic), Some(Script::Latin)) => latin_to_cyrillic(c),
                (Some(Script::Latin), Some(Script::Cyrillic)) => cyrillic_to_latin(c),
                _ => None,
            };
            match swapped {
                Some(s) => {
                    repaired += 1;
                    (s, false)
                }
                None => (c, true),
            }
        })
        .collect();
    RepairedToken { chars, repaired }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalize(s).into_string()
    }

    #[test]
    fn case_width_and_spacing_are_canonical() {
        assert_eq!(norm("  КОВАЛЕНКО\t  Олександр \n"), "коваленко олександр");
        assert_eq!(norm("ＫＯＶＡＬＥＮＫＯ"), "kovalenko");
        assert_eq!(norm("Kovalenko,Oleksandr"), "kovalenko oleksandr");
        assert_eq!(norm("КОВАЛЕНКО О."), "коваленко о");
    }

    #[test]
    fn stress_marks_are_removed_but_letters_with_diacritics_survive() {
        assert_eq!(norm("Олекса\u{0301}ндр"), "олександр");
        assert_eq!(norm("Ива\u{0300}н"), "иван");
        // й and ї and ё are letters, not stress: they must survive NFKD and recomposition.
        assert_eq!(
            norm("Й\u{0301}осип Ї\u{0301}жак Ё\u{0301}лкин"),
            "йосип їжак ёлкин"
        );
        assert_eq!(norm("и\u{0306}"), "й");
    }

    #[test]
    fn apostrophes_of_every_kind_are_removed_inside_words() {
        for s in [
            "Знам'янка",
            "Знам’янка",
            "Знамʼянка",
            "Знам`янка",
            "Знам\"янка",
            "Знам´янка",
            "Знам‘янка",
        ] {
            assert_eq!(norm(s), "знамянка", "{s}");
        }
        assert_eq!(norm("Ol'ha O`Neil"), "olha oneil");
    }

    #[test]
    fn soft_hyphens_and_zero_width_characters_vanish() {
        assert_eq!(norm("Кова\u{00AD}ленко"), "коваленко");
        assert_eq!(norm("Кова\u{200B}лен\u{FEFF}ко\u{200D}"), "коваленко");
    }

    #[test]
    fn hyphens_join_double_surnames_and_dashes_are_unified() {
        assert_eq!(norm("Римский—Корсаков"), "римский-корсаков");
        assert_eq!(norm("Petrenko - Ivan"), "petrenko ivan");
        assert_eq!(norm("-Ivan-- Petrenko-"), "ivan petrenko");
    }

    #[test]
    fn latin_look_alikes_inside_a_cyrillic_word_become_cyrillic() {
        // Latin o, a, e and capital K typed inside Cyrillic words.
        let n = normalize("Kовaленко Oлeксандр");
        assert_eq!(n.as_str(), "коваленко олександр");
        assert_eq!(n.homoglyphs_repaired(), 4);
        // Latin i in a Cyrillic word becomes Ukrainian і, but does not count as evidence.
        let n = normalize("Микoлa Пiдгopний");
        assert_eq!(n.as_str(), "микола підгорний");
        assert_eq!(n.language_hint(), LanguageHint::Unknown);
        // Capital-only look-alikes typed in lower case still map as their capitals do.
        assert_eq!(norm("ПЕТРЕНКО cтepah"), "петренко стеран");
    }

    #[test]
    fn cyrillic_look_alikes_inside_a_latin_word_become_latin() {
        let n = normalize("Оlena Kоvalenkо");
        assert_eq!(n.as_str(), "olena kovalenko");
        assert_eq!(n.homoglyphs_repaired(), 3);
        assert_eq!(norm("Ѕerhii"), "serhii");
    }

    #[test]
    fn a_token_typed_wholly_in_one_script_is_never_switched() {
        assert_eq!(norm("Shevchenko Тарас"), "shevchenko тарас");
        assert_eq!(norm("Коваленко OKCAHA"), "коваленко okcaha");
    }

    #[test]
    fn a_mixed_token_of_twins_only_follows_the_rest_of_the_name() {
        // Every letter of "Тapac" has a twin; the Latin surname decides.
        assert_eq!(norm("Shevchenko Тapac"), "shevchenko tapac");
        assert_eq!(norm("Шевченко Тapac"), "шевченко тарас");
    }

    #[test]
    fn tokens_with_letters_unique_to_both_scripts_are_left_alone() {
        assert_eq!(norm("Ivanченко"), "ivanченко");
    }

    #[test]
    fn language_hint_comes_from_marker_letters() {
        assert_eq!(
            normalize("Олексій Коваленко").language_hint(),
            LanguageHint::Ukrainian
        );
        assert_eq!(normalize("Євген").language_hint(), LanguageHint::Ukrainian);
        assert_eq!(
            normalize("Ґалаґан").language_hint(),
            LanguageHint::Ukrainian
        );
        assert_eq!(normalize("Подъячев").language_hint(), LanguageHint::Russian);
        assert_eq!(
            normalize("Эдуард Лысый").language_hint(),
            LanguageHint::Russian
        );
        assert_eq!(normalize("Ёлкин").language_hint(), LanguageHint::Russian);
        assert_eq!(
            normalize("Коваленко").language_hint(),
            LanguageHint::Unknown
        );
        assert_eq!(
            normalize("Іван Лысый").language_hint(),
            LanguageHint::Unknown
        );
        assert_eq!(language_hint("ЇЖАК"), LanguageHint::Ukrainian);
        assert_eq!(language_hint("Kovalenko"), LanguageHint::Unknown);
    }

    #[test]
    fn long_tokens_are_truncated_and_long_names_are_cut() {
        let long_token = "а".repeat(500);
        let n = normalize(&long_token);
        assert_eq!(n.as_str().chars().count(), MAX_TOKEN_CHARS);

        let many = "коваленко ".repeat(100);
        let n = normalize(&many);
        assert!(n.as_str().chars().count() <= MAX_NAME_CHARS);
        assert!(
            n.tokens()
                .all(|t| t == "коваленко" || "коваленко".starts_with(t))
        );
        assert!(!n.as_str().ends_with(' '));
    }

    #[test]
    fn input_past_the_read_limit_is_never_seen() {
        let s = format!("{}Коваленко", " ".repeat(MAX_INPUT_CHARS));
        assert!(normalize(&s).is_empty());
    }

    #[test]
    fn separators_only_give_an_empty_name() {
        assert!(normalize("  ,.;'’ -- ").is_empty());
        assert!(normalize("").is_empty());
        assert_eq!(normalize("").tokens().count(), 0);
    }
}
