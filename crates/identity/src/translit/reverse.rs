//! Latin → Cyrillic, best effort, for the Ukrainian national and Russian ICAO tables.
//!
//! Romanisation loses information (ICAO writes и and й alike as "i", the national table drops
//! the soft sign, "ia" may be я or ія), so no reverse is exact: this module returns the one
//! spelling most likely for a personal name, by greedy longest match with a few positional
//! rules. It is for display and for building a Cyrillic query from a Latin one; it must never be
//! used to decide that two names are the same (fold keys do that), and it must never panic or
//! read more than [`MAX_NAME_CHARS`] characters.

use crate::normalize::MAX_NAME_CHARS;

/// A table to reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReverseTable {
    /// Back to Ukrainian from the national table (KMU-2010), also accepting the common
    /// non-standard spellings ya/yu/ye/ja/ju/je and w, x, j.
    UkrainianNational,
    /// Back to Russian from ICAO Doc 9303, also accepting ya/yu/ye/yo and h for х.
    RussianIcao,
}

/// Turns a romanised name back into Cyrillic with one table, keeping case.
///
/// Reverse transliteration is ambiguous; this returns one most-likely form:
/// - the soft sign and the apostrophe are never restored ("Tatiana" → "Татяна" for Татьяна,
///   "Znamianka" → "Знамянка" for Знам'янка, "Zelenskyi" → "Зеленский" for Зеленський);
/// - Ukrainian: "g" is ґ (as the table writes it), "h" is г, "ia/iu/ie" are я/ю/є, "ii" and
///   "yi" at the end of a word are ій and ий, "i" after a, e, o, u is й and after y is ї;
/// - Russian: "i" after a vowel is й unless the word ends in "il" (Mikhail), "ii" and "yi" at
///   the end of a word are ий and ый, "ie" is ие (a hard sign is never restored), "e" is е,
///   never э or ё;
/// - both: "iy" and "yy" at the end of a word count as "ii" and "yi" (Serhiy, Groznyy).
///
/// Characters that are not ASCII letters pass through unchanged. Only the first
/// [`MAX_NAME_CHARS`] characters of `text` are read; the output is at most two characters per
/// character read.
pub fn to_cyrillic(text: &str, table: ReverseTable) -> String {
    let chars: Vec<char> = text.chars().take(MAX_NAME_CHARS).collect();
    let mut out = String::with_capacity(chars.len() * 2);
    let mut word: Vec<char> = Vec::new();
    for &c in &chars {
        if c.is_ascii_alphabetic() {
            word.push(c);
            continue;
        }
        convert_word(&word, table, &mut out);
        word.clear();
        out.push(c);
    }
    convert_word(&word, table, &mut out);
    out
}

fn convert_word(word: &[char], table: ReverseTable, out: &mut String) {
    if word.is_empty() {
        return;
    }
    let lower: Vec<char> = word.iter().map(char::to_ascii_lowercase).collect();
    let all_caps = word.len() > 1 && word.iter().all(char::is_ascii_uppercase);
    let mut i = 0;
    while i < lower.len() {
        let (cyr, used) = match table {
            ReverseTable::UkrainianNational => ukrainian(&lower, i),
            ReverseTable::RussianIcao => russian(&lower, i),
        };
        // `used` is at least one by construction; the max keeps the loop finite regardless.
        let used = used.max(1);
        let capital = word.get(i).is_some_and(char::is_ascii_uppercase);
        for (k, ch) in cyr.chars().enumerate() {
            if all_caps || (capital && k == 0) {
                out.extend(ch.to_uppercase());
            } else {
                out.push(ch);
            }
        }
        i += used;
    }
}

fn is_latin_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

fn at(w: &[char], i: usize) -> Option<char> {
    w.get(i).copied()
}

fn starts(w: &[char], i: usize, pat: &str) -> bool {
    (i..).zip(pat.chars()).all(|(k, p)| at(w, k) == Some(p))
}

