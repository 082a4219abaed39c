//! Fellegi–Sunter comparison of two compiled identities: each field is compared at one of a
//! few agreement levels, each level carries a weight in bits (log2 of how much likelier that
//! outcome is for the same person than for two different people), and the sum, turned into a
//! probability by a fitted logistic calibration, is the confidence.
//!
//! - **Names** are compared token by token after pairing the query's tokens with the record's
//!   (best pairs first, so "Коваленко Олександр", "Oleksandr Kovalenko" and a surname written
//!   in the given-name field all pair correctly; a part written in another field costs a
//!   little). An exact agreement weighs by how rare the name is (`Frequencies`): Коваленко says
//!   less than a surname borne by one person in a million. Other forms of one given name or
//!   patronymic (Олександр ≡ Александр), one typo, and initials weigh less; a surname suffix
//!   guard keeps Ivanov from Ivanova and Savchuk from Savchik.
//! - **Birth date**: exact; one typo or day and month swapped; same month; same year (when one
//!   side knows only the year); a year off by one with the same day; disagreeing; unknown.
//! - **Sex, service number, documents, unit**: agree, nearly agree, disagree, unknown.
//!
//! Names alone never make an identity: unless a birth date, service number or document
//! corroborates, the confidence is capped at [`NAMES_ONLY_CAP`], below the threshold at which
//! matching calls a candidate a match. The same cap holds when a field contradicts (another
//! surname, patronymic or given name, a birth date years apart, another sex, service number or
//! document) and nothing stronger than the birth year agrees; the contradictions are listed in
//! [`Comparison::conflicts`], so that a list reconciliation can flag a pair that matches
//! despite them as a suspected substitution. Every result carries a
//! field-by-field explanation in plain words (it names the spellings compared, so it is for
//! the people entitled to see the records, never for logs).
//!
//! Work per pair is bounded by the compilation caps (`record`): at most 8 × 8 name variants of
//! at most 6 tokens each.

use std::fmt::Write as _;

use crate::classes::{ClassId, class_initials, initial_bit};
use crate::record::{BirthDate, Compiled, NO_TERM, Role, Sex, Token};

/// The highest confidence a comparison may reach on names (and sex, unit) alone, or with a
/// contradicting field and no strong evidence: just under the 0.5 from which matching calls a
/// candidate a match by default, so such candidates are offered for review, never matched.
pub const NAMES_ONLY_CAP: f64 = 0.45;

/// The highest confidence on names alone when surname, given name and patronymic all agree
/// (in some form) and nothing contradicts: a match to review, never an identity.
pub const FULL_NAME_CAP: f64 = 0.7;

/// Logistic calibration of the total weight: confidence = 1 / (1 + e^-(SLOPE·w + INTERCEPT)).
/// Fitted on the evaluation set (`make eval`), so that of the pairs given a confidence of 0.9,
/// about nine in ten are the same person.
pub const CALIBRATION_SLOPE: f64 = 0.55;
pub const CALIBRATION_INTERCEPT: f64 = -9.0;

/// How common names and sexes are in the population searched, for frequency-adjusted weights.
pub trait Frequencies {
    /// The share of people whose name has this fold key in this role (0 to 1).
    fn share(&self, role: Role, key: &str) -> f64;
    /// The share of people of this sex among those whose sex is known.
    fn sex_share(&self, sex: Sex) -> f64;
}

/// Frequencies when nothing is known about the population: every name is as common as a
/// typical surname (1 in 2,000), a given name 1 in 100, a patronymic 1 in 150.
#[derive(Debug, Clone, Copy, Default)]
pub struct TypicalFrequencies;

impl Frequencies for TypicalFrequencies {
    fn share(&self, role: Role, _key: &str) -> f64 {
        match role {
            Role::Family | Role::Unknown => 1.0 / 2000.0,
            Role::Given => 1.0 / 100.0,
            Role::Patronymic => 1.0 / 150.0,
        }
    }

    fn sex_share(&self, _sex: Sex) -> f64 {
        0.5
    }
}

/// How two name tokens compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameLevel {
    Exact,
    /// Forms of the same given name or patronymic across languages.
    Equivalent,
    /// One typo apart (two for long names).
    Typo,
    /// An initial that fits the name.
    Initial,
    Disagree,
}

