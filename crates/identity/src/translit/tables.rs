//! The Cyrillic → Latin tables themselves: the Ukrainian national table through the `uklatn`
//! crate, and the Russian ICAO, GOST 7.79 System B and both BGN/PCGN tables written here
//! because no maintained crate implements them with their positional rules.
//!
//! Each hand-written table is one function from a lower-case letter and its neighbours to the
//! lower-case Latin string; `run` applies it and restores case. A table function must never
//! look further than one letter either side and must return `None` for anything it does not
//! know, so that the caller keeps the character unchanged.

/// A letter with its neighbours, all lower-cased, as a table sees them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Letter {
    pub(super) c: char,
    pub(super) prev: Option<char>,
    pub(super) next: Option<char>,
}

impl Letter {
    fn at_word_start(&self) -> bool {
        self.prev.is_none_or(|p| !p.is_alphabetic())
    }
}

pub(super) type Rule = fn(Letter) -> Option<&'static str>;

/// Applies a table letter by letter and restores case: a capital becomes a capitalised
/// digraph ("Shch") inside a mixed-case word and an all-capital one ("SHCH") when the next
/// letter, or failing a next letter the previous one, is a capital too.
pub(super) fn run(text: &str, rule: Rule) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() * 2);
    for (i, &original) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let next = chars.get(i + 1).copied();
        let letter = Letter {
            c: lower(original),
            prev: prev.map(lower),
            next: next.map(lower),
        };
        let Some(latin) = rule(letter).or_else(|| fallback(letter)) else {
            out.push(original);
            continue;
        };
        if !original.is_uppercase() {
            out.push_str(latin);
            continue;
        }
        let all_caps = match next {
            Some(n) if n.is_alphabetic() => n.is_uppercase(),
            _ => prev.is_some_and(|p| p.is_alphabetic() && p.is_uppercase()),
        };
        push_cased(&mut out, latin, all_caps);
    }
    out
}

fn push_cased(out: &mut String, latin: &str, all_caps: bool) {
    if all_caps {
        out.extend(latin.chars().flat_map(char::to_uppercase));
        return;
    }
    let mut chars = latin.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
        out.push_str(chars.as_str());
    }
}

/// Lower case of one character when it is one character (true of every Cyrillic letter).
fn lower(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

fn is_cyrillic_vowel(c: char) -> bool {
    matches!(
        c,
        'а' | 'е' | 'ё' | 'и' | 'о' | 'у' | 'ы' | 'э' | 'ю' | 'я' | 'і' | 'ї' | 'є'
    )
}

fn is_cyrillic_letter(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{052F}') && c.is_alphabetic()
}

/// Letters outside a table's alphabet, romanised as ICAO Doc 9303 Part 3 does for the other
/// Cyrillic languages, so that no table leaves a stray Cyrillic letter in Latin output.
fn fallback(l: Letter) -> Option<&'static str> {
    icao(l).or(match l.c {
        'ў' => Some("u"),
        'ђ' => Some("d"),
        'ј' => Some("j"),
        'љ' => Some("lj"),
        'њ' => Some("nj"),
        'ћ' => Some("c"),
        'џ' => Some("dz"),
        'ѓ' => Some("g"),
        'ќ' => Some("k"),
        'ѕ' => Some("dz"),
        _ => None,
    })
}

/// The letters every table here romanises the same way.
fn common(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'д' => "d",
        'ж' => "zh",
        'з' => "z",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'ч' => "ch",
        'ш' => "sh",
        _ => return None,
    })
}

/// ICAO Doc 9303 Part 3, Russian letters plus the Ukrainian ones the same table lists.
pub(super) fn icao(l: Letter) -> Option<&'static str> {
    if let Some(latin) = common(l.c) {
        return Some(latin);
    }
    Some(match l.c {
        'г' => "g",
        'е' | 'ё' | 'э' => "e",
        'и' | 'й' | 'і' | 'ї' => "i",
        'х' => "kh",
        'ц' => "ts",
        'щ' => "shch",
        'ъ' | 'є' => "ie",
        'ы' => "y",
        'ь' => "",
        'ю' => "iu",
        'я' => "ia",
        'ґ' => "g",
        _ => return None,
    })
}

