//! Parsing of the values a registrar or an exchange officer types: enum words, partial dates,
//! durations, timestamps, name variants and quota lines. The same parsers serve flags and CSV cells, so a word that works on the command
//! line works in an import file too.
//!
//! These check form only (is it a date, is it a known word); whether a record makes sense is the
//! service's decision, and this module must never second-guess it.

use std::time::Duration;

use clap::ValueEnum;
use homeward_kit::auth::Role;
use homeward_proto::{common::v1 as common, exchange::v1 as xpb, registry::v1 as pb};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CategoryArg {
    #[value(alias = "service_member")]
    ServiceMember,
    Civilian,
}

impl From<CategoryArg> for common::PersonCategory {
    fn from(c: CategoryArg) -> Self {
        match c {
            CategoryArg::ServiceMember => Self::ServiceMember,
            CategoryArg::Civilian => Self::Civilian,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SexArg {
    #[value(alias = "m")]
    Male,
    #[value(alias = "f")]
    Female,
}

impl From<SexArg> for common::Sex {
    fn from(s: SexArg) -> Self {
        match s {
            SexArg::Male => Self::Male,
            SexArg::Female => Self::Female,
        }
    }
}

/// The statuses a new person may start in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitialStatusArg {
    Captured,
    Interned,
    Hospitalised,
    Missing,
}

impl From<InitialStatusArg> for pb::PersonStatus {
    fn from(s: InitialStatusArg) -> Self {
        match s {
            InitialStatusArg::Captured => Self::Captured,
            InitialStatusArg::Interned => Self::Interned,
            InitialStatusArg::Hospitalised => Self::Hospitalised,
            InitialStatusArg::Missing => Self::Missing,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Captured,
    Interned,
    Transferred,
    #[value(alias = "hospitalized")]
    Hospitalised,
    Escaped,
    ReservedForExchange,
    Repatriated,
    Released,
    Deceased,
    Missing,
    RefusedRepatriation,
}

impl From<StatusArg> for pb::PersonStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Captured => Self::Captured,
            StatusArg::Interned => Self::Interned,
            StatusArg::Transferred => Self::Transferred,
            StatusArg::Hospitalised => Self::Hospitalised,
            StatusArg::Escaped => Self::Escaped,
            StatusArg::ReservedForExchange => Self::ReservedForExchange,
            StatusArg::Repatriated => Self::Repatriated,
            StatusArg::Released => Self::Released,
            StatusArg::Deceased => Self::Deceased,
            StatusArg::Missing => Self::Missing,
            StatusArg::RefusedRepatriation => Self::RefusedRepatriation,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    OwnReport,
    OtherPartyList,
    TracingAgency,
    ReturneeDebrief,
    OpenSource,
    IdentityDocument,
    Family,
}

impl From<SourceArg> for common::InformationSource {
    fn from(s: SourceArg) -> Self {
        match s {
            SourceArg::OwnReport => Self::OwnReport,
            SourceArg::OtherPartyList => Self::OtherPartyList,
            SourceArg::TracingAgency => Self::TracingAgency,
            SourceArg::ReturneeDebrief => Self::ReturneeDebrief,
            SourceArg::OpenSource => Self::OpenSource,
            SourceArg::IdentityDocument => Self::IdentityDocument,
            SourceArg::Family => Self::Family,
        }
    }
}

/// The admiralty grades; the letters A to F are accepted as well as the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReliabilityArg {
    #[value(alias = "a")]
    CompletelyReliable,
    #[value(alias = "b")]
    UsuallyReliable,
    #[value(alias = "c")]
    FairlyReliable,
    #[value(alias = "d")]
    NotUsuallyReliable,
    #[value(alias = "e")]
    Unreliable,
    #[value(alias = "f")]
    CannotBeJudged,
}

impl From<ReliabilityArg> for common::Reliability {
    fn from(r: ReliabilityArg) -> Self {
        match r {
            ReliabilityArg::CompletelyReliable => Self::CompletelyReliable,
            ReliabilityArg::UsuallyReliable => Self::UsuallyReliable,
            ReliabilityArg::FairlyReliable => Self::FairlyReliable,
            ReliabilityArg::NotUsuallyReliable => Self::NotUsuallyReliable,
            ReliabilityArg::Unreliable => Self::Unreliable,
            ReliabilityArg::CannotBeJudged => Self::CannotBeJudged,
        }
    }
}

/// Roles are spelled as the token carries them (snake case); hyphens are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum RoleArg {
    Registrar,
    #[value(alias = "exchange-officer")]
    ExchangeOfficer,
    #[value(alias = "family-liaison")]
    FamilyLiaison,
    Auditor,
    #[value(alias = "tracing-agency")]
    TracingAgency,
    Service,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Registrar => Role::Registrar,
            RoleArg::ExchangeOfficer => Role::ExchangeOfficer,
            RoleArg::FamilyLiaison => Role::FamilyLiaison,
            RoleArg::Auditor => Role::Auditor,
            RoleArg::TracingAgency => Role::TracingAgency,
            RoleArg::Service => Role::Service,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// Which of a party's two lists: the people it asks back, or the people it hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListKindArg {
    Request,
    Offer,
}

impl From<ListKindArg> for xpb::ListKind {
    fn from(k: ListKindArg) -> Self {
        match k {
            ListKindArg::Request => Self::Request,
            ListKindArg::Offer => Self::Offer,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhaseStateArg {
    Draft,
    Negotiating,
    ListsFrozen,
    InHandover,
    Completed,
    PartiallyCompleted,
    Cancelled,
}

impl From<PhaseStateArg> for xpb::PhaseState {
    fn from(s: PhaseStateArg) -> Self {
        match s {
            PhaseStateArg::Draft => Self::Draft,
            PhaseStateArg::Negotiating => Self::Negotiating,
            PhaseStateArg::ListsFrozen => Self::ListsFrozen,
            PhaseStateArg::InHandover => Self::InHandover,
            PhaseStateArg::Completed => Self::Completed,
            PhaseStateArg::PartiallyCompleted => Self::PartiallyCompleted,
            PhaseStateArg::Cancelled => Self::Cancelled,
        }
    }
}

/// The outcomes of a reconciliation item; `substitution` and `review` are short for the two that
/// must be reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeArg {
    Paired,
    UnmatchedRequest,
    UnmatchedOffer,
    #[value(alias = "substitution")]
    SuspectedSubstitution,
    #[value(alias = "review")]
    NeedsReview,
}

impl From<OutcomeArg> for xpb::ReconciliationOutcome {
    fn from(o: OutcomeArg) -> Self {
        match o {
            OutcomeArg::Paired => Self::Paired,
            OutcomeArg::UnmatchedRequest => Self::UnmatchedRequest,
            OutcomeArg::UnmatchedOffer => Self::UnmatchedOffer,
            OutcomeArg::SuspectedSubstitution => Self::SuspectedSubstitution,
            OutcomeArg::NeedsReview => Self::NeedsReview,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConsentArg {
    Willing,
    Refuses,
}

impl From<ConsentArg> for xpb::ConsentDecision {
    fn from(c: ConsentArg) -> Self {
        match c {
            ConsentArg::Willing => Self::Willing,
            ConsentArg::Refuses => Self::Refuses,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HoldBackReasonArg {
    CriminalProceedings,
    UnfitToTravel,
    NotAvailable,
    Other,
}

impl From<HoldBackReasonArg> for xpb::HoldBackReason {
    fn from(r: HoldBackReasonArg) -> Self {
        match r {
            HoldBackReasonArg::CriminalProceedings => Self::CriminalProceedings,
            HoldBackReasonArg::UnfitToTravel => Self::UnfitToTravel,
            HoldBackReasonArg::NotAvailable => Self::NotAvailable,
            HoldBackReasonArg::Other => Self::Other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckResultArg {
    Verified,
    Mismatch,
    NotOnList,
    Missing,
}

impl From<CheckResultArg> for xpb::HandoverCheckResult {
    fn from(r: CheckResultArg) -> Self {
        match r {
            CheckResultArg::Verified => Self::Verified,
            CheckResultArg::Mismatch => Self::Mismatch,
            CheckResultArg::NotOnList => Self::NotOnList,
            CheckResultArg::Missing => Self::Missing,
        }
    }
}

/// How identity was established at the handover; `document` and `photo` are short forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckMethodArg {
    #[value(alias = "document")]
    IdentityDocument,
    #[value(alias = "photo")]
    PhotoComparison,
    Fingerprints,
    Interview,
    Recognition,
}

impl From<CheckMethodArg> for xpb::IdentityCheckMethod {
    fn from(m: CheckMethodArg) -> Self {
        match m {
            CheckMethodArg::IdentityDocument => Self::IdentityDocument,
            CheckMethodArg::PhotoComparison => Self::PhotoComparison,
            CheckMethodArg::Fingerprints => Self::Fingerprints,
            CheckMethodArg::Interview => Self::Interview,
            CheckMethodArg::Recognition => Self::Recognition,
        }
    }
}

/// Parses one of the words of a value enum, ignoring case; the error lists the accepted words.
pub fn enum_word<T: ValueEnum>(value: &str) -> Result<T, String> {
    T::from_str(value.trim(), true).map_err(|_| {
        let words: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        format!("`{}` is not one of {}", value.trim(), words.join(", "))
    })
}

const DATE_FORMS: &str = "expected YYYY, YYYY-MM or YYYY-MM-DD";

/// A date of which only the year, or the year and month, may be known.
pub fn partial_date(value: &str) -> Result<common::PartialDate, String> {
    let value = value.trim();
    let bad = |why: &str| format!("`{value}` is not a date: {why} ({DATE_FORMS})");
    let parts: Vec<&str> = value.split('-').collect();
    if parts.len() > 3 {
        return Err(bad("too many parts"));
    }
    let number = |part: &str, digits: usize, what: &str| -> Result<i32, String> {
        if part.len() != digits || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!("the {what} must have {digits} digits")));
        }
        part.parse::<i32>()
            .map_err(|_| bad(&format!("unreadable {what}")))
    };
    let year = number(parts[0], 4, "year")?;
    if year == 0 {
        return Err(bad("there is no year 0"));
    }
    let month = match parts.get(1) {
        Some(m) => number(m, 2, "month")?,
        None => 0,
    };
    let day = match parts.get(2) {
        Some(d) => number(d, 2, "day")?,
        None => 0,
    };
    if parts.len() > 1 && !(1..=12).contains(&month) {
        return Err(bad("the month must be 01 to 12"));
    }
    if parts.len() > 2 {
        // `time` knows month lengths and leap years; the month was range-checked above.
        let m =
            time::Month::try_from(month as u8).map_err(|_| bad("the month must be 01 to 12"))?;
        time::Date::from_calendar_date(year, m, day as u8)
            .map_err(|_| bad("that day does not exist in that month"))?;
    }
    Ok(common::PartialDate { year, month, day })
}

/// A token lifetime: a number followed by s, m, h or d ("90s", "30m", "12h", "7d"); a bare number
/// is seconds.
pub fn duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let bad = || format!("`{value}` is not a duration: use a number and s, m, h or d, such as 12h");
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(scale).ok_or_else(bad)?;
    if secs == 0 {
        return Err(format!(
            "`{value}` is not a usable duration: it must be longer than zero"
        ));
    }
    Ok(Duration::from_secs(secs))
}

/// An RFC 3339 instant, such as 2024-05-17T09:30:00Z or 2024-05-17T12:30:00+03:00.
pub fn timestamp(value: &str) -> Result<prost_types::Timestamp, String> {
    let at = OffsetDateTime::parse(value.trim(), &Rfc3339).map_err(|e| {
        format!("`{value}` is not an RFC 3339 time such as 2024-05-17T09:30:00Z: {e}")
    })?;
    Ok(prost_types::Timestamp {
        seconds: at.unix_timestamp(),
        nanos: at.nanosecond() as i32,
    })
}

/// An extra name variant: `given|family|patronymic|script`, trailing parts optional; the script
/// is `cyrillic`, `latin` or empty (the registry then detects it).
pub fn name_variant(value: &str) -> Result<common::PersonName, String> {
    let parts: Vec<&str> = value.split('|').map(str::trim).collect();
    if parts.len() > 4 {
        return Err(format!(
            "`{value}` has more than 4 parts: use given|family|patronymic|script"
        ));
    }
    let part = |i: usize| parts.get(i).copied().unwrap_or_default().to_string();
    let script = match part(3).to_lowercase().as_str() {
        "" => common::Script::Unspecified,
        "cyrillic" | "cyrl" => common::Script::Cyrillic,
        "latin" | "latn" => common::Script::Latin,
        other => return Err(format!("`{other}` is not a script: use cyrillic or latin")),
    };
    let name = common::PersonName {
        script: script as i32,
        given: part(0),
        family: part(1),
        patronymic: part(2),
        ..Default::default()
    };
    if name.given.is_empty() && name.family.is_empty() {
        return Err(format!("`{value}` has neither a given nor a family name"));
    }
    Ok(name)
}

/// A confidence threshold, above 0 and at most 1. Zero is refused because the registry reads it
/// as "use the default", which is not what someone typing 0 means.
pub fn confidence(value: &str) -> Result<f64, String> {
    let value = value.trim();
    let c: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number such as 0.8"))?;
    if c > 0.0 && c <= 1.0 {
        Ok(c)
    } else {
        Err(format!(
            "`{value}` is not a confidence: it is above 0 and at most 1; use a small number such as 0.01 to see weak candidates too"
        ))
    }
}

const QUOTA_FORM: &str = "write key=value pairs joined by commas, such as \
     party=UA,category=service-member,sex=female,age=18-60,count=3; only count is required";

/// One quota line: `key=value` pairs joined by commas, from `party` (empty: each party alike),
/// `category`, `sex`, `age` (see [`age_band`]) and `count`, which is required. A key left out
/// means any; a line with only a count is a party's total.
pub fn quota(value: &str) -> Result<xpb::Quota, String> {
    let value = value.trim();
    let bad = |why: String| format!("`{value}` is not a quota line: {why} ({QUOTA_FORM})");
    let mut quota = xpb::Quota::default();
    let mut count = None;
    let mut seen: Vec<String> = Vec::new();
    for pair in value.split(',') {
        let pair = pair.trim();
        let Some((key, v)) = pair.split_once('=') else {
            return Err(bad(if pair.is_empty() {
                "it has an empty part".into()
            } else {
                format!("`{pair}` has no `=`")
            }));
        };
        let (key, v) = (key.trim().to_lowercase(), v.trim());
        if seen.contains(&key) {
            return Err(bad(format!("`{key}` is given twice")));
        }
        if v.is_empty() {
            return Err(bad(format!("`{key}` has no value")));
        }
        match key.as_str() {
            "party" => quota.party = v.to_string(),
            "category" => {
                let c = enum_word::<CategoryArg>(v).map_err(|e| bad(format!("category {e}")))?;
                quota.category = common::PersonCategory::from(c) as i32;
            }
            "sex" => {
                let s = enum_word::<SexArg>(v).map_err(|e| bad(format!("sex {e}")))?;
                quota.sex = common::Sex::from(s) as i32;
            }
            // The age error shows its own forms; the quota form after it would bury them.
            "age" => {
                quota.age_band =
                    Some(age_band(v).map_err(|e| format!("`{value}` is not a quota line: {e}"))?)
            }
            "count" => {
                let n = v
                    .parse::<u32>()
                    .map_err(|_| bad(format!("count `{v}` is not a whole number of people")))?;
                count = Some(n);
            }
            other => {
                return Err(bad(format!(
                    "`{other}` is not a quota key: the keys are party, category, sex, age and count"
                )));
            }
        }
        seen.push(key);
    }
    quota.count = count.ok_or_else(|| bad("it has no count".into()))?;
    Ok(quota)
}

/// The oldest age a band may name; anything above is a typing error.
const MAX_AGE: u32 = 150;

/// An age band in completed years, both ends included: `18-60`; `60-` or `60+` for 60 and
/// older; `-17` for up to 17.
pub fn age_band(value: &str) -> Result<xpb::AgeBand, String> {
    let value = value.trim();
    let bad = |why: &str| {
        format!(
            "age `{value}` is not an age band: {why} (write 18-60, 60+ for 60 and older, or -17 for up to 17)"
        )
    };
    let (low, high) = if let Some(low) = value.strip_suffix('+') {
        (low, "")
    } else {
        value
            .split_once('-')
            .ok_or_else(|| bad("it needs a range, such as 65-65 for one age"))?
    };
    let age = |part: &str| -> Result<Option<u32>, String> {
        let part = part.trim();
        if part.is_empty() {
            return Ok(None);
        }
        match part.parse::<u32>() {
            Ok(n) if n <= MAX_AGE => Ok(Some(n)),
            Ok(_) => Err(bad(&format!("ages are at most {MAX_AGE}"))),
            Err(_) => Err(bad(&format!("`{part}` is not a whole number of years"))),
        }
    };
    let (min, max) = (age(low)?, age(high)?);
    match (min, max) {
        (None, None) => Err(bad("it names no age")),
        // The contract reads an upper bound of 0 as "none", so it cannot be asked for.
        (_, Some(0)) => Err(bad("an upper age of 0 cannot be given")),
        (Some(min), Some(max)) if min > max => Err(bad("the lower age is above the upper one")),
        (min, max) => Ok(xpb::AgeBand {
            min_age: min.unwrap_or_default(),
            max_age: max.unwrap_or_default(),
        }),
    }
}

/// A yes/no cell; empty means no.
pub fn flag(value: &str) -> Result<bool, String> {
    match value.trim().to_lowercase().as_str() {
        "" | "0" | "n" | "no" | "false" => Ok(false),
        "1" | "y" | "yes" | "true" | "x" => Ok(true),
        other => Err(format!(
            "`{other}` is not yes or no (use true/false, yes/no or 1/0)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: i32, day: i32) -> common::PartialDate {
        common::PartialDate { year, month, day }
    }

    #[test]
    fn partial_dates_accept_a_year_a_month_or_a_full_date() {
        assert_eq!(partial_date("1990"), Ok(date(1990, 0, 0)));
        assert_eq!(partial_date("1990-05"), Ok(date(1990, 5, 0)));
        assert_eq!(partial_date(" 1992-02-29 "), Ok(date(1992, 2, 29)));
    }

    #[test]
    fn impossible_or_misshapen_dates_are_refused_with_the_expected_forms() {
        for bad in [
            "",
            "90",
            "1990-5",
            "1990-13",
            "1990-00",
            "1991-02-29",
            "1990-04-31",
            "1990-01-01-01",
            "abcd",
            "0000",
            "1990/05/01",
            "-1990",
        ] {
            let err = partial_date(bad).expect_err(bad);
            assert!(err.contains(DATE_FORMS), "{bad}: {err}");
        }
    }

    #[test]
    fn durations_take_a_unit_and_refuse_zero_and_overflow() {
        assert_eq!(duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(duration("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(duration("90"), Ok(Duration::from_secs(90)));
        for bad in [
            "",
            "h",
            "0h",
            "12w",
            "1.5h",
            "-1h",
            "99999999999999999999d",
            "18446744073709551615d",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_with_an_offset() {
        let t = timestamp("2024-05-17T12:30:00+03:00").unwrap();
        assert_eq!(t.seconds, 1_715_938_200);
        assert!(timestamp("2024-05-17 12:30").is_err());
    }

    #[test]
    fn name_variants_split_on_bars_and_name_their_script() {
        let n = name_variant("Олександр|Коваленко|Петрович|cyrillic").unwrap();
        assert_eq!(
            (n.given.as_str(), n.family.as_str()),
            ("Олександр", "Коваленко")
        );
        assert_eq!(n.patronymic, "Петрович");
        assert_eq!(n.script, common::Script::Cyrillic as i32);
        let n = name_variant("Oleksandr|Kovalenko").unwrap();
        assert_eq!(n.script, common::Script::Unspecified as i32);
        assert!(name_variant("|||latin").is_err());
        assert!(name_variant("a|b|c|klingon").is_err());
        assert!(name_variant("a|b|c|latin|x").is_err());
    }

    #[test]
    fn enum_words_ignore_case_accept_aliases_and_list_the_choices() {
        assert_eq!(
            enum_word::<CategoryArg>("Service-Member"),
            Ok(CategoryArg::ServiceMember)
        );
        assert_eq!(
            enum_word::<CategoryArg>("service_member"),
            Ok(CategoryArg::ServiceMember)
        );
        assert_eq!(
            enum_word::<ReliabilityArg>("B"),
            Ok(ReliabilityArg::UsuallyReliable)
        );
        assert_eq!(
            enum_word::<RoleArg>("exchange-officer"),
            Ok(RoleArg::ExchangeOfficer)
        );
        let err = enum_word::<SexArg>("x").unwrap_err();
        assert!(err.contains("male, female"), "{err}");
    }

    #[test]
    fn confidences_lie_above_zero_and_at_most_one() {
        assert_eq!(confidence("0.8"), Ok(0.8));
        assert_eq!(confidence(" 1 "), Ok(1.0));
        for bad in ["0", "0.0", "-0.5", "1.01", "NaN", "inf", "high", ""] {
            assert!(confidence(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_quota_line_with_only_a_count_is_a_total_for_each_party() {
        let q = quota("count=1000").unwrap();
        assert_eq!(
            q,
            xpb::Quota {
                count: 1000,
                ..Default::default()
            }
        );
        assert_eq!(q.age_band, None);
    }

    #[test]
    fn quota_keys_come_in_any_order_and_take_the_flag_words() {
        let q = quota(" Party=UA , sex=F, category=service_member, count=3 ").unwrap();
        assert_eq!(q.party, "UA");
        assert_eq!(q.sex, common::Sex::Female as i32);
        assert_eq!(q.category, common::PersonCategory::ServiceMember as i32);
        assert_eq!(q.count, 3);
        let q = quota("category=civilian,count=120").unwrap();
        assert_eq!(q.category, common::PersonCategory::Civilian as i32);
        assert_eq!(q.party, "");
    }

    #[test]
    fn age_bands_take_a_range_an_open_end_or_an_upper_limit() {
        let band = |min_age, max_age| Some(xpb::AgeBand { min_age, max_age });
        assert_eq!(quota("age=18-60,count=5").unwrap().age_band, band(18, 60));
        assert_eq!(quota("age=60+,count=5").unwrap().age_band, band(60, 0));
        assert_eq!(quota("age=60-,count=5").unwrap().age_band, band(60, 0));
        assert_eq!(quota("age=-17,count=5").unwrap().age_band, band(0, 17));
        assert_eq!(quota("age=65-65,count=1").unwrap().age_band, band(65, 65));
    }

    #[test]
    fn misshapen_quota_lines_are_refused_with_the_form_to_use() {
        for (bad, says) in [
            ("", "empty part"),
            ("count=", "`count` has no value"),
            ("party=UA", "no count"),
            ("count=1000,", "empty part"),
            ("count=-3", "not a whole number"),
            ("count=3.5", "not a whole number"),
            ("count=99999999999", "not a whole number"),
            ("count=1,count=2", "given twice"),
            ("colour=red,count=1", "`colour` is not a quota key"),
            ("category=soldier,count=1", "service-member, civilian"),
            ("sex=x,count=1", "male, female"),
            ("1000", "no `=`"),
        ] {
            let err = quota(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
            assert!(err.contains("only count is required"), "{bad}: {err}");
        }
        for (bad, says) in [
            ("age=65,count=1", "needs a range"),
            ("age=60-18,count=1", "lower age is above"),
            ("age=-,count=1", "names no age"),
            ("age=0-0,count=1", "upper age of 0"),
            ("age=18-200,count=1", "at most 150"),
            ("age=x-20,count=1", "`x` is not a whole number"),
            ("age=18-20-30,count=1", "not a whole number"),
        ] {
            let err = quota(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
            assert!(err.contains("write 18-60, 60+"), "{bad}: {err}");
        }
    }

    #[test]
    fn flags_read_yes_and_no_in_the_usual_spellings() {
        assert_eq!(flag(""), Ok(false));
        assert_eq!(flag("Yes"), Ok(true));
        assert_eq!(flag("0"), Ok(false));
        assert!(flag("maybe").is_err());
    }
}
