//! What the engine compares: an identity as someone wrote it (names in any script and order,
//! birth date, sex, unit, service number, document numbers), and its compiled form — the fold
//! keys, name classes and cleaned numbers that scoring and the index work on.
//!
//! Compilation is where the input caps apply: at most [`MAX_NAMES`] name variants per identity,
//! [`MAX_TOKENS_PER_NAME`] tokens per name, [`MAX_DOCUMENTS`] documents, and the text layer's
//! caps on every string, so that scoring one pair costs a bounded amount of work whatever
//! arrives.

use crate::classes::{ClassId, classes_of_key};
use crate::fold::fold_name;

/// Name variants kept per identity; more are ignored.
pub const MAX_NAMES: usize = 8;
/// Tokens kept per name (all parts together); more are ignored.
pub const MAX_TOKENS_PER_NAME: usize = 6;
/// Document numbers kept per identity; more are ignored.
pub const MAX_DOCUMENTS: usize = 8;

/// Which part of a name a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Family,
    Given,
    Patronymic,
    /// Free text: the part is not known (a search box, "КОВАЛЕНКО О.").
    Unknown,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Family => "surname",
            Role::Given => "given name",
            Role::Patronymic => "patronymic",
            Role::Unknown => "name",
        }
    }
}

/// One way of writing a person's name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Name {
    pub family: String,
    pub given: String,
    pub patronymic: String,
    /// Name parts whose role is not known, in any order (a search query). May be combined
    /// with the parts above.
    pub free: String,
}

impl Name {
    pub fn parts(family: &str, given: &str, patronymic: &str) -> Self {
        Self {
            family: family.into(),
            given: given.into(),
            patronymic: patronymic.into(),
            free: String::new(),
        }
    }

    pub fn free(text: &str) -> Self {
        Self {
            free: text.into(),
            ..Self::default()
        }
    }
}

/// A date known to the year, the month or the day. Out-of-range parts are treated as unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BirthDate {
    pub year: i32,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

impl BirthDate {
    pub fn year(year: i32) -> Self {
        Self {
            year,
            month: None,
            day: None,
        }
    }

    pub fn ymd(year: i32, month: u8, day: u8) -> Self {
        Self {
            year,
            month: Some(month),
            day: Some(day),
        }
    }

    fn cleaned(self) -> Self {
        let month = self.month.filter(|m| (1..=12).contains(m));
        Self {
            year: self.year,
            month,
            day: self.day.filter(|d| month.is_some() && (1..=31).contains(d)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sex {
    #[default]
    Unknown,
    Male,
    Female,
}

/// An identity as a registrar, the other side or a family wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub names: Vec<Name>,
    pub birth_date: Option<BirthDate>,
    pub sex: Sex,
    pub unit: String,
    pub service_number: String,
    /// Numbers of identity documents (passport, military id, …), as written.
    pub documents: Vec<String>,
}

/// One token of a compiled name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub key: Box<str>,
    pub role: Role,
    /// Written as an initial ("О.", "O"): one letter, which says little.
    pub initial: bool,
    /// Given-name or patronymic classes the token belongs to (empty for most surnames).
    pub classes: &'static [ClassId],
    /// The key's id in the index that holds this record ([`NO_TERM`] elsewhere), which lets a
    /// search remember comparisons per spelling.
    pub term: u32,
}

/// The `term` of a token outside any index.
pub const NO_TERM: u32 = u32::MAX;

/// The comparable form of an [`Identity`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Compiled {
    /// Per name variant, its tokens in role order (family, given, patronymic, free).
    pub names: Vec<Vec<Token>>,
    pub birth_date: Option<BirthDate>,
    pub sex: Sex,
    /// Fold keys of the unit's words and its numbers, sorted and deduplicated.
    pub unit: Vec<Box<str>>,
    /// Letters and digits only, upper case.
    pub service_number: Box<str>,
    pub documents: Vec<Box<str>>,
}

impl Compiled {
    /// Every distinct non-initial token key with the role it was written in.
    pub fn keys(&self) -> impl Iterator<Item = (&str, Role)> + '_ {
        self.names
            .iter()
            .flatten()
            .filter(|t| !t.initial)
            .map(|t| (&*t.key, t.role))
    }