/// GOST 7.79-2000 System B, Table 4, Russian column (with the Ukrainian letters of the same
/// table so that a stray і or ї is not left in Cyrillic).
pub(super) fn gost_b(l: Letter) -> Option<&'static str> {
    if let Some(latin) = common(l.c) {
        return Some(latin);
    }
    Some(match l.c {
        'г' => "g",
        'е' => "e",
        'ё' => "yo",
        'и' => "i",
        'й' => "j",
        'х' => "x",
        // "c before i, e, y, j; cz otherwise" — the letters are those of the Latin output, so
        // ц takes c before every Cyrillic letter whose romanisation starts with one of them
        // (also ю я ё э: Цюрих → Cyurix). Some libraries (iuliia) apply it only before е и й ы.
        'ц' => {
            if l.next.is_some_and(gost_starts_soft) {
                "c"
            } else {
                "cz"
            }
        }
        'щ' => "shh",
        'ъ' => "``",
        'ы' => "y`",
        'ь' => "`",
        'э' => "e`",
        'ю' => "yu",
        'я' => "ya",
        'і' => "i",
        'ї' => "yi",
        'є' => "ye",
        'ґ' => "g`",
        _ => return None,
    })
}

fn gost_starts_soft(next: char) -> bool {
    matches!(
        next,
        'е' | 'ё' | 'и' | 'й' | 'ы' | 'э' | 'ю' | 'я' | 'і' | 'ї' | 'є'
    )
}

/// BGN/PCGN 1947 Russian.
pub(super) fn bgn_russian(l: Letter) -> Option<&'static str> {
    let iotated = l.at_word_start()
        || l.prev
            .is_some_and(|p| is_cyrillic_vowel(p) || matches!(p, 'й' | 'ъ' | 'ь'));
    if let Some(latin) = common(l.c) {
        return Some(latin);
    }
    Some(match l.c {
        'г' => "g",
        'е' if iotated => "ye",
        'е' => "e",
        'ё' if iotated => "yë",
        'ё' => "ë",
        'и' => "i",
        'й' => "y",
        'х' => "kh",
        'ц' => "ts",
        'щ' => "shch",
        'ъ' => "”",
        'ы' => "y",
        'ь' => "’",
        'э' => "e",
        'ю' => "yu",
        'я' => "ya",
        _ => return None,
    })
}

/// BGN/PCGN 1965 Ukrainian.
pub(super) fn bgn_ukrainian(l: Letter) -> Option<&'static str> {
    if crate::normalize::is_apostrophe(l.c)
        && l.prev.is_some_and(is_cyrillic_letter)
        && l.next.is_some_and(is_cyrillic_letter)
    {
        return Some("”");
    }
    if let Some(latin) = common(l.c) {
        return Some(latin);
    }
    Some(match l.c {
        'г' => "h",
        'ґ' => "g",
        'е' => "e",
        'є' => "ye",
        'и' | 'й' => "y",
        'і' => "i",
        'ї' => "yi",
        'х' => "kh",
        'ц' => "ts",
        'щ' => "shch",
        'ь' => "’",
        'ю' => "yu",
        'я' => "ya",
        // Not Ukrainian: a hard sign stands where Ukrainian writes the apostrophe.
        'ъ' => "”",
        _ => return None,
    })
}

/// The Ukrainian national table (KMU 55:2010) through `uklatn`, which implements it with its
/// positional rules; the tests in `super` check it against the resolution's examples.
///
/// Two gaps of `uklatn` 1.20 are closed here: it drops only `'` and `’` as apostrophes
/// ("Знамʼянка" with U+02BC, which Unicode recommends for Ukrainian, came out "Znamʼianka", and
/// with a backtick "Znam`yanka"), so the other apostrophe forms between Cyrillic letters are
/// turned into `’` first; and it leaves letters outside the Ukrainian alphabet in Cyrillic
/// ("Ёlkyn"), so those are romanised afterwards by the ICAO fallback (ъ dropped).
///
/// `uklatn` runs `fancy_regex::Regex::replace_all`, which panics when the regex engine's
/// backtrack limit is exceeded; measured, that takes a few hundred thousand characters of
/// input. The caller's cap of [`crate::MAX_NAME_CHARS`] characters keeps it three orders of
/// magnitude away.
pub(super) fn ukrainian_national(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let prepared: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let between_letters = i
                .checked_sub(1)
                .and_then(|j| chars.get(j))
                .is_some_and(|p| is_cyrillic_letter(*p))
                && chars.get(i + 1).is_some_and(|n| is_cyrillic_letter(*n));
            if between_letters && crate::normalize::is_apostrophe(c) {
                '’'
            } else {
                c
            }
        })
        .collect();
    let latin = uklatn::encode(&prepared, uklatn::Table::Kmu55);
    if !latin.chars().any(is_cyrillic_letter) {
        return latin;
    }
    run(&latin, |l| if l.c == 'ъ' { Some("") } else { None })
}
