//! The registry's domain: a person held, their status and its history, and the rules for how a
//! status may change. Nothing here knows about protobuf or SQL; validation of what arrives over
//! the wire happens in `convert`, which builds these types.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    ServiceMember,
    Civilian,
}

impl Category {
    /// The status a person of this category takes when an exchange hands them over. Civilians
    /// are not prisoners of war: they are released, not repatriated.
    pub fn status_on_handover(self) -> Status {
        match self {
            Category::ServiceMember => Status::Repatriated,
            Category::Civilian => Status::Released,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Unknown,
    Male,
    Female,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Captured,
    Interned,
    Transferred,
    Hospitalised,
    Escaped,
    ReservedForExchange,
    Repatriated,
    Released,
    Deceased,
    Missing,
    RefusedRepatriation,
}

impl Status {
    /// Held by a party (reservable, transferable).
    pub fn in_custody(self) -> bool {
        matches!(
            self,
            Status::Captured | Status::Interned | Status::Transferred | Status::Hospitalised
        )
    }

    /// Statuses a person may be registered with.
    pub fn allowed_initially(self) -> bool {
        self.in_custody() || self == Status::Missing
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Captured => "captured",
            Status::Interned => "interned",
            Status::Transferred => "transferred",
            Status::Hospitalised => "hospitalised",
            Status::Escaped => "escaped",
            Status::ReservedForExchange => "reserved for exchange",
            Status::Repatriated => "repatriated",
            Status::Released => "released",
            Status::Deceased => "deceased",
            Status::Missing => "missing",
            Status::RefusedRepatriation => "refused repatriation",
        }
    }
}

/// Why a status change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("nothing can follow deceased; correct the record instead")]
    AfterDeath,
    #[error("a return to captured after {0} needs a new capture record")]
    NeedsNewCapture(&'static str),
    #[error("{0} cannot follow {1}")]
    NotAllowed(&'static str, &'static str),
    #[error("reservations are made and released only through the exchange calls")]
    ReservationOnlyByExchange,
}

/// Checks one step of the status machine. `new_capture` says whether the change carries a new
/// capture record.
pub fn check_transition(
    from: Status,
    to: Status,
    new_capture: bool,
) -> Result<(), TransitionError> {
    use Status::*;
    if from == Deceased {
        return Err(TransitionError::AfterDeath);
    }
    if to == ReservedForExchange
        || from == ReservedForExchange && to.in_custody() && to != Hospitalised
    {
        // Entering and leaving a reservation belongs to ReservePersons / ReleasePersons.
        return Err(TransitionError::ReservationOnlyByExchange);
    }
    let allowed = match from {
        // Anyone held can be moved, fall ill, escape, be released or repatriated, die.
        Captured | Interned | Transferred | Hospitalised => true,
        // Handed over (repatriated, or released for a civilian), or the exchange falls through.
        ReservedForExchange => matches!(
            to,
            Hospitalised
                | Repatriated
                | Released
                | RefusedRepatriation
                | Deceased
                | Escaped
                | Missing
        ),
        RefusedRepatriation => matches!(
            to,
            Captured
                | Interned
                | Transferred
                | Hospitalised
                | Released
                | Deceased
                | Escaped
                | Missing
        ),
        Escaped | Released | Repatriated => {
            if to == Captured || to.in_custody() {
                if !new_capture {
                    return Err(TransitionError::NeedsNewCapture(from.name()));
                }
                true
            } else {
                matches!(to, Deceased | Missing)
            }
        }
        Missing => true,
        Deceased => false,
    };
    if allowed && from != to || matches!(to, Transferred | Hospitalised) && from == to {
        Ok(())
    } else {
        Err(TransitionError::NotAllowed(to.name(), from.name()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Script {
    Unknown,
    Cyrillic,
    Latin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Unknown,
    OwnReport,
    OtherPartyList,
    TracingAgency,
    ReturneeDebrief,
    OpenSource,
    IdentityDocument,
    Family,
}

/// Admiralty-scale reliability of a source (A to F).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reliability {
    Unknown,
    CompletelyReliable,
    UsuallyReliable,
    FairlyReliable,
    NotUsuallyReliable,
    Unreliable,
    CannotBeJudged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameVariant {
    pub script: Script,
    pub given: String,
    pub family: String,
    pub patronymic: String,
    pub source: Source,
    pub language: String,
}

/// A date known to the year, the month or the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialDate {
    pub year: i32,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

impl PartialDate {
    /// Validates the parts; `max_year` bounds dates that cannot be in the future.
    pub fn new(year: i32, month: i32, day: i32, max_year: i32) -> Result<Option<Self>, String> {
        if year == 0 && month == 0 && day == 0 {
            return Ok(None);
        }
        if !(1900..=max_year).contains(&year) {
            return Err(format!("year must be between 1900 and {max_year}"));
        }
        if month == 0 && day != 0 {
            return Err("a day needs a month".into());
        }
        if !(0..=12).contains(&month) {
            return Err("month must be 1 to 12".into());
        }
        if day != 0 {
            let m = time::Month::try_from(month as u8).map_err(|e| e.to_string())?;
            if time::Date::from_calendar_date(year, m, day.clamp(0, 255) as u8).is_err() {
                return Err(format!("{year}-{month:02} has no day {day}"));
            }
        }
        Ok(Some(Self {
            year,
            month: (month != 0).then_some(month as u8),
            day: (day != 0).then_some(day as u8),
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    Passport,
    NationalId,
    MilitaryId,
    BirthCertificate,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub kind: DocumentType,
    pub number: String,
    pub issuing_country: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    pub date: Option<PartialDate>,
    pub place: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub wounded: bool,
    pub seriously_ill: bool,
}

/// The fields a registrar sets; everything else about a person is kept by the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub category: Category,
    pub sex: Sex,
    pub names: Vec<NameVariant>,
    pub birth_date: Option<PartialDate>,
    pub birth_place: String,
    pub citizenship: String,
    pub affiliated_party: String,
    pub holding_party: String,
    pub service_number: String,
    pub rank: String,
    pub unit: String,
    pub documents: Vec<Document>,
    pub capture: Option<Capture>,
    pub detention_place: String,
    pub health: Health,
    pub file_reference: Option<String>,
}

/// A person as the registry keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: Uuid,
    pub version: i64,
    #[serde(flatten)]
    pub identity: Identity,
    pub status: Status,
    pub status_at_us: i64,
    pub reserved_for: Option<String>,
    /// The status to return to when a reservation is released.
    #[serde(default)]
    pub status_before_reservation: Option<Status>,
    /// Number of entries in the status history.
    pub history_len: i64,
    /// The survivor this record was merged into as a duplicate.
    #[serde(default)]
    pub merged_into: Option<Uuid>,
    pub created_at_us: i64,
    pub updated_at_us: i64,
}

impl Person {
    pub fn etag(&self) -> String {
        format!("v{}", self.version)
    }
}

/// One entry of a person's status history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEntry {
    pub sequence: i64,
    pub status: Status,
    pub occurred_at_us: i64,
    pub source: Source,
    pub reliability: Reliability,
    pub detention_place: String,
    pub capture: Option<Capture>,
    pub exchange_id: Option<String>,
    pub note: String,
    pub recorded_at_us: i64,
    pub recorded_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn nothing_follows_death() {
        for to in [Captured, Interned, Released, Missing, Repatriated] {
            assert_eq!(
                check_transition(Deceased, to, true),
                Err(TransitionError::AfterDeath)
            );
        }
    }

    #[test]
    fn a_return_to_captivity_needs_a_new_capture_record() {
        for from in [Repatriated, Released, Escaped] {
            assert!(matches!(
                check_transition(from, Captured, false),
                Err(TransitionError::NeedsNewCapture(_))
            ));
            assert_eq!(check_transition(from, Captured, true), Ok(()));
        }
    }

    #[test]
    fn reservations_only_come_from_the_exchange_calls() {
        assert_eq!(
            check_transition(Interned, ReservedForExchange, false),
            Err(TransitionError::ReservationOnlyByExchange)
        );
        assert_eq!(
            check_transition(ReservedForExchange, Interned, false),
            Err(TransitionError::ReservationOnlyByExchange)
        );
        // A reserved person can still fall ill, die or refuse to go.
        assert_eq!(
            check_transition(ReservedForExchange, Hospitalised, false),
            Ok(())
        );
        assert_eq!(
            check_transition(ReservedForExchange, RefusedRepatriation, false),
            Ok(())
        );
    }

    #[test]
    fn an_exchange_repatriates_service_members_and_releases_civilians() {
        assert_eq!(Category::ServiceMember.status_on_handover(), Repatriated);
        assert_eq!(Category::Civilian.status_on_handover(), Released);
        // A reserved person may be handed over from the reservation or from hospital.
        for category in [Category::ServiceMember, Category::Civilian] {
            for from in [ReservedForExchange, Hospitalised] {
                assert_eq!(
                    check_transition(from, category.status_on_handover(), false),
                    Ok(())
                );
            }
        }
    }

    #[test]
    fn custody_moves_and_repeated_transfers_are_allowed() {
        assert_eq!(check_transition(Captured, Interned, false), Ok(()));
        assert_eq!(check_transition(Interned, Transferred, false), Ok(()));
        assert_eq!(check_transition(Transferred, Transferred, false), Ok(()));
        assert_eq!(check_transition(Hospitalised, Hospitalised, false), Ok(()));
        assert!(check_transition(Interned, Interned, false).is_err());
        assert!(check_transition(Repatriated, Released, false).is_err());
    }

    #[test]
    fn partial_dates_accept_year_month_or_full_and_refuse_impossible_days() {
        assert_eq!(PartialDate::new(0, 0, 0, 2026), Ok(None));
        assert!(PartialDate::new(1990, 0, 0, 2026).unwrap().is_some());
        assert!(PartialDate::new(1990, 2, 0, 2026).unwrap().is_some());
        assert!(PartialDate::new(1992, 2, 29, 2026).unwrap().is_some());
        assert!(PartialDate::new(1991, 2, 29, 2026).is_err());
        assert!(PartialDate::new(1990, 0, 5, 2026).is_err());
        assert!(PartialDate::new(1990, 13, 0, 2026).is_err());
        assert!(PartialDate::new(2030, 1, 1, 2026).is_err());
        assert!(PartialDate::new(1990, 4, -1, 2026).is_err());
    }
}
