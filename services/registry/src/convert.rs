//! The edge: protobuf messages become domain types here and nowhere else. This is the one place
//! that decides what "missing" and "invalid" mean; every violation is collected with its field
//! path so a registrar sees all problems of a record at once.

use homeward_kit::{error::Violation, timestamp};
use homeward_proto::{common::v1 as common, registry::v1 as pb};

use crate::domain::*;

const MAX_TEXT: usize = 200;
const MAX_NAMES: usize = 16;
const MAX_DOCUMENTS: usize = 16;

/// Collects violations while converting one message.
#[derive(Default)]
pub struct Check {
    pub violations: Vec<Violation>,
}

impl Check {
    pub fn fail(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.violations.push(Violation::new(field, description));
    }

    /// Trims `value` and checks its length and characters.
    pub fn text(&mut self, field: &str, value: &str, required: bool) -> String {
        let value = value.trim();
        if required && value.is_empty() {
            self.fail(field, "required");
        } else if value.chars().count() > MAX_TEXT {
            self.fail(field, format!("at most {MAX_TEXT} characters"));
        } else if value.chars().any(char::is_control) {
            self.fail(field, "must not contain control characters");
        }
        value.to_string()
    }

    /// A party code: 2 to 8 capital letters ("UA", "RU").
    pub fn party(&mut self, field: &str, value: &str, required: bool) -> String {
        let value = value.trim();
        if value.is_empty() {
            if required {
                self.fail(field, "required: a party code such as UA");
            }
        } else if !(2..=8).contains(&value.len()) || !value.chars().all(|c| c.is_ascii_uppercase())
        {
            self.fail(field, "a party code is 2 to 8 capital letters, such as UA");
        }
        value.to_string()
    }

    pub fn country(&mut self, field: &str, value: &str) -> String {
        let value = value.trim();
        if !value.is_empty() && (value.len() != 2 || !value.chars().all(|c| c.is_ascii_uppercase()))
        {
            self.fail(field, "an ISO 3166-1 alpha-2 code such as UA");
        }
        value.to_string()
    }

    pub fn date(&mut self, field: &str, date: Option<&common::PartialDate>) -> Option<PartialDate> {
        let d = date?;
        match PartialDate::new(d.year, d.month, d.day, current_year()) {
            Ok(date) => date,
            Err(e) => {
                self.fail(field, e);
                None
            }
        }
    }

    pub fn into_result<T>(self, value: T) -> Result<T, Vec<Violation>> {
        if self.violations.is_empty() {
            Ok(value)
        } else {
            Err(self.violations)
        }
    }
}

fn current_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

pub fn category(v: i32) -> Option<Category> {
    match common::PersonCategory::try_from(v).ok()? {
        common::PersonCategory::ServiceMember => Some(Category::ServiceMember),
        common::PersonCategory::Civilian => Some(Category::Civilian),
        common::PersonCategory::Unspecified => None,
    }
}

pub fn sex(v: i32) -> Option<Sex> {
    match common::Sex::try_from(v).ok()? {
        common::Sex::Unspecified => Some(Sex::Unknown),
        common::Sex::Male => Some(Sex::Male),
        common::Sex::Female => Some(Sex::Female),
    }
}

pub fn status(v: i32) -> Option<Status> {
    use pb::PersonStatus as P;
    Some(match P::try_from(v).ok()? {
        P::Unspecified => return None,
        P::Captured => Status::Captured,
        P::Interned => Status::Interned,
        P::Transferred => Status::Transferred,
        P::Hospitalised => Status::Hospitalised,
        P::Escaped => Status::Escaped,
        P::ReservedForExchange => Status::ReservedForExchange,
        P::Repatriated => Status::Repatriated,
        P::Released => Status::Released,
        P::Deceased => Status::Deceased,
        P::Missing => Status::Missing,
        P::RefusedRepatriation => Status::RefusedRepatriation,
    })
}

