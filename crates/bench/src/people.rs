//! Realistic, reproducible persons: Ukrainian names in Cyrillic with their Latin transliteration,
//! birth dates, ranks, units, documents, capture records. Everything is drawn from a seeded
//! generator, so two runs with the same seed send the same persons (with fresh ids).

use homeward_proto::{common::v1 as common, registry::v1 as pb};
use homeward_registry::{
    convert::{self, Check},
    domain,
};

pub use homeward_story::Rng;

/// (Cyrillic, Latin) pairs, as the national transliteration writes them.
const MALE_GIVEN: &[(&str, &str)] = &[
    ("Олександр", "Oleksandr"),
    ("Андрій", "Andrii"),
    ("Сергій", "Serhii"),
    ("Дмитро", "Dmytro"),
    ("Іван", "Ivan"),
    ("Микола", "Mykola"),
    ("Василь", "Vasyl"),
    ("Юрій", "Yurii"),
    ("Богдан", "Bohdan"),
    ("Тарас", "Taras"),
    ("Віктор", "Viktor"),
    ("Олег", "Oleh"),
    ("Максим", "Maksym"),
    ("Євген", "Yevhen"),
    ("Петро", "Petro"),
    ("Роман", "Roman"),
    ("Володимир", "Volodymyr"),
    ("Михайло", "Mykhailo"),
    ("Ярослав", "Yaroslav"),
    ("Артем", "Artem"),
];

const FEMALE_GIVEN: &[(&str, &str)] = &[
    ("Олена", "Olena"),
    ("Наталія", "Nataliia"),
    ("Ірина", "Iryna"),
    ("Оксана", "Oksana"),
    ("Тетяна", "Tetiana"),
    ("Марія", "Mariia"),
    ("Юлія", "Yuliia"),
    ("Світлана", "Svitlana"),
    ("Анна", "Anna"),
    ("Людмила", "Liudmyla"),
];

const FAMILY: &[(&str, &str)] = &[
    ("Коваленко", "Kovalenko"),
    ("Бондаренко", "Bondarenko"),
    ("Шевченко", "Shevchenko"),
    ("Ткаченко", "Tkachenko"),
    ("Кравченко", "Kravchenko"),
    ("Мельник", "Melnyk"),
    ("Бойко", "Boiko"),
    ("Олійник", "Oliinyk"),
    ("Лисенко", "Lysenko"),
    ("Поліщук", "Polishchuk"),
    ("Савченко", "Savchenko"),
    ("Руденко", "Rudenko"),
    ("Мороз", "Moroz"),
    ("Марченко", "Marchenko"),
    ("Петренко", "Petrenko"),
    ("Клименко", "Klymenko"),
    ("Павленко", "Pavlenko"),
    ("Коваль", "Koval"),
    ("Гончаренко", "Honcharenko"),
    ("Левченко", "Levchenko"),
    ("Гнатюк", "Hnatiuk"),
    ("Кузьменко", "Kuzmenko"),
    ("Сидоренко", "Sydorenko"),
    ("Карпенко", "Karpenko"),
    ("Яковенко", "Yakovenko"),
];

/// (male Cyrillic, female Cyrillic, male Latin, female Latin) patronymics.
const PATRONYMIC: &[(&str, &str, &str, &str)] = &[
    (
        "Олександрович",
        "Олександрівна",
        "Oleksandrovych",
        "Oleksandrivna",
    ),
    ("Андрійович", "Андріївна", "Andriiovych", "Andriivna"),
    ("Сергійович", "Сергіївна", "Serhiiovych", "Serhiivna"),
    ("Іванович", "Іванівна", "Ivanovych", "Ivanivna"),
    ("Миколайович", "Миколаївна", "Mykolaiovych", "Mykolaivna"),
    ("Васильович", "Василівна", "Vasylovych", "Vasylivna"),
    ("Петрович", "Петрівна", "Petrovych", "Petrivna"),
    ("Вікторович", "Вікторівна", "Viktorovych", "Viktorivna"),
    ("Юрійович", "Юріївна", "Yuriiovych", "Yuriivna"),
    (
        "Володимирович",
        "Володимирівна",
        "Volodymyrovych",
        "Volodymyrivna",
    ),
];

