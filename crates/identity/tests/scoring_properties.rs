//! Property tests of the scorer and the candidate index on arbitrary identities: names of
//! arbitrary Unicode (biased towards Cyrillic, look-alikes and punctuation), any dates, numbers
//! and sexes. Nothing may panic, confidences stay within 0 to 1, explanations are present, a
//! record always finds itself, and names alone never reach a match. No timing is asserted.

use homeward_identity::{
    BirthDate, Identity, Index, Name, SearchOptions, Sex, TypicalFrequencies, compare, compile,
    reconcile, score::FULL_NAME_CAP,
};
use proptest::prelude::*;

const SPECIAL: &str = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюяёыэъОЛЕКСАНДРaceiopxykmthO'’ʼ-.\u{0301} \t";

fn text(max: usize) -> impl Strategy<Value = String> {
    let special: Vec<char> = SPECIAL.chars().collect();
    let one = prop_oneof![1 => any::<char>(), 4 => proptest::sample::select(special)];
    proptest::collection::vec(one, 0..max).prop_map(String::from_iter)
}

fn name() -> impl Strategy<Value = Name> {
    (text(40), text(30), text(30), text(60)).prop_map(|(family, given, patronymic, free)| Name {
        family,
        given,
        patronymic,
        free,
    })
}

fn identity() -> impl Strategy<Value = Identity> {
    (
        proptest::collection::vec(name(), 0..10),
        proptest::option::of((any::<i32>(), any::<Option<u8>>(), any::<Option<u8>>())),
        0u8..3,
        text(40),
        text(20),
        proptest::collection::vec(text(20), 0..10),
    )
        .prop_map(
            |(names, date, sex, unit, service_number, documents)| Identity {
                names,
                birth_date: date.map(|(year, month, day)| BirthDate { year, month, day }),
                sex: [Sex::Unknown, Sex::Male, Sex::Female][usize::from(sex)],
                unit,
                service_number,
                documents,
            },
        )
}

/// Cases per property: 200 in the test suite; PROPTEST_CASES raises it for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn comparing_any_two_identities_is_bounded_and_explained(a in identity(), b in identity()) {
        let c = compare(&compile(&a), &compile(&b), &TypicalFrequencies);
        prop_assert!(c.weight.is_finite());
        prop_assert!((0.0..=1.0).contains(&c.confidence));
        if c.names_only {
            prop_assert!(c.confidence <= FULL_NAME_CAP);
        }
        prop_assert!(c.explanation.len() <= 40);
    }

    #[test]
    fn the_index_finds_a_record_by_itself_and_survives_any_query(
        records in proptest::collection::vec(identity(), 1..12),
        query in identity(),
    ) {
        let mut index = Index::new();
        for (i, r) in records.iter().enumerate() {
            index.upsert(i as u128, 1, 0, r);
        }
        for hit in index.search_identity(&query, &SearchOptions::default()) {
            prop_assert!((hit.id as usize) < records.len());
            prop_assert!((0.0..=1.0).contains(&hit.comparison.confidence));
        }
        for (i, r) in records.iter().enumerate() {
            if compile(r).has_names() {
                let options = SearchOptions { max_results: records.len(), ..SearchOptions::default() };
                let hits = index.search_identity(r, &options);
                prop_assert!(hits.iter().any(|h| h.id == i as u128), "record {} not found by itself", i);
            }
        }
        let (pairs, _) = index.find_duplicates(0, records.len(), &SearchOptions::default());
        prop_assert!(pairs.iter().all(|p| p.first != p.second));
        let paired = reconcile(&records, std::slice::from_ref(&query), 0.5);
        prop_assert!(paired.len() <= 1);
    }
}