pub fn status_to_pb(s: Status) -> pb::PersonStatus {
    use pb::PersonStatus as P;
    match s {
        Status::Captured => P::Captured,
        Status::Interned => P::Interned,
        Status::Transferred => P::Transferred,
        Status::Hospitalised => P::Hospitalised,
        Status::Escaped => P::Escaped,
        Status::ReservedForExchange => P::ReservedForExchange,
        Status::Repatriated => P::Repatriated,
        Status::Released => P::Released,
        Status::Deceased => P::Deceased,
        Status::Missing => P::Missing,
        Status::RefusedRepatriation => P::RefusedRepatriation,
    }
}

pub fn source(v: i32) -> Option<Source> {
    use common::InformationSource as I;
    Some(match I::try_from(v).ok()? {
        I::Unspecified => Source::Unknown,
        I::OwnReport => Source::OwnReport,
        I::OtherPartyList => Source::OtherPartyList,
        I::TracingAgency => Source::TracingAgency,
        I::ReturneeDebrief => Source::ReturneeDebrief,
        I::OpenSource => Source::OpenSource,
        I::IdentityDocument => Source::IdentityDocument,
        I::Family => Source::Family,
    })
}

fn source_to_pb(s: Source) -> common::InformationSource {
    use common::InformationSource as I;
    match s {
        Source::Unknown => I::Unspecified,
        Source::OwnReport => I::OwnReport,
        Source::OtherPartyList => I::OtherPartyList,
        Source::TracingAgency => I::TracingAgency,
        Source::ReturneeDebrief => I::ReturneeDebrief,
        Source::OpenSource => I::OpenSource,
        Source::IdentityDocument => I::IdentityDocument,
        Source::Family => I::Family,
    }
}

pub fn reliability(v: i32) -> Option<Reliability> {
    use common::Reliability as R;
    Some(match R::try_from(v).ok()? {
        R::Unspecified => Reliability::Unknown,
        R::CompletelyReliable => Reliability::CompletelyReliable,
        R::UsuallyReliable => Reliability::UsuallyReliable,
        R::FairlyReliable => Reliability::FairlyReliable,
        R::NotUsuallyReliable => Reliability::NotUsuallyReliable,
        R::Unreliable => Reliability::Unreliable,
        R::CannotBeJudged => Reliability::CannotBeJudged,
    })
}

fn reliability_to_pb(r: Reliability) -> common::Reliability {
    use common::Reliability as R;
    match r {
        Reliability::Unknown => R::Unspecified,
        Reliability::CompletelyReliable => R::CompletelyReliable,
        Reliability::UsuallyReliable => R::UsuallyReliable,
        Reliability::FairlyReliable => R::FairlyReliable,
        Reliability::NotUsuallyReliable => R::NotUsuallyReliable,
        Reliability::Unreliable => R::Unreliable,
        Reliability::CannotBeJudged => R::CannotBeJudged,
    }
}

pub fn names(check: &mut Check, field: &str, names: &[common::PersonName]) -> Vec<NameVariant> {
    if names.is_empty() {
        check.fail(field, "at least one name is required");
    }
    if names.len() > MAX_NAMES {
        check.fail(field, format!("at most {MAX_NAMES} name variants"));
    }
    names
        .iter()
        .take(MAX_NAMES)
        .enumerate()
        .map(|(i, n)| {
            let f = |part: &str| format!("{field}[{i}].{part}");
            let given = check.text(&f("given"), &n.given, false);
            let family = check.text(&f("family"), &n.family, false);
            let patronymic = check.text(&f("patronymic"), &n.patronymic, false);
            if given.is_empty() && family.is_empty() {
                check.fail(f("family"), "a name needs a family or a given name");
            }
            let script = match common::Script::try_from(n.script) {
                Ok(common::Script::Cyrillic) => Script::Cyrillic,
                Ok(common::Script::Latin) => Script::Latin,
                Ok(common::Script::Unspecified) => detect_script(&format!("{given}{family}")),
                Err(_) => {
                    check.fail(f("script"), "unknown script");
                    Script::Unknown
                }
            };
            let source = source(n.source).unwrap_or_else(|| {
                check.fail(f("source"), "unknown source");
                Source::Unknown
            });
            let language = check.text(&f("language"), &n.language, false);
            if language.len() > 16 {
                check.fail(f("language"), "a BCP 47 tag such as uk");
            }
            NameVariant {
                script,
                given,
                family,
                patronymic,
                source,
                language,
            }
        })
        .collect()
}

