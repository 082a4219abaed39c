//! The people of the story: soldiers and civilians of each party held by the other, with
//! Ukrainian or Russian names in Cyrillic, birth dates, service numbers. Drawn from a seeded
//! generator, so a seed always gives the same people; full names never repeat within a side.
//! With canaries (`Plan::canaries`) every personal datum is replaced by a marked value, so a
//! test can search the services' logs, spans and metrics for them.

use homeward_identity::{Table, to_latin};

/// SplitMix64: small, fast, good enough for generated people.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn range(&mut self, lo: i32, hi_inclusive: i32) -> i32 {
        lo + self.below((hi_inclusive - lo + 1) as u64) as i32
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// Uniform in `0..len` (len > 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Ua,
    Ru,
}

impl Party {
    pub fn code(self) -> &'static str {
        match self {
            Party::Ua => "UA",
            Party::Ru => "RU",
        }
    }

    pub fn other(self) -> Party {
        match self {
            Party::Ua => Party::Ru,
            Party::Ru => Party::Ua,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detainee {
    /// The party the person belongs to; the other party holds them.
    pub party: Party,
    pub family: String,
    pub given: String,
    pub patronymic: String,
    pub female: bool,
    pub civilian: bool,
    pub birth: (i32, i32, i32),
    pub service_number: String,
    /// Set when the person's data are canary values: the canary they were drawn from.
    pub canary: Option<Canary>,
}

impl Detainee {
    /// The names in Latin letters as the other party's clerk would write them.
    pub fn latin(&self) -> (String, String) {
        let table = match self.party {
            Party::Ua => Table::UkrainianBgnPcgn,
            Party::Ru => Table::RussianIcao,
        };
        (to_latin(&self.family, table), to_latin(&self.given, table))
    }

    /// This person with every personal datum replaced by the values of `canary`; party, sex
    /// and category stay as drawn.
    pub fn with_canary(self, canary: Canary) -> Detainee {
        Detainee {
            family: canary.family(),
            given: canary.given(),
            patronymic: canary.patronymic(),
            birth: canary.birth(),
            service_number: if self.civilian {
                String::new()
            } else {
                canary.service_number()
            },
            canary: Some(canary),
            ..self
        }
    }
}

/// The canary values of one person (and, in the inquiries, of his mother): marked strings that
/// no service has a reason to write anywhere but its database, its answers and the family's
/// letters. Each value carries the canary's number, so people stay distinct and a value found
/// where it should not be says whose it is.
///
/// Names come in both scripts because the services transliterate and fold them: the family
/// and given names are Cyrillic, the patronymic and everything else Latin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canary(pub u32);

impl Canary {
    /// The mark of every family name.
    pub const FAMILY: &'static str = "КАНАРЕЙКА7Щ";
    /// The mark of every given name.
    pub const GIVEN: &'static str = "ЩИГЛИК7Ж";
    /// The mark every Latin canary value starts with (email local parts in lower case).
    pub const LATIN: &'static str = "CANARY";
    /// The year of every canary birth date (nine years later in the substituted offer entry).
    pub const BIRTH_YEAR: i32 = 1947;
    /// Every mark, for a search.
    pub const MARKS: [&'static str; 3] = [Self::FAMILY, Self::GIVEN, Self::LATIN];

    pub fn family(self) -> String {
        format!("{}-{}", Self::FAMILY, self.0)
    }

    pub fn given(self) -> String {
        format!("{}-{}", Self::GIVEN, self.0)
    }

    pub fn patronymic(self) -> String {
        format!("CANARYPATRONYMIC7Q-{}", self.0)
    }

    /// A valid date, distinct for the first 84 canaries.
    pub fn birth(self) -> (i32, i32, i32) {
        let n = self.0 as i32;
        (Self::BIRTH_YEAR, 1 + n % 12, 1 + n % 28)
    }

    pub fn service_number(self) -> String {
        format!("CANARYSN7Q{:04}", self.0)
    }

    pub fn unit(self) -> String {
        format!("CANARYUNIT7Q-{}", self.0)
    }

    /// The mother's given name; her family name is her son's.
    pub fn mother(self) -> String {
        format!("CANARYMOTHER7Q-{}", self.0)
    }

    pub fn email(self) -> String {
        format!("canary7q-{}@example.org", self.0)
    }

    /// A phone number in E.164, distinct for the first 100 canaries.
    pub fn phone(self) -> String {
        format!("+3804477700{:02}", self.0 % 100)
    }

    /// Free text an officer writes about the person: `what`, marked.
    pub fn text(self, what: &str) -> String {
        format!("CANARYTEXT7Q-{} {what}", self.0)
    }
}

/// `people` with canary values numbered from `first + 1` when `canaries` is set; unchanged
/// otherwise.
pub fn planted(people: Vec<Detainee>, canaries: bool, first: usize) -> Vec<Detainee> {
    if !canaries {
        return people;
    }
    people
        .into_iter()
        .enumerate()
        .map(|(i, d)| d.with_canary(Canary((first + i + 1) as u32)))
        .collect()
}

const UA_FAMILY: &[&str] = &[
    "Коваленко",
    "Бондаренко",
    "Шевченко",
    "Ткаченко",
    "Кравченко",
    "Мельник",
    "Бойко",
    "Олійник",
    "Лисенко",
    "Поліщук",
    "Савченко",
    "Руденко",
    "Мороз",
    "Марченко",
    "Петренко",
    "Клименко",
    "Павленко",
    "Коваль",
    "Гончаренко",
    "Левченко",
    "Гнатюк",
    "Кузьменко",
    "Сидоренко",
    "Карпенко",
    "Яковенко",
];
const UA_MALE: &[&str] = &[
    "Олександр",
    "Андрій",
    "Сергій",
    "Дмитро",
    "Іван",
    "Микола",
    "Василь",
    "Юрій",
    "Богдан",
    "Тарас",
    "Віктор",
    "Олег",
    "Максим",
    "Євген",
    "Петро",
    "Роман",
    "Володимир",
    "Михайло",
    "Ярослав",
    "Артем",
];
const UA_FEMALE: &[&str] = &[
    "Олена",
    "Наталія",
    "Ірина",
    "Оксана",
    "Тетяна",
    "Марія",
    "Юлія",
    "Світлана",
    "Анна",
    "Людмила",
];
const UA_PATRONYMIC: &[(&str, &str)] = &[
    ("Олександрович", "Олександрівна"),
    ("Андрійович", "Андріївна"),
    ("Сергійович", "Сергіївна"),
    ("Іванович", "Іванівна"),
    ("Миколайович", "Миколаївна"),
    ("Васильович", "Василівна"),
    ("Петрович", "Петрівна"),
    ("Вікторович", "Вікторівна"),
    ("Юрійович", "Юріївна"),
    ("Володимирович", "Володимирівна"),
];
const RU_FAMILY: &[&str] = &[
    "Смирнов",
    "Иванов",
    "Кузнецов",
    "Соколов",
    "Попов",
    "Лебедев",
    "Козлов",
    "Новиков",
    "Морозов",
    "Петров",
    "Волков",
    "Соловьёв",
    "Васильев",
    "Зайцев",
    "Павлов",
    "Семёнов",
    "Голубев",
    "Виноградов",
    "Богданов",
    "Воробьёв",
    "Фёдоров",
    "Михайлов",
    "Беляев",
    "Тарасов",
    "Белов",
];
const RU_MALE: &[&str] = &[
    "Александр",
    "Алексей",
    "Сергей",
    "Дмитрий",
    "Андрей",
    "Иван",
    "Михаил",
    "Николай",
    "Павел",
    "Евгений",
    "Владимир",
    "Роман",
    "Максим",
    "Артём",
    "Денис",
    "Игорь",
    "Олег",
    "Виктор",
    "Юрий",
    "Константин",
];
const RU_FEMALE: &[&str] = &[
    "Елена",
    "Наталья",
    "Ирина",
    "Ольга",
    "Татьяна",
    "Мария",
    "Юлия",
    "Светлана",
    "Анна",
    "Людмила",
];
const RU_PATRONYMIC: &[(&str, &str)] = &[
    ("Александрович", "Александровна"),
    ("Алексеевич", "Алексеевна"),
    ("Сергеевич", "Сергеевна"),
    ("Дмитриевич", "Дмитриевна"),
    ("Андреевич", "Андреевна"),
    ("Иванович", "Ивановна"),
    ("Михайлович", "Михайловна"),
    ("Николаевич", "Николаевна"),
    ("Павлович", "Павловна"),
    ("Владимирович", "Владимировна"),
];

/// The feminine form of a surname, where the language has one.
fn feminine(party: Party, family: &str) -> String {
    match party {
        Party::Ru => format!("{family}а"),
        Party::Ua if family.ends_with("ий") => format!("{}а", family.trim_end_matches("ий")),
        Party::Ua => family.to_string(),
    }
}

/// `count` people of `party`, of whom the last `civilians` are civilians and `women` (taken
/// among the civilians first) are women.
pub fn cast(
    rng: &mut Rng,
    party: Party,
    count: usize,
    civilians: usize,
    women: usize,
) -> Vec<Detainee> {
    let (families, males, females, patronymics) = match party {
        Party::Ua => (UA_FAMILY, UA_MALE, UA_FEMALE, UA_PATRONYMIC),
        Party::Ru => (RU_FAMILY, RU_MALE, RU_FEMALE, RU_PATRONYMIC),
    };
    let mut taken = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let civilian = i >= count.saturating_sub(civilians);
        let female = civilian && i >= count.saturating_sub(women);
        let (family, given, patronymic) = loop {
            let f = rng.index(families.len());
            let g = rng.index(if female { females.len() } else { males.len() });
            let p = rng.index(patronymics.len());
            if taken.insert((female, f, g, p)) {
                break (f, g, p);
            }
        };
        let birth = (
            1960 + rng.below(45) as i32,
            1 + rng.below(12) as i32,
            1 + rng.below(28) as i32,
        );
        out.push(Detainee {
            party,
            family: if female {
                feminine(party, families[family])
            } else {
                families[family].to_string()
            },
            given: if female { females[given] } else { males[given] }.to_string(),
            patronymic: if female {
                patronymics[patronymic].1
            } else {
                patronymics[patronymic].0
            }
            .to_string(),
            female,
            civilian,
            birth,
            service_number: if civilian {
                String::new()
            } else {
                format!("{}{:07}", party.code(), rng.below(10_000_000))
            },
            canary: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_people_and_names_never_repeat() {
        let a = cast(&mut Rng::new(7), Party::Ua, 1000, 300, 3);
        let b = cast(&mut Rng::new(7), Party::Ua, 1000, 300, 3);
        assert_eq!(a, b);
        let names: std::collections::HashSet<_> = a
            .iter()
            .map(|d| (&d.family, &d.given, &d.patronymic))
            .collect();
        assert_eq!(names.len(), 1000);
        assert_eq!(a.iter().filter(|d| d.civilian).count(), 300);
        assert_eq!(a.iter().filter(|d| d.female).count(), 3);
        assert!(a.iter().filter(|d| d.female).all(|d| d.civilian));
        assert_eq!(
            a[0].latin()
                .0
                .chars()
                .next()
                .map(|c| c.is_ascii_uppercase()),
            Some(true)
        );
    }

    #[test]
    fn planted_canaries_replace_every_personal_datum_and_stay_distinct() {
        let drawn = cast(&mut Rng::new(7), Party::Ru, 30, 10, 2);
        assert_eq!(planted(drawn.clone(), false, 0), drawn);
        let people = planted(drawn.clone(), true, 30);
        for (d, p) in drawn.iter().zip(&people) {
            assert_eq!(
                (d.party, d.female, d.civilian),
                (p.party, p.female, p.civilian)
            );
            assert!(p.family.starts_with(Canary::FAMILY));
            assert!(p.given.starts_with(Canary::GIVEN));
            assert!(p.patronymic.starts_with(Canary::LATIN));
            assert_eq!(p.birth.0, Canary::BIRTH_YEAR);
            assert_eq!(p.service_number.is_empty(), p.civilian);
        }
        assert_eq!(people[0].canary, Some(Canary(31)));
        let distinct = |f: fn(&Detainee) -> String| {
            people
                .iter()
                .map(f)
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        assert_eq!(distinct(|p| p.family.clone()), 30);
        assert_eq!(distinct(|p| format!("{:?}", p.birth)), 30);
        let phones: std::collections::HashSet<_> = (1..=99).map(|n| Canary(n).phone()).collect();
        assert_eq!(phones.len(), 99);
    }
}