/// One step of the Ukrainian reverse: the Cyrillic for the longest match at `i` and how many
/// Latin letters it used.
fn ukrainian(w: &[char], i: usize) -> (&'static str, usize) {
    let start = i == 0;
    let end_after = |n: usize| i + n == w.len();
    let prev = i.checked_sub(1).and_then(|j| at(w, j));
    if starts(w, i, "shch") {
        return ("щ", 4);
    }
    if starts(w, i, "zgh") {
        return ("зг", 3);
    }
    for (pat, cyr) in [
        ("kh", "х"),
        ("zh", "ж"),
        ("ts", "ц"),
        ("ch", "ч"),
        ("sh", "ш"),
    ] {
        if starts(w, i, pat) {
            return (cyr, 2);
        }
    }
    // Word-final endings first: they decide between й and ї. "iy" and "yy" are the common
    // English and BGN/PCGN spellings of the same endings (Serhiy, Haharins'kyy).
    if (starts(w, i, "ii") || starts(w, i, "iy")) && end_after(2) {
        return ("ій", 2);
    }
    if (starts(w, i, "yi") || starts(w, i, "yy")) && end_after(2) {
        return ("ий", 2);
    }
    // "ii" before a vowel is і + iotated vowel (Mariia); before a consonant or "o" it is ій
    // (Andriiovych).
    if starts(w, i, "ii") {
        let after = at(w, i + 2);
        if after.is_some_and(|c| matches!(c, 'a' | 'u' | 'e')) {
            return ("і", 1);
        }
        return ("ій", 2);
    }
    for (pat, cyr) in [
        ("ia", "я"),
        ("iu", "ю"),
        ("ie", "є"),
        ("ya", "я"),
        ("yu", "ю"),
        ("ye", "є"),
        ("ja", "я"),
        ("ju", "ю"),
        ("je", "є"),
    ] {
        if starts(w, i, pat) {
            return (cyr, 2);
        }
    }
    if starts(w, i, "yi") && (start || prev.is_some_and(is_latin_vowel)) {
        return ("ї", 2);
    }
    if starts(w, i, "yo") && start {
        return ("йо", 2);
    }
    if starts(w, i, "ji") {
        return ("ї", 2);
    }
    let c = at(w, i).unwrap_or(' ');
    let single = match c {
        'a' => "а",
        'b' => "б",
        'c' => "ц",
        'd' => "д",
        'e' => "е",
        'f' => "ф",
        'g' => "ґ",
        'h' => "г",
        'i' => match prev {
            Some('a' | 'e' | 'o' | 'u') => "й",
            Some('y') => "ї",
            _ => "і",
        },
        'j' => "й",
        'k' => "к",
        'l' => "л",
        'm' => "м",
        'n' => "н",
        'o' => "о",
        'p' => "п",
        'q' => "к",
        'r' => "р",
        's' => "с",
        't' => "т",
        'u' => "у",
        'v' | 'w' => "в",
        'x' => "кс",
        'y' => "и",
        'z' => "з",
        _ => "",
    };
    (single, 1)
}