fn capture(check: &mut Check, field: &str, c: Option<&pb::Capture>) -> Option<Capture> {
    let c = c?;
    let date = check.date(&format!("{field}.date"), c.date.as_ref());
    let place = check.text(&format!("{field}.place"), &c.place, false);
    (date.is_some() || !place.is_empty()).then_some(Capture { date, place })
}

/// The registrar-set part of a person, validated. `field` prefixes violation paths.
pub fn identity(check: &mut Check, field: &str, p: &pb::Person) -> Identity {
    let f = |name: &str| format!("{field}.{name}");
    let category = category(p.category).unwrap_or_else(|| {
        check.fail(f("category"), "required: service member or civilian");
        Category::Civilian
    });
    let sex = sex(p.sex).unwrap_or_else(|| {
        check.fail(f("sex"), "unknown value");
        Sex::Unknown
    });
    let names = names(check, &f("names"), &p.names);
    let birth_date = check.date(&f("birth_date"), p.birth_date.as_ref());
    if p.documents.len() > MAX_DOCUMENTS {
        check.fail(f("documents"), format!("at most {MAX_DOCUMENTS} documents"));
    }
    let documents = p
        .documents
        .iter()
        .take(MAX_DOCUMENTS)
        .enumerate()
        .map(|(i, d)| {
            let kind = match common::DocumentType::try_from(d.r#type) {
                Ok(common::DocumentType::Passport) => DocumentType::Passport,
                Ok(common::DocumentType::NationalId) => DocumentType::NationalId,
                Ok(common::DocumentType::MilitaryId) => DocumentType::MilitaryId,
                Ok(common::DocumentType::BirthCertificate) => DocumentType::BirthCertificate,
                Ok(common::DocumentType::Other) => DocumentType::Other,
                _ => {
                    check.fail(format!("{field}.documents[{i}].type"), "required");
                    DocumentType::Other
                }
            };
            Document {
                kind,
                number: check.text(&format!("{field}.documents[{i}].number"), &d.number, true),
                issuing_country: check.country(
                    &format!("{field}.documents[{i}].issuing_country"),
                    &d.issuing_country,
                ),
            }
        })
        .collect();
    let file_reference = check.text(&f("file_reference"), &p.file_reference, false);
    Identity {
        category,
        sex,
        names,
        birth_date,
        birth_place: check.text(&f("birth_place"), &p.birth_place, false),
        citizenship: check.country(&f("citizenship"), &p.citizenship),
        affiliated_party: check.party(&f("affiliated_party"), &p.affiliated_party, true),
        holding_party: check.party(&f("holding_party"), &p.holding_party, true),
        service_number: check.text(&f("service_number"), &p.service_number, false),
        rank: check.text(&f("rank"), &p.rank, false),
        unit: check.text(&f("unit"), &p.unit, false),
        documents,
        capture: capture(check, &f("capture"), p.capture.as_ref()),
        detention_place: check.text(&f("detention_place"), &p.detention_place, false),
        health: p
            .health
            .map(|h| Health {
                wounded: h.wounded,
                seriously_ill: h.seriously_ill,
            })
            .unwrap_or_default(),
        file_reference: (!file_reference.is_empty()).then_some(file_reference),
    }
}

