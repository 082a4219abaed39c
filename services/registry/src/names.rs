//! Name keys for search: every name part is normalised and folded to one Latin key by the
//! identity engine's text layer, so that the Cyrillic and Latin spellings of a name
//! ("Коваленко", "Kovalenko", "KOVALENKO") meet. Name equivalents (Олександр ≡ Александр ≡
//! Alexander) and scoring are not known here yet.

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

/// Folded keys of every token of `text` (see `homeward_identity::fold`), leaving out keys of
/// one letter: initials say too little to search on.
pub fn tokens(text: &str) -> Vec<String> {
    homeward_identity::fold_name(text)
        .into_iter()
        .filter(|k| k.chars().count() >= 2)
        .collect()
}

/// The keys to find candidates by. A query with a part that is no known given name or patronymic
/// (a surname, usually) is found by its own keys, and scoring recognises other forms of the given
/// names; a query of given names only also looks for their other forms (at most 64 keys).
pub fn candidate_keys(keys: &[String]) -> Vec<String> {
    if keys
        .iter()
        .any(|k| homeward_identity::name_classes(k).is_empty())
    {
        return keys.to_vec();
    }
    let mut all = keys.to_vec();
    for key in keys {
        for class in homeward_identity::name_classes(key) {
            for member in homeward_identity::class_members(*class) {
                let folded = homeward_identity::fold_token(member);
                if folded.chars().count() >= 2 && !all.contains(&folded) {
                    all.push(folded);
                }
            }
        }
    }
    all.truncate(64);
    all
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

    fn key(token: &str) -> Vec<String> {
        tokens(token)
    }

    #[test]
    fn cyrillic_and_latin_spellings_of_a_surname_share_a_key() {
        assert_eq!(key("Коваленко"), key("Kovalenko"));
        assert_eq!(key("КОВАЛЕНКО"), key("kovalenko"));
        assert_eq!(key("Гнатюк"), key("Hnatiuk"));
        assert_eq!(key("Hnatyuk"), key("Hnatiuk"));
        assert_eq!(key("Kharkiv"), key("Харків"));
        assert_eq!(key("Олег"), key("Oleh"));
    }

    #[test]
    fn apostrophes_and_stress_marks_do_not_matter() {
        assert_eq!(key("Пил'ип"), key("Пилип"));
        assert_eq!(key("Па́вло"), key("Павло"));
    }

    #[test]
    fn different_surnames_keep_different_keys() {
        assert_ne!(key("Коваленко"), key("Ковальчук"));
    }

    #[test]
    fn script_is_detected_from_letters() {
        assert_eq!(detect_script("Олександр"), Script::Cyrillic);
        assert_eq!(detect_script("Oleksandr"), Script::Latin);
        assert_eq!(detect_script("123"), Script::Unknown);
    }
}