const CITIES: &[&str] = &[
    "Київ",
    "Харків",
    "Маріуполь",
    "Запоріжжя",
    "Херсон",
    "Миколаїв",
    "Одеса",
    "Дніпро",
    "Чернігів",
    "Суми",
    "Полтава",
    "Львів",
];

const CAPTURE_PLACES: &[&str] = &[
    "Маріуполь, Донецька обл.",
    "Бахмут, Донецька обл.",
    "Сєвєродонецьк, Луганська обл.",
    "Ізюм, Харківська обл.",
    "Куп'янськ, Харківська обл.",
    "Енергодар, Запорізька обл.",
    "Авдіївка, Донецька обл.",
    "Кринки, Херсонська обл.",
];

const DETENTION_PLACES: &[&str] = &[
    "СІЗО-2, Таганрог",
    "ВК-10, Мордовія",
    "СІЗО-1, Курськ",
    "ВК-1, Оленівка",
    "СІЗО-3, Брянськ",
    "ВК-7, Рязань",
];

const RANKS: &[&str] = &[
    "солдат",
    "старший солдат",
    "молодший сержант",
    "сержант",
    "старший сержант",
    "старшина",
    "молодший лейтенант",
    "лейтенант",
    "старший лейтенант",
    "капітан",
];

const UNIT_KINDS: &[&str] = &[
    "окрема механізована бригада",
    "окрема бригада морської піхоти",
    "окрема штурмова бригада",
    "бригада територіальної оборони",
    "окрема десантно-штурмова бригада",
];

/// A generated person as a registrar would send it, with the source of the initial status.
pub struct Generated {
    pub person: pb::Person,
    pub source: i32,
    pub reliability: i32,
}

/// One random person. `n` makes the file reference and numbers unique within `tag`.
pub fn person(rng: &mut Rng, tag: &str, n: usize) -> Generated {
    let female = rng.chance(8);
    let (given_c, given_l) = *rng.pick(if female { FEMALE_GIVEN } else { MALE_GIVEN });
    let (family_c, family_l) = *rng.pick(FAMILY);
    let &(pm_c, pf_c, pm_l, pf_l) = rng.pick(PATRONYMIC);
    let (patronymic_c, patronymic_l) = if female { (pf_c, pf_l) } else { (pm_c, pm_l) };
    let service_member = rng.chance(85);
    let source = *rng.pick(&[
        common::InformationSource::OwnReport,
        common::InformationSource::OtherPartyList,
        common::InformationSource::TracingAgency,
        common::InformationSource::IdentityDocument,
    ]) as i32;

    let mut names = vec![
        common::PersonName {
            script: common::Script::Cyrillic as i32,
            given: given_c.into(),
            family: family_c.into(),
            patronymic: patronymic_c.into(),
            source: common::InformationSource::OwnReport as i32,
            language: "uk".into(),
        },
        common::PersonName {
            script: common::Script::Latin as i32,
            given: given_l.into(),
            family: family_l.into(),
            patronymic: patronymic_l.into(),
            source: common::InformationSource::OtherPartyList as i32,
            language: "en".into(),
        },
    ];
    if rng.chance(20) {
        // The other party's list often has the surname only, in Latin.
        names.push(common::PersonName {
            script: common::Script::Latin as i32,
            given: String::new(),
            family: family_l.to_uppercase(),
            patronymic: String::new(),
            source: common::InformationSource::TracingAgency as i32,
            language: String::new(),
        });
    }

    let birth_date = if rng.chance(10) {
        common::PartialDate {
            year: rng.range(1965, 2005),
            month: 0,
            day: 0,
        }
    } else {
        common::PartialDate {
            year: rng.range(1965, 2005),
            month: rng.range(1, 12),
            day: rng.range(1, 28),
        }
    };
    let status = *rng.pick(&[
        pb::PersonStatus::Captured,
        pb::PersonStatus::Captured,
        pb::PersonStatus::Interned,
        pb::PersonStatus::Interned,
        pb::PersonStatus::Interned,
        pb::PersonStatus::Hospitalised,
        pb::PersonStatus::Missing,
    ]) as i32;
    let missing = status == pb::PersonStatus::Missing as i32;

    let person = pb::Person {
        category: if service_member {
            common::PersonCategory::ServiceMember
        } else {
            common::PersonCategory::Civilian
        } as i32,
        sex: if female {
            common::Sex::Female
        } else {
            common::Sex::Male
        } as i32,
        names,
        birth_date: Some(birth_date),
        birth_place: rng.pick(CITIES).to_string(),
        citizenship: "UA".into(),
        affiliated_party: "UA".into(),
        holding_party: "RU".into(),
        service_number: if service_member {
            format!("{:07}", rng.below(10_000_000))
        } else {
            String::new()
        },
        rank: if service_member {
            rng.pick(RANKS).to_string()
        } else {
            String::new()
        },
        unit: if service_member {
            format!("{} {}", rng.range(10, 160), rng.pick(UNIT_KINDS))
        } else {
            String::new()
        },
        documents: vec![common::IdentityDocument {
            r#type: if service_member {
                common::DocumentType::MilitaryId
            } else {
                common::DocumentType::Passport
            } as i32,
            number: format!("АА{:06}", rng.below(1_000_000)),
            issuing_country: "UA".into(),
        }],
        capture: (!missing).then(|| pb::Capture {
            date: Some(common::PartialDate {
                year: rng.range(2022, 2025),
                month: rng.range(1, 12),
                day: rng.range(1, 28),
            }),
            place: rng.pick(CAPTURE_PLACES).to_string(),
        }),
        detention_place: if missing {
            String::new()
        } else {
            rng.pick(DETENTION_PLACES).to_string()
        },
        health: Some(pb::Health {
            wounded: rng.chance(12),
            seriously_ill: rng.chance(3),
        }),
        status,
        file_reference: format!("UA-{tag}-{n:07}"),
        ..pb::Person::default()
    };
    Generated {
        person,
        source,
        reliability: rng.range(1, 4),
    }
}