/// One step of the Russian (ICAO) reverse.
fn russian(w: &[char], i: usize) -> (&'static str, usize) {
    let end_after = |n: usize| i + n == w.len();
    let prev = i.checked_sub(1).and_then(|j| at(w, j));
    if starts(w, i, "shch") {
        return ("щ", 4);
    }
    for (pat, cyr) in [
        ("kh", "х"),
        ("zh", "ж"),
        ("ts", "ц"),
        ("ch", "ч"),
        ("sh", "ш"),
    ] {
        if starts(w, i, pat) {
            return (cyr, 2);
        }
    }
    if (starts(w, i, "ii") || starts(w, i, "iy")) && end_after(2) {
        return ("ий", 2);
    }
    if (starts(w, i, "yi") || starts(w, i, "yy")) && end_after(2) {
        return ("ый", 2);
    }
    for (pat, cyr) in [
        ("ia", "я"),
        ("iu", "ю"),
        ("ya", "я"),
        ("yu", "ю"),
        ("yo", "ё"),
        ("ja", "я"),
        ("ju", "ю"),
    ] {
        if starts(w, i, pat) {
            return (cyr, 2);
        }
    }
    if starts(w, i, "ye") {
        return ("е", 2);
    }
    let c = at(w, i).unwrap_or(' ');
    let single = match c {
        'a' => "а",
        'b' => "б",
        'c' => "к",
        'd' => "д",
        'e' => "е",
        'f' => "ф",
        'g' => "г",
        'h' => "х",
        // After a vowel ICAO's "i" is usually й (Andrei, Zaitsev), except in the -ail/-eil
        // endings of given names (Mikhail, Rafail).
        'i' if prev.is_some_and(|p| matches!(p, 'a' | 'e' | 'o' | 'u' | 'y'))
            && !(at(w, i + 1) == Some('l') && end_after(2)) =>
        {
            "й"
        }
        'i' => "и",
        'j' => "й",
        'k' => "к",
        'l' => "л",
        'm' => "м",
        'n' => "н",
        'o' => "о",
        'p' => "п",
        'q' => "к",
        'r' => "р",
        's' => "с",
        't' => "т",
        'u' => "у",
        'v' | 'w' => "в",
        'x' => "кс",
        'y' => "ы",
        'z' => "з",
        _ => "",
    };
    (single, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translit::{Table, to_latin};

    fn uk(s: &str) -> String {
        to_cyrillic(s, ReverseTable::UkrainianNational)
    }

    fn ru(s: &str) -> String {
        to_cyrillic(s, ReverseTable::RussianIcao)
    }

    #[test]
    fn common_ukrainian_names_round_trip_through_the_national_table() {
        for name in [
            "Коваленко",
            "Шевченко",
            "Олександр",
            "Бондаренко",
            "Ткаченко",
            "Кравченко",
            "Олійник",
            "Юрій",
            "Андрій",
            "Олексій",
            "Сергій",
            "Євген",
            "Ярослав",
            "Костянтин",
            "Марія",
            "Наталія",
            "Юлія",
            "Тетяна",
            "Михайло",
            "Київ",
            "Стрий",
            "Згорани",
            "Розгон",
            "Їжакевич",
            "Йосипівка",
            "Гнатюк",
            "Ґалаґан",
            "Андрійович",
            "Сергієнко",
        ] {
            let latin = to_latin(name, Table::UkrainianNational);
            assert_eq!(uk(&latin), name, "{name} → {latin}");
        }
    }

    #[test]
    fn common_russian_names_round_trip_through_icao() {
        for name in [
            "Александр",
            "Коваленко",
            "Шевченко",
            "Иванов",
            "Кузнецов",
            "Смирнов",
            "Юрий",
            "Андрей",
            "Алексей",
            "Сергей",
            "Николай",
            "Дмитрий",
            "Михаил",
            "Юлия",
            "Ярослав",
            "Щукин",
            "Зайцев",
            "Белый",
            "Чайковский",
        ] {
            let latin = to_latin(name, Table::RussianIcao);
            assert_eq!(ru(&latin), name, "{name} → {latin}");
        }
    }

    #[test]
    fn round_trips_named_in_the_issue() {
        assert_eq!(uk("Kovalenko"), "Коваленко");
        assert_eq!(uk("Shevchenko"), "Шевченко");
        assert_eq!(uk("Oleksandr"), "Олександр");
        assert_eq!(ru("Aleksandr"), "Александр");
        assert_eq!(to_latin("Коваленко", Table::UkrainianNational), "Kovalenko");
        assert_eq!(to_latin("Шевченко", Table::UkrainianNational), "Shevchenko");
        assert_eq!(to_latin("Олександр", Table::UkrainianNational), "Oleksandr");
        assert_eq!(to_latin("Александр", Table::RussianIcao), "Aleksandr");
    }

    #[test]
    fn non_standard_spellings_are_accepted() {
        assert_eq!(uk("Gnatyuk"), "Ґнатюк");
        assert_eq!(uk("Serhiy"), "Сергій");
        assert_eq!(uk("Kostyantyn"), "Костянтин");
        assert_eq!(uk("Yevhen"), "Євген");
        assert_eq!(uk("Jurij"), "Юрій");
        assert_eq!(uk("Mykolayiv"), "Миколаїв");
        assert_eq!(ru("Yuriy"), "Юрий");
        assert_eq!(ru("Groznyy"), "Грозный");
        assert_eq!(ru("Mihail"), "Михаил");
        assert_eq!(ru("Alexandr"), "Александр");
        assert_eq!(ru("Fyodor"), "Фёдор");
    }

    #[test]
    fn soft_signs_are_not_restored() {
        assert_eq!(uk("Tetiana"), "Тетяна");
        assert_eq!(ru("Tatiana"), "Татяна");
        assert_eq!(uk("Znamianka"), "Знамянка");
        assert_eq!(uk("Zelenskyi"), "Зеленский");
    }

    #[test]
    fn case_and_non_letters_are_kept() {
        assert_eq!(uk("KOVALENKO Oleksandr"), "КОВАЛЕНКО Олександр");
        assert_eq!(ru("SHCHUKIN, Iurii"), "ЩУКИН, Юрий");
        assert_eq!(uk("Ivano-Frankivsk 1"), "Івано-Франківск 1");
        assert_eq!(ru("José"), "Йосé");
        assert_eq!(uk(""), "");
    }

    #[test]
    fn only_the_first_name_length_of_characters_is_read() {
        let long = "x".repeat(10 * MAX_NAME_CHARS);
        assert_eq!(uk(&long).chars().count(), 2 * MAX_NAME_CHARS);
    }
}