/// How two birth dates compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateLevel {
    Exact,
    /// One digit of the day or month differs, or day and month are swapped.
    Typo,
    SameMonth,
    /// One side knows only the year, and it agrees.
    SameYear,
    /// Same day and month, the year off by one or by one digit.
    YearTypo,
    /// Both full dates in the same year, but different days.
    SameYearOtherDay,
    YearOffByOne,
    Disagree,
    Unknown,
}

/// The outcome of comparing one query with one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Total weight in bits.
    pub weight: f64,
    /// Calibrated probability that the two are the same person, after the names-only cap.
    pub confidence: f64,
    /// Nothing but names (and sex, unit) agrees.
    pub names_only: bool,
    /// Fields that contradict each other (surname, given name, patronymic, birth date, sex,
    /// service number, document): with a high confidence, the mark of a substitution.
    pub conflicts: Vec<&'static str>,
    pub date: DateLevel,
    /// One line per field that counted, in plain words.
    pub explanation: Vec<String>,
}

/// Turns a total weight into a probability with the fitted calibration.
pub fn calibrated(weight: f64) -> f64 {
    1.0 / (1.0 + (-(CALIBRATION_SLOPE * weight + CALIBRATION_INTERCEPT)).exp())
}

/// Compares a query with a record. Never panics; bounded work (see the module documentation).
pub fn compare(query: &Compiled, record: &Compiled, freq: &dyn Frequencies) -> Comparison {
    let mut memo = Memo::default();
    compare_with(query, record, freq, &mut memo, true)
}

/// Per-query cache of token comparisons: the candidates of one query share most of their
/// names (every Коваленко), so each pair of spellings is compared once.
/// Keyed by the query token (its address: the query outlives the memo's use) and the record
/// token's term id in the index, so a look-up neither allocates nor hashes strings.
#[derive(Default)]
pub struct Memo {
    tokens: rustc_hash::FxHashMap<(usize, u32, Role), (NameLevel, f64)>,
}

/// Explanation lines, formatted only when asked for: most candidates are scored and dropped.
struct Lines(Option<Vec<String>>);

impl Lines {
    fn add(&mut self, line: impl FnOnce() -> String) {
        if let Some(lines) = &mut self.0 {
            lines.push(line());
        }
    }
}