/// A status change as requested, validated (the transition itself is checked against the
/// person's current status by the service).
pub fn status_change(
    check: &mut Check,
    c: Option<&pb::StatusChange>,
) -> Option<(Status, StatusEntry)> {
    let Some(c) = c else {
        check.fail("change", "required");
        return None;
    };
    let status = status(c.status);
    if status.is_none() {
        check.fail("change.status", "required");
    }
    let occurred_at_us = match c.occur_time.as_ref() {
        None => timestamp::now_micros(),
        Some(ts) => match timestamp::proto_to_micros(ts) {
            Some(us) if us <= timestamp::now_micros() + 3_600_000_000 => us,
            Some(_) => {
                check.fail("change.occur_time", "must not be in the future");
                0
            }
            None => {
                check.fail("change.occur_time", "out of range");
                0
            }
        },
    };
    let entry = StatusEntry {
        sequence: 0,
        status: status.unwrap_or(Status::Captured),
        occurred_at_us,
        source: source(c.source).unwrap_or_else(|| {
            check.fail("change.source", "unknown source");
            Source::Unknown
        }),
        reliability: reliability(c.reliability).unwrap_or_else(|| {
            check.fail("change.reliability", "unknown grade");
            Reliability::Unknown
        }),
        detention_place: check.text("change.detention_place", &c.detention_place, false),
        capture: capture(check, "change.capture", c.capture.as_ref()),
        exchange_id: None,
        note: check.text("change.note", &c.note, false),
        recorded_at_us: 0,
        recorded_by: String::new(),
    };
    Some((status?, entry))
}

fn date_to_pb(d: Option<PartialDate>) -> Option<common::PartialDate> {
    d.map(|d| common::PartialDate {
        year: d.year,
        month: d.month.map(i32::from).unwrap_or(0),
        day: d.day.map(i32::from).unwrap_or(0),
    })
}

fn capture_to_pb(c: &Option<Capture>) -> Option<pb::Capture> {
    c.as_ref().map(|c| pb::Capture {
        date: date_to_pb(c.date),
        place: c.place.clone(),
    })
}

pub fn name_to_pb(n: &NameVariant) -> common::PersonName {
    common::PersonName {
        script: match n.script {
            Script::Unknown => common::Script::Unspecified,
            Script::Cyrillic => common::Script::Cyrillic,
            Script::Latin => common::Script::Latin,
        } as i32,
        given: n.given.clone(),
        family: n.family.clone(),
        patronymic: n.patronymic.clone(),
        source: source_to_pb(n.source) as i32,
        language: n.language.clone(),
    }
}

pub fn person_to_pb(p: &Person) -> pb::Person {
    let i = &p.identity;
    pb::Person {
        id: p.id.to_string(),
        etag: p.etag(),
        category: match i.category {
            Category::ServiceMember => common::PersonCategory::ServiceMember,
            Category::Civilian => common::PersonCategory::Civilian,
        } as i32,
        sex: match i.sex {
            Sex::Unknown => common::Sex::Unspecified,
            Sex::Male => common::Sex::Male,
            Sex::Female => common::Sex::Female,
        } as i32,
        names: i.names.iter().map(name_to_pb).collect(),
        birth_date: date_to_pb(i.birth_date),
        birth_place: i.birth_place.clone(),
        citizenship: i.citizenship.clone(),
        affiliated_party: i.affiliated_party.clone(),
        holding_party: i.holding_party.clone(),
        service_number: i.service_number.clone(),
        rank: i.rank.clone(),
        unit: i.unit.clone(),
        documents: i
            .documents
            .iter()
            .map(|d| common::IdentityDocument {
                r#type: match d.kind {
                    DocumentType::Passport => common::DocumentType::Passport,
                    DocumentType::NationalId => common::DocumentType::NationalId,
                    DocumentType::MilitaryId => common::DocumentType::MilitaryId,
                    DocumentType::BirthCertificate => common::DocumentType::BirthCertificate,
                    DocumentType::Other => common::DocumentType::Other,
                } as i32,
                number: d.number.clone(),
                issuing_country: d.issuing_country.clone(),
            })
            .collect(),
        capture: capture_to_pb(&i.capture),
        detention_place: i.detention_place.clone(),
        health: Some(pb::Health {
            wounded: i.health.wounded,
            seriously_ill: i.health.seriously_ill,
        }),
        status: status_to_pb(p.status) as i32,
        status_time: Some(timestamp::micros_to_proto(p.status_at_us)),
        reserved_for_exchange_id: p.reserved_for.clone().unwrap_or_default(),
        create_time: Some(timestamp::micros_to_proto(p.created_at_us)),
        update_time: Some(timestamp::micros_to_proto(p.updated_at_us)),
        file_reference: i.file_reference.clone().unwrap_or_default(),
        merged_into_id: p.merged_into.map(|id| id.to_string()).unwrap_or_default(),
    }
}