/// The `persons` row the registry would store for `g`: the same columns, and the same JSON
/// record (the domain type, serialised as the store does).
pub struct Row {
    pub id: String,
    pub version: i64,
    pub category: String,
    pub status: String,
    pub holding_party: String,
    pub affiliated_party: String,
    pub file_reference: Option<String>,
    pub merged_into: Option<String>,
    pub record: String,
    pub updated_at_us: i64,
}

/// The snake-case tag serde gives a unit variant, as stored in the filter columns.
fn tag(value: serde_json::Result<serde_json::Value>) -> String {
    match value {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The person and first history entry the registry would create for `g`.
pub fn domain_person(g: &Generated, recorded_by: &str) -> (domain::Person, domain::StatusEntry) {
    let mut check = Check::default();
    let identity = convert::identity(&mut check, "person", &g.person);
    assert!(
        check.violations.is_empty(),
        "generated an invalid person: {:?}",
        check.violations
    );
    let status = convert::status(g.person.status).unwrap_or(domain::Status::Captured);
    let now = homeward_kit::timestamp::now_micros();
    let entry = domain::StatusEntry {
        sequence: 1,
        status,
        occurred_at_us: now,
        source: convert::source(g.source).unwrap_or(domain::Source::Unknown),
        reliability: convert::reliability(g.reliability).unwrap_or(domain::Reliability::Unknown),
        detention_place: identity.detention_place.clone(),
        capture: identity.capture.clone(),
        exchange_id: None,
        note: String::new(),
        recorded_at_us: now,
        recorded_by: recorded_by.to_string(),
    };
    let person = domain::Person {
        id: uuid::Uuid::now_v7(),
        version: 1,
        identity,
        status,
        status_at_us: now,
        reserved_for: None,
        status_before_reservation: None,
        history_len: 1,
        merged_into: None,
        created_at_us: now,
        updated_at_us: now,
    };
    (person, entry)
}

pub fn row(g: &Generated) -> Row {
    stored_row(&domain_person(g, "registry-bench").0)
}

/// The columns the store writes for `person`.
fn stored_row(person: &domain::Person) -> Row {
    let i = &person.identity;
    Row {
        id: person.id.to_string(),
        version: person.version,
        category: tag(serde_json::to_value(i.category)),
        status: tag(serde_json::to_value(person.status)),
        holding_party: i.holding_party.clone(),
        affiliated_party: i.affiliated_party.clone(),
        file_reference: i.file_reference.clone(),
        merged_into: None,
        record: serde_json::to_string(person).unwrap_or_default(),
        updated_at_us: person.updated_at_us,
    }
}