pub(crate) fn compare_with(
    query: &Compiled,
    record: &Compiled,
    freq: &dyn Frequencies,
    memo: &mut Memo,
    explain: bool,
) -> Comparison {
    let mut explanation = Lines(explain.then(Vec::new));
    let mut weight = 0.0;

    let mut conflicts = Vec::new();
    let mut full_name = false;
    let mut best_names: Option<(f64, usize, usize, NameFacts)> = None;
    for (a, q) in query.names.iter().enumerate() {
        for (b, r) in record.names.iter().enumerate() {
            let mut facts = NameFacts::default();
            let w = compare_names(q, r, freq, memo, &mut Lines(None), &mut facts);
            if best_names.as_ref().is_none_or(|(best, ..)| w > *best) {
                best_names = Some((w, a, b, facts));
            }
        }
    }
    if let Some((w, a, b, facts)) = best_names {
        weight += w;
        full_name = facts.agreeing == 0b111;
        conflicts = PART_NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| facts.conflicts & (1 << i) != 0)
            .map(|(_, name)| *name)
            .collect();
        if explain {
            compare_names(
                &query.names[a],
                &record.names[b],
                freq,
                memo,
                &mut explanation,
                &mut NameFacts::default(),
            );
        }
    }

    let (date, w) = compare_dates(query.birth_date, record.birth_date);
    weight += w;
    if let Some(line) = explain
        .then(|| date_line(date, query.birth_date, record.birth_date, w))
        .flatten()
    {
        explanation.add(|| line);
    }
    // Strong evidence: more than the birth year alone.
    let mut strong = matches!(
        date,
        DateLevel::Exact | DateLevel::Typo | DateLevel::SameMonth | DateLevel::YearTypo
    );
    let mut corroborated = strong || date == DateLevel::SameYear;
    if date == DateLevel::Disagree {
        conflicts.push("birth date");
    }

    if query.sex != Sex::Unknown && record.sex != Sex::Unknown {
        let w = if query.sex == record.sex {
            (0.98 / freq.sex_share(record.sex).clamp(0.01, 1.0)).log2()
        } else {
            conflicts.push("sex");
            -6.0
        };
        weight += w;
        explanation.add(|| {
            format!(
                "sex {}: {w:+.1}",
                if query.sex == record.sex {
                    "agrees"
                } else {
                    "differs"
                }
            )
        });
    }

    if !query.service_number.is_empty() && !record.service_number.is_empty() {
        let (w, what) = if query.service_number == record.service_number {
            strong = true;
            (13.0, "agrees")
        } else if query.service_number.len() >= 5
            && within_edits(&query.service_number, &record.service_number, 1)
        {
            strong = true;
            (5.0, "is one typo apart")
        } else {
            conflicts.push("service number");
            (-4.0, "differs")
        };
        weight += w;
        explanation.add(|| format!("service number {what}: {w:+.1}"));
    }

    if !query.documents.is_empty() && !record.documents.is_empty() {
        let shared = query
            .documents
            .iter()
            .any(|d| record.documents.binary_search(d).is_ok());
        let w = if shared { 15.0 } else { -2.0 };
        strong |= shared;
        if !shared {
            conflicts.push("document");
        }
        weight += w;
        explanation.add(|| {
            format!(
                "document number {}: {w:+.1}",
                if shared { "agrees" } else { "differs" }
            )
        });
    }

    if !query.unit.is_empty() && !record.unit.is_empty() {
        let shared = query
            .unit
            .iter()
            .any(|u| u.len() >= 2 && record.unit.binary_search(u).is_ok());
        let w = if shared { 2.5 } else { -0.5 };
        weight += w;
        explanation.add(|| {
            format!(
                "unit {}: {w:+.1}",
                if shared { "agrees" } else { "differs" }
            )
        });
    }

    corroborated |= strong;
    let mut confidence = calibrated(weight);
    let names_only = !corroborated;
    let held = if !conflicts.is_empty() && !strong {
        Some((
            "fields contradict and nothing stronger than the birth year agrees",
            NAMES_ONLY_CAP,
        ))
    } else if names_only && full_name {
        Some(("nothing but the full name agrees", FULL_NAME_CAP))
    } else if names_only {
        Some(("nothing but names agrees", NAMES_ONLY_CAP))
    } else {
        None
    };
    if let Some((why, cap)) = held
        && confidence > cap
    {
        confidence = cap;
        explanation.add(|| format!("{why}: confidence held at {cap:.2}"));
    }
    if !conflicts.is_empty() {
        explanation.add(|| format!("contradicting: {}", conflicts.join(", ")));
    }
    Comparison {
        weight,
        confidence,
        names_only,
        conflicts,
        date,
        explanation: explanation.0.unwrap_or_default(),
    }
}

/// What the pairing of two written names found, beyond the weight: bits of [`PART_NAMES`].
#[derive(Default, Clone, Copy)]
struct NameFacts {
    /// Name parts that disagree.
    conflicts: u8,
    /// Name parts that agree in some form (not as initials).
    agreeing: u8,
}

/// The name parts, by their bit in [`NameFacts`].
const PART_NAMES: [&str; 3] = ["surname", "given name", "patronymic"];

fn part_bit(role: Role) -> u8 {
    match role {
        Role::Family => 1,
        Role::Given => 2,
        Role::Patronymic => 4,
        Role::Unknown => 0,
    }
}

/// Most tokens compared per pair of names (see `record::MAX_TOKENS_PER_NAME`).
const MAX_PAIRS: usize = crate::record::MAX_TOKENS_PER_NAME * crate::record::MAX_TOKENS_PER_NAME;