pub fn entry_to_pb(e: &StatusEntry) -> pb::StatusChange {
    pb::StatusChange {
        sequence: e.sequence as u64,
        status: status_to_pb(e.status) as i32,
        occur_time: Some(timestamp::micros_to_proto(e.occurred_at_us)),
        source: source_to_pb(e.source) as i32,
        reliability: reliability_to_pb(e.reliability) as i32,
        detention_place: e.detention_place.clone(),
        capture: capture_to_pb(&e.capture),
        exchange_id: e.exchange_id.clone().unwrap_or_default(),
        note: e.note.clone(),
        record_time: Some(timestamp::micros_to_proto(e.recorded_at_us)),
        recorded_by: e.recorded_by.clone(),
    }
}

/// The script a name is written in, from its letters.
fn detect_script(s: &str) -> Script {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> pb::Person {
        pb::Person {
            category: common::PersonCategory::Civilian as i32,
            names: vec![common::PersonName {
                given: "Олена".into(),
                family: "Бойко".into(),
                ..Default::default()
            }],
            affiliated_party: "UA".into(),
            holding_party: "RU".into(),
            ..Default::default()
        }
    }

    fn fields(p: &pb::Person) -> Vec<String> {
        let mut check = Check::default();
        identity(&mut check, "person", p);
        check.violations.into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn a_minimal_person_is_valid_and_its_script_is_detected() {
        let mut check = Check::default();
        let id = identity(&mut check, "person", &valid());
        assert!(check.violations.is_empty());
        assert_eq!(id.names[0].script, Script::Cyrillic);
        assert_eq!(id.file_reference, None);
    }

    #[test]
    fn every_problem_is_reported_with_its_field_path() {
        let mut p = valid();
        p.category = 0;
        p.names[0].family.clear();
        p.names[0].given.clear();
        p.holding_party = "Russia".into();
        p.citizenship = "UKR".into();
        p.documents.push(common::IdentityDocument::default());
        p.unit = "u".repeat(MAX_TEXT + 1);
        p.rank = "bad\u{7}rank".into();
        assert_eq!(
            fields(&p),
            vec![
                "person.category",
                "person.names[0].family",
                "person.documents[0].type",
                "person.documents[0].number",
                "person.citizenship",
                "person.holding_party",
                "person.rank",
                "person.unit",
            ]
        );
    }

    #[test]
    fn unknown_enum_values_are_refused_not_guessed() {
        let mut p = valid();
        p.sex = 42;
        assert_eq!(fields(&p), vec!["person.sex"]);
        let mut p = valid();
        p.names[0].script = 9;
        assert_eq!(fields(&p), vec!["person.names[0].script"]);
    }

    #[test]
    fn a_status_change_without_a_status_is_invalid() {
        let mut check = Check::default();
        assert!(status_change(&mut check, Some(&pb::StatusChange::default())).is_none());
        assert_eq!(check.violations[0].field, "change.status");
    }
}
