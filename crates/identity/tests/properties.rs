//! Property tests: on arbitrary Unicode input of up to a few kilobytes, every entry point of
//! the text layer returns without panicking and with output bounded by the documented caps.
//!
//! These run at the gRPC edge's worst: random code points from every plane, plus a bias
//! towards the characters the code treats specially (Cyrillic, look-alike Latin, apostrophes,
//! combining marks, dashes, compatibility forms). They must never assert on timing.

use homeward_identity::{
    MAX_NAME_CHARS, MAX_TOKEN_CHARS, ReverseTable, Table, fold_name, fold_token, normalize,
    to_cyrillic, to_latin,
};
use proptest::prelude::*;

/// Cases per property: many short inputs (up to 300 characters, past the token cap and near
/// the name cap) and fewer long ones (up to 4,096 characters, past the read limit), because
/// generating and shrinking a 4 KB string costs proptest far more than the code under test.
const SHORT_CASES: u32 = 2_000;
const SHORT_LEN: usize = 300;
const LONG_CASES: u32 = 200;
const LONG_LEN: usize = 4_096;

/// Characters the code branches on, to reach those branches far more often than uniformly
/// random code points would.
const SPECIAL: &str = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюяёыэъАБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯЁЫЭЪ\
                       aceiopxykmthbAEHIKMOPTXYBCjsdqwëïËÏѕјһԁԛԝ\
                       '’ʼ`\"‘´ʹʺ«»-‐–—−\u{0301}\u{0300}\u{0306}\u{0308}\u{0307}\u{FDFA}ﬃＫİẞǅ \t\n,.";

fn text_up_to(max_len: usize) -> impl Strategy<Value = String> {
    let special: Vec<char> = SPECIAL.chars().collect();
    let one = prop_oneof![
        1 => any::<char>(),
        3 => proptest::sample::select(special),
    ];
    proptest::collection::vec(one, 0..max_len).prop_map(String::from_iter)
}

fn check_normalize(s: &str) -> Result<(), TestCaseError> {
    let n = normalize(s);
    prop_assert!(chars(n.as_str()) <= MAX_NAME_CHARS);
    prop_assert!(
        n.tokens()
            .all(|t| chars(t) <= MAX_TOKEN_CHARS && !t.is_empty())
    );
    prop_assert!(!n.as_str().starts_with(' ') && !n.as_str().ends_with(' '));
    prop_assert!(!n.as_str().contains("  "));
    // Normalising a normalised name changes nothing: stored forms can be re-normalised.
    let again = normalize(n.as_str());
    prop_assert_eq!(again.as_str(), n.as_str());
    Ok(())
}

fn check_tables(s: &str) -> Result<(), TestCaseError> {
    let read = chars(s).min(MAX_NAME_CHARS);
    for table in Table::ALL {
        let latin = to_latin(s, table);
        prop_assert!(
            chars(&latin) <= 8 * read,
            "{} gave {} characters for {} read",
            table.id(),
            chars(&latin),
            read
        );
    }
    for table in [ReverseTable::UkrainianNational, ReverseTable::RussianIcao] {
        let cyr = to_cyrillic(s, table);
        prop_assert!(chars(&cyr) <= 2 * read);
    }
    Ok(())
}

fn check_fold(s: &str) -> Result<(), TestCaseError> {
    let key = fold_token(s);
    prop_assert!(chars(&key) <= 4 * MAX_NAME_CHARS);
    prop_assert!(
        !key.chars()
            .any(|c| c.is_whitespace() || c.is_ascii_uppercase() || c == '-')
    );
    let keys = fold_name(s);
    prop_assert!(keys.len() <= MAX_NAME_CHARS / 2 + 1);
    prop_assert!(
        keys.iter()
            .all(|k| !k.is_empty() && chars(k) <= 4 * MAX_TOKEN_CHARS)
    );
    // Folding the normalised form gives the same keys as folding the raw input.
    prop_assert_eq!(fold_name(normalize(s).as_str()), keys);
    Ok(())
}

fn cyrillic_words() -> impl Strategy<Value = String> {
    "[абвгґдеєжзиіїйклмнопрстуфхцчшщьюяёыэъ’ ]{0,300}"
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: SHORT_CASES, ..ProptestConfig::default() })]

    #[test]
    fn normalize_is_bounded_and_stable(s in text_up_to(SHORT_LEN)) {
        check_normalize(&s)?;
    }

    #[test]
    fn every_table_is_bounded(s in text_up_to(SHORT_LEN)) {
        check_tables(&s)?;
    }

    #[test]
    fn fold_is_bounded_and_canonical(s in text_up_to(SHORT_LEN)) {
        check_fold(&s)?;
    }

    #[test]
    fn cyrillic_text_always_comes_out_in_latin(s in cyrillic_words()) {
        for table in Table::ALL {
            let latin = to_latin(&s, table);
            prop_assert!(
                !latin.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)),
                "{}: {:?} → {:?}", table.id(), s, latin
            );
        }
    }

    #[test]
    fn fold_ignores_case_of_cyrillic(s in cyrillic_words()) {
        prop_assert_eq!(fold_name(&s.to_uppercase()), fold_name(&s));
    }

    #[test]
    fn every_table_output_folds_like_its_cyrillic_source_for_ukrainian_national(
        s in "[абвгґдеєжзиіїйклмнопрстуфхцчшщьюя]{1,20}"
    ) {
        // The national table is what passports carry; its Latin must meet the Cyrillic key.
        let latin = to_latin(&s, Table::UkrainianNational);
        prop_assert_eq!(fold_token(&latin), fold_token(&s), "{} → {}", s, latin);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: LONG_CASES, ..ProptestConfig::default() })]

    #[test]
    fn long_input_is_bounded_everywhere(s in text_up_to(LONG_LEN)) {
        check_normalize(&s)?;
        check_tables(&s)?;
        check_fold(&s)?;
    }
}