/// Compares one written name with another: pairs tokens best first, then adds the pairs'
/// weights and a penalty for query tokens left without a partner.
fn compare_names(
    query: &[Token],
    record: &[Token],
    freq: &dyn Frequencies,
    memo: &mut Memo,
    lines: &mut Lines,
    facts: &mut NameFacts,
) -> f64 {
    // On the stack: this runs for every candidate of every search.
    let mut pairs = [(0.0f64, 0usize, 0usize, NameLevel::Disagree); MAX_PAIRS];
    let mut n = 0;
    for (i, q) in query.iter().enumerate() {
        for (j, r) in record.iter().enumerate() {
            if n == MAX_PAIRS {
                break;
            }
            let (level, mut w) = compare_tokens(q, r, freq, memo);
            if q.role != Role::Unknown && r.role != Role::Unknown && q.role != r.role {
                // Parts written in the wrong field happen, but less often than not.
                w -= 1.0;
            }
            pairs[n] = (w, i, j, level);
            n += 1;
        }
    }
    let pairs = &mut pairs[..n];
    pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let (mut used_q, mut used_r) = (0u64, 0u64);
    let mut weight = 0.0;
    for &mut (w, i, j, level) in pairs {
        if used_q & (1 << i) != 0 || used_r & (1 << j) != 0 {
            continue;
        }
        used_q |= 1 << i;
        used_r |= 1 << j;
        weight += w;
        let bit = part_bit(record[j].role);
        match level {
            NameLevel::Disagree => facts.conflicts |= bit,
            NameLevel::Exact | NameLevel::Equivalent | NameLevel::Typo => facts.agreeing |= bit,
            NameLevel::Initial => {}
        }
        lines.add(|| name_line(&query[i], &record[j], level, w));
    }
    for (i, q) in query.iter().enumerate() {
        if used_q & (1 << i) == 0 {
            let w = if q.initial { -0.5 } else { -2.0 };
            weight += w;
            lines.add(|| format!("{} {} is not in this name: {w:+.1}", q.role.label(), q.key));
        }
    }
    weight
}

fn name_line(q: &Token, r: &Token, level: NameLevel, w: f64) -> String {
    let role = r.role.label();
    let mut line = match level {
        NameLevel::Exact => format!("{role} {} agrees", r.key),
        NameLevel::Equivalent => format!("{role} {} ≈ {}: forms of the same name", q.key, r.key),
        NameLevel::Typo => format!("{role} {} ≈ {}: a typo apart", q.key, r.key),
        NameLevel::Initial => format!("{role} {} fits the initial {}", r.key, q.key),
        NameLevel::Disagree => match surname_suffixes_differ(q, r) {
            Some((a, b)) => {
                format!("{role} {} ≠ {}: different endings -{a}/-{b}", q.key, r.key)
            }
            None => format!("{role} {} ≠ {}", q.key, r.key),
        },
    };
    if q.role != Role::Unknown && q.role != r.role {
        let _ = write!(line, " (written as the {})", q.role.label());
    }
    let _ = write!(line, ": {w:+.1}");
    line
}

fn compare_tokens(
    q: &Token,
    r: &Token,
    freq: &dyn Frequencies,
    memo: &mut Memo,
) -> (NameLevel, f64) {
    if r.term == NO_TERM {
        return compare_tokens_uncached(q, r, freq);
    }
    *memo
        .tokens
        .entry((q.key.as_ptr() as usize, r.term, r.role))
        .or_insert_with(|| compare_tokens_uncached(q, r, freq))
}

/// How likely a name part is written the same way for the same person (m): the other side
/// writes given names and patronymics in Russian forms more often than it misspells surnames.
fn m_exact(role: Role) -> f64 {
    match role {
        Role::Family | Role::Unknown => 0.9,
        Role::Given | Role::Patronymic => 0.75,
    }
}

fn disagree_weight(role: Role) -> f64 {
    match role {
        Role::Family | Role::Unknown => -7.0,
        Role::Given => -5.0,
        Role::Patronymic => -5.0,
    }
}

