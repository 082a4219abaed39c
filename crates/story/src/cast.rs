//! The people of the story: soldiers and civilians of each party held by the other, with
//! Ukrainian or Russian names in Cyrillic, birth dates, service numbers. Drawn from a seeded
//! generator, so a seed always gives the same people; full names never repeat within a side.

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
}
