//! Name keys for search: every name part is normalised (NFKC, lower case, stress marks and
//! apostrophes removed) and folded to one Latin key, so that the Cyrillic and Latin spellings of
//! a surname ("Коваленко", "Kovalenko") meet. This is deliberately simple: it makes common
//! transliteration variants collide but knows nothing of name equivalents (Олександр ≡
//! Александр ≡ Alexander).

use unicode_normalization::UnicodeNormalization;

use crate::domain::{NameVariant, Script};

pub fn detect_script(s: &str) -> Script {
    let cyr = s
        .chars()
        .filter(|c| ('\u{0400}'..='\u{04FF}').contains(c))
        .count();
    let lat = s.chars().filter(|c| c.is_ascii_alphabetic()).count();
    match (cyr, lat) {
        (0, 0) => Script::Unknown,
        (c, l) if c >= l => Script::Cyrillic,
        _ => Script::Latin,
    }
}

fn cyrillic_to_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "h",
        'ґ' => "g",
        'д' => "d",
        'е' | 'є' | 'ё' | 'э' => "e",
        'ж' => "zh",
        'з' => "z",
        'и' | 'і' | 'ї' | 'й' | 'ы' => "i",
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
        'х' => "h",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ь' | 'ъ' => "",
        'ю' => "iu",
        'я' => "ia",
        _ => return None,
    })
}

/// The folded key of one name token, or an empty string for a token with no letters.
pub fn fold(token: &str) -> String {
    let mut latin = String::with_capacity(token.len());
    for c in token.nfkc().flat_map(char::to_lowercase) {
        if let Some(l) = cyrillic_to_latin(c) {
            latin.push_str(l);
        } else if c.is_ascii_alphabetic() {
            latin.push(c);
        }
        // Apostrophes, stress marks, hyphens and digits are dropped.
    }
    let latin = latin
        .replace("kh", "h")
        .replace('g', "h")
        .replace(['y', 'j'], "i")
        .replace('w', "v")
        .replace('x', "ks")
        .replace("ck", "k");
    let mut key = String::with_capacity(latin.len());
    for c in latin.chars() {
        if !key.ends_with(c) {
            key.push(c);
        }
    }
    key
}

/// Folded keys of every token of `text`.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '.' || c == '-')
        .map(fold)
        .filter(|k| k.len() >= 2)
        .collect()
}

/// The search keys of a person: every token of every name variant, once each.
pub fn person_keys(names: &[NameVariant]) -> Vec<String> {
    let mut keys: Vec<String> = names
        .iter()
        .flat_map(|n| [n.given.as_str(), n.family.as_str(), n.patronymic.as_str()])
        .flat_map(tokens)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Keys as stored: space-separated with a space at each end, so `LIKE '% key %'` matches whole
/// tokens only.
pub fn stored_keys(names: &[NameVariant]) -> String {
    format!(" {} ", person_keys(names).join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyrillic_and_latin_spellings_of_a_surname_share_a_key() {
        assert_eq!(fold("Коваленко"), fold("Kovalenko"));
        assert_eq!(fold("КОВАЛЕНКО"), fold("kovalenko"));
        assert_eq!(fold("Гнатюк"), fold("Hnatiuk"));
        assert_eq!(fold("Hnatyuk"), fold("Hnatiuk"));
        assert_eq!(fold("Kharkiv"), fold("Харків"));
        assert_eq!(fold("Олег"), fold("Oleh"));
    }

    #[test]
    fn apostrophes_and_stress_marks_do_not_matter() {
        assert_eq!(fold("Пил'ип"), fold("Пилип"));
        assert_eq!(fold("Па́вло"), fold("Павло"));
    }

    #[test]
    fn different_surnames_keep_different_keys() {
        assert_ne!(fold("Коваленко"), fold("Ковальчук"));
    }

    #[test]
    fn script_is_detected_from_letters() {
        assert_eq!(detect_script("Олександр"), Script::Cyrillic);
        assert_eq!(detect_script("Oleksandr"), Script::Latin);
        assert_eq!(detect_script("123"), Script::Unknown);
    }
}