fn compare_tokens_uncached(q: &Token, r: &Token, freq: &dyn Frequencies) -> (NameLevel, f64) {
    let role = r.role;
    let exact_weight = |key: &str| {
        let share = freq.share(role, key).clamp(1e-7, 0.5);
        (m_exact(role) / share).log2().max(1.0)
    };
    if q.initial || r.initial {
        let (initial, full) = if q.initial { (q, r) } else { (r, q) };
        let fits = if full.initial {
            full.key == initial.key
        } else {
            let bit = initial_bit(&initial.key);
            initial_bit(&full.key) == bit
                || full.classes.iter().any(|c| class_initials(*c) & bit != 0)
        };
        return if fits {
            (NameLevel::Initial, 2.5)
        } else {
            (NameLevel::Disagree, -4.0)
        };
    }
    if q.key == r.key {
        return (NameLevel::Exact, exact_weight(&r.key));
    }
    if shares_class(q.classes, r.classes) {
        return (NameLevel::Equivalent, (exact_weight(&r.key) - 1.0).max(2.0));
    }
    let (ql, rl) = (q.key.chars().count(), r.key.chars().count());
    let allowed = if ql.min(rl) >= 8 { 2 } else { 1 };
    if ql.min(rl) >= 4
        && ql.abs_diff(rl) <= allowed
        && within_edits(&q.key, &r.key, allowed)
        && surname_suffixes_differ(q, r).is_none()
    {
        return (NameLevel::Typo, (0.6 * exact_weight(&r.key)).max(2.0));
    }
    (NameLevel::Disagree, disagree_weight(role))
}

/// Whether two keys are at most `max` edits apart (insertions, deletions, substitutions and
/// transpositions of neighbours: the optimal string alignment distance). Fold keys are ASCII
/// and at most 64 letters, so the usual case runs on the stack and stops as soon as a whole
/// row exceeds `max`; anything else goes to `strsim`.
pub(crate) fn within_edits(a: &str, b: &str, max: usize) -> bool {
    const N: usize = crate::normalize::MAX_TOKEN_CHARS + 1;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if !a.is_ascii() || !b.is_ascii() || a.len() >= N || b.len() >= N {
        return strsim::osa_distance(&String::from_utf8_lossy(a), &String::from_utf8_lossy(b))
            <= max;
    }
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    // Distances never exceed 64, so a row is 65 bytes and moving rows costs nothing.
    let (mut before, mut prev, mut cur) = ([0u8; N], [0u8; N], [0u8; N]);
    for (j, cell) in prev.iter_mut().enumerate().take(b.len() + 1) {
        *cell = j as u8;
    }
    for i in 1..=a.len() {
        cur[0] = i as u8;
        let mut row_min = i as u8;
        for j in 1..=b.len() {
            let cost = u8::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if usize::from(row_min) > max {
            return false;
        }
        before = prev;
        prev = cur;
    }
    usize::from(prev[b.len()]) <= max
}

fn shares_class(a: &[ClassId], b: &[ClassId]) -> bool {
    a.iter().any(|id| b.binary_search(id).is_ok())
}

/// Surname endings that make different names from one stem (fold keys, longest first).
const SURNAME_SUFFIXES: &[&str] = &[
    "ovich", "evich", "enko", "chuk", "tska", "tski", "ovna", "evna", "ska", "ski", "ova", "eva",
    "ina", "ets", "ich", "uk", "ak", "ik", "ko", "ov", "ev", "in", "iv", "un",
];

fn suffix(key: &str) -> Option<&'static str> {
    SURNAME_SUFFIXES
        .iter()
        .find(|s| key.len() > s.len() + 1 && key.ends_with(*s))
        .copied()
}

/// The surname suffix guard: both surnames end in known suffixes that differ and neither
/// contains the other (Ivanov/Ivanova, Savchuk/Savchik, Kovalenko/Kovalchuk), so they are
/// different names, not a typo.
fn surname_suffixes_differ(q: &Token, r: &Token) -> Option<(&'static str, &'static str)> {
    if r.role != Role::Family {
        return None;
    }
    let (a, b) = (suffix(&q.key)?, suffix(&r.key)?);
    (a != b && !a.ends_with(b) && !b.ends_with(a)).then_some((a, b))
}

fn one_digit_apart(a: u8, b: u8) -> bool {
    a != b && (a / 10 == b / 10 || a % 10 == b % 10)
}