    /// Whether there is anything to search on.
    pub fn has_names(&self) -> bool {
        self.names.iter().flatten().any(|t| !t.initial)
    }
}

/// Compiles an identity (see the module documentation for the caps). Never panics.
pub fn compile(identity: &Identity) -> Compiled {
    let names = identity
        .names
        .iter()
        .take(MAX_NAMES)
        .map(compile_name)
        .filter(|tokens| !tokens.is_empty())
        .collect();
    let mut unit: Vec<Box<str>> = fold_name(&identity.unit)
        .into_iter()
        .take(MAX_TOKENS_PER_NAME)
        .map(String::into_boxed_str)
        .collect();
    unit.sort();
    unit.dedup();
    let mut documents: Vec<Box<str>> = identity
        .documents
        .iter()
        .take(MAX_DOCUMENTS)
        .map(|d| clean_number(d))
        .filter(|d| d.len() >= 4)
        .collect();
    documents.sort();
    documents.dedup();
    Compiled {
        names,
        birth_date: identity
            .birth_date
            .map(BirthDate::cleaned)
            .filter(|d| (1800..=2200).contains(&d.year)),
        sex: identity.sex,
        unit,
        service_number: clean_number(&identity.service_number),
        documents,
    }
}

fn compile_name(name: &Name) -> Vec<Token> {
    let parts = [
        (&name.family, Role::Family),
        (&name.given, Role::Given),
        (&name.patronymic, Role::Patronymic),
        (&name.free, Role::Unknown),
    ];
    let mut tokens = Vec::new();
    for (text, role) in parts {
        for key in fold_name(text) {
            if tokens.len() == MAX_TOKENS_PER_NAME {
                return tokens;
            }
            let initial = key.chars().count() == 1;
            let classes = if initial || role == Role::Family {
                &[][..]
            } else {
                classes_of_key(&key)
            };
            tokens.push(Token {
                key: key.into_boxed_str(),
                role,
                initial,
                classes,
                term: NO_TERM,
            });
        }
    }
    tokens
}

/// A number as written, reduced to its letters and digits in upper case (at most 32), so
/// "АА 123-456" and "aa123456" compare equal. Cyrillic letters that look like Latin ones are
/// read as Latin, since passports series are written both ways.
pub fn clean_number(number: &str) -> Box<str> {
    number
        .chars()
        .filter(|c| c.is_alphanumeric())
        .take(32)
        .flat_map(char::to_uppercase)
        .map(|c| match c {
            'А' => 'A',
            'В' => 'B',
            'Е' => 'E',
            'К' => 'K',
            'М' => 'M',
            'Н' => 'H',
            'О' => 'O',
            'Р' => 'P',
            'С' => 'C',
            'Т' => 'T',
            'Х' => 'X',
            'І' => 'I',
            other => other,
        })
        .collect::<String>()
        .into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_their_roles_and_initials_are_marked() {
        let c = compile(&Identity {
            names: vec![Name::parts("Коваленко", "О.", "Олександрович")],
            ..Identity::default()
        });
        let roles: Vec<_> = c.names[0].iter().map(|t| (t.role, t.initial)).collect();
        assert_eq!(
            roles,
            [
                (Role::Family, false),
                (Role::Given, true),
                (Role::Patronymic, false)
            ]
        );
        assert!(!c.names[0][2].classes.is_empty());
    }

    #[test]
    fn numbers_compare_whatever_the_script_and_punctuation() {
        assert_eq!(clean_number("АА 123-456"), clean_number("aa123456"));
    }

    #[test]
    fn impossible_date_parts_become_unknown() {
        let c = compile(&Identity {
            birth_date: Some(BirthDate {
                year: 1990,
                month: Some(13),
                day: Some(5),
            }),
            ..Identity::default()
        });
        assert_eq!(c.birth_date, Some(BirthDate::year(1990)));
    }
}