/// Compares two birth dates (see [`DateLevel`]) and gives the level's weight in bits.
pub fn compare_dates(q: Option<BirthDate>, r: Option<BirthDate>) -> (DateLevel, f64) {
    let (Some(q), Some(r)) = (q, r) else {
        return (DateLevel::Unknown, 0.0);
    };
    let full = |d: BirthDate| d.month.zip(d.day);
    if q.year == r.year {
        return match (full(q), full(r)) {
            (Some(a), Some(b)) if a == b => (DateLevel::Exact, 12.0),
            (Some((qm, qd)), Some((rm, rd)))
                if (qm, qd) == (rd, rm)
                    || qm == rm && one_digit_apart(qd, rd)
                    || qd == rd && one_digit_apart(qm, rm) =>
            {
                (DateLevel::Typo, 6.0)
            }
            (Some(_), Some(_)) => (DateLevel::SameYearOtherDay, -1.0),
            _ => match (q.month, r.month) {
                (Some(a), Some(b)) if a == b => (DateLevel::SameMonth, 8.0),
                (Some(_), Some(_)) => (DateLevel::SameYearOtherDay, -1.0),
                _ => (DateLevel::SameYear, 5.0),
            },
        };
    }
    let years_close = (q.year - r.year).abs() == 1
        || strsim::hamming(&q.year.to_string(), &r.year.to_string()) == Ok(1);
    match (full(q), full(r)) {
        (Some(a), Some(b)) if a == b && years_close => (DateLevel::YearTypo, 5.0),
        _ if (q.year - r.year).abs() == 1 => (DateLevel::YearOffByOne, -1.0),
        _ => (DateLevel::Disagree, -6.0),
    }
}

fn show(d: BirthDate) -> String {
    match (d.month, d.day) {
        (Some(m), Some(day)) => format!("{}-{m:02}-{day:02}", d.year),
        (Some(m), None) => format!("{}-{m:02}", d.year),
        _ => d.year.to_string(),
    }
}

fn date_line(
    level: DateLevel,
    q: Option<BirthDate>,
    r: Option<BirthDate>,
    w: f64,
) -> Option<String> {
    let (q, r) = (q?, r?);
    let (q, r) = (show(q), show(r));
    let what = match level {
        DateLevel::Exact => format!("birth date {r} agrees"),
        DateLevel::Typo => format!("birth date {q} ≈ {r}: one digit or day and month swapped"),
        DateLevel::SameMonth => format!("birth month {r} agrees"),
        DateLevel::SameYear => format!("birth year agrees ({q} / {r})"),
        DateLevel::YearTypo => format!("birth date {q} ≈ {r}: same day, year one off"),
        DateLevel::SameYearOtherDay => format!("birth date {q} ≠ {r}: same year only"),
        DateLevel::YearOffByOne => format!("birth year {q} ≈ {r}: one year apart"),
        DateLevel::Disagree => format!("birth date {q} ≠ {r}"),
        DateLevel::Unknown => return None,
    };
    Some(format!("{what}: {w:+.1}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Identity, Name, compile};

    fn person(family: &str, given: &str, patronymic: &str, born: Option<BirthDate>) -> Compiled {
        compile(&Identity {
            names: vec![Name::parts(family, given, patronymic)],
            birth_date: born,
            ..Identity::default()
        })
    }

    fn score(q: &Compiled, r: &Compiled) -> Comparison {
        compare(q, r, &TypicalFrequencies)
    }

    #[test]
    fn one_man_in_four_spellings_scores_high_with_his_birth_date() {
        let born = Some(BirthDate::ymd(1990, 4, 12));
        let record = person("Коваленко", "Олександр", "Петрович", born);
        for query in [
            person("Коваленко", "Александр", "Петрович", born),
            person("Kovalenko", "Oleksandr", "Petrovych", born),
            person("KOVALENKO", "Alexander", "", born),
            compile(&Identity {
                names: vec![Name::free("Олександр Коваленко")],
                birth_date: born,
                ..Identity::default()
            }),
        ] {
            let c = score(&query, &record);
            assert!(c.confidence > 0.95, "{c:?}");
            assert!(!c.names_only);
        }
    }

    #[test]
    fn names_alone_never_make_an_identity() {
        let record = person("Коваленко", "Олександр", "Петрович", None);
        let c = score(&person("Коваленко", "Олександр", "Петрович", None), &record);
        assert!(c.names_only);
        assert_eq!(c.confidence, FULL_NAME_CAP);
        assert!(
            c.explanation
                .iter()
                .any(|l| l.contains("nothing but the full name"))
        );
        // Without the patronymic, names say too little to be called a match.
        let c = score(&person("Коваленко", "Олександр", "", None), &record);
        assert_eq!(c.confidence, NAMES_ONLY_CAP);
        assert!(c.confidence < 0.5);
    }

    #[test]
    fn a_father_and_son_of_the_same_name_are_told_apart() {
        let father = person(
            "Коваленко",
            "Петро",
            "Іванович",
            Some(BirthDate::ymd(1965, 3, 1)),
        );
        let son = person(
            "Коваленко",
            "Петро",
            "Петрович",
            Some(BirthDate::ymd(1991, 7, 9)),
        );
        let c = score(&son, &father);
        assert!(c.confidence < 0.1, "{c:?}");
        assert!(c.explanation.iter().any(|l| l.contains("petrovich ≠")));
    }

    #[test]
    fn the_suffix_guard_keeps_apart_names_one_letter_apart() {
        let c = score(
            &person("Іванова", "Олена", "", None),
            &person("Іванов", "Олена", "", None),
        );
        assert!(
            c.explanation
                .iter()
                .any(|l| l.contains("different endings")),
            "{c:?}"
        );
        let typo = score(
            &person("Коваленка", "Олег", "", None),
            &person("Коваленко", "Олег", "", None),
        );
        assert!(typo.explanation.iter().any(|l| l.contains("a typo apart")));
    }

    #[test]
    fn a_rare_surname_says_more_than_a_common_one() {
        struct Skewed;
        impl Frequencies for Skewed {
            fn share(&self, _: Role, key: &str) -> f64 {
                if key == "kovalenko" { 0.01 } else { 1e-6 }
            }
            fn sex_share(&self, _: Sex) -> f64 {
                0.5
            }
        }
        let common = person("Коваленко", "", "", None);
        let rare = person("Вдовиченко", "", "", None);
        assert!(
            compare(&rare, &rare, &Skewed).weight > compare(&common, &common, &Skewed).weight + 5.0
        );
    }

    #[test]
    fn initials_fit_names_in_either_language() {
        let record = person("Коваленко", "Олександр", "Петрович", None);
        let russian_initials = person("Коваленко", "А.", "П.", None);
        let wrong = person("Коваленко", "М.", "П.", None);
        assert!(score(&russian_initials, &record).weight > score(&wrong, &record).weight + 5.0);
    }

    #[test]
    fn birth_dates_compare_at_the_documented_levels() {
        let d = |y, m, day| Some(BirthDate::ymd(y, m, day));
        let y = |y| Some(BirthDate::year(y));
        assert_eq!(
            compare_dates(d(1990, 4, 12), d(1990, 4, 12)).0,
            DateLevel::Exact
        );
        assert_eq!(
            compare_dates(d(1990, 4, 12), d(1990, 12, 4)).0,
            DateLevel::Typo
        );
        assert_eq!(
            compare_dates(d(1990, 4, 12), d(1990, 4, 13)).0,
            DateLevel::Typo
        );
        assert_eq!(
            compare_dates(y(1990), d(1990, 4, 12)).0,
            DateLevel::SameYear
        );
        assert_eq!(
            compare_dates(d(1991, 4, 12), d(1990, 4, 12)).0,
            DateLevel::YearTypo
        );
        assert_eq!(
            compare_dates(y(1991), d(1990, 4, 12)).0,
            DateLevel::YearOffByOne
        );
        assert_eq!(
            compare_dates(y(1975), d(1990, 4, 12)).0,
            DateLevel::Disagree
        );
        assert_eq!(compare_dates(None, d(1990, 4, 12)).0, DateLevel::Unknown);
    }

    #[test]
    fn edit_distance_agrees_with_strsim() {
        for (a, b) in [
            ("kovalenko", "kovalenka"),
            ("kovalenko", "kovaelnko"),
            ("hnatuk", "hnatiuk"),
            ("ab", "ba"),
            ("", "a"),
            ("shevchenko", "shevchuk"),
            ("олег", "oleh"),
        ] {
            let d = strsim::osa_distance(a, b);
            for max in 0..4 {
                assert_eq!(within_edits(a, b, max), d <= max, "{a} {b} {max}");
            }
        }
    }

    #[test]
    fn swapped_name_parts_still_pair_up() {
        let record = person("Коваленко", "Олександр", "", None);
        let swapped = person("Олександр", "Коваленко", "", None);
        let c = score(&swapped, &record);
        assert!(c.weight > 10.0, "{c:?}");
        assert!(c.explanation.iter().any(|l| l.contains("written as the")));
    }
}
