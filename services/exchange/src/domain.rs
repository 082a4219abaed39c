//! The exchange's domain: agreements and their quotas, phases and the steps between their
//! states, how the people on a phase's lists count against the quotas, and when a phase is
//! settled. Nothing here knows about protobuf, SQL or the registry; the gRPC layer turns
//! requests into these types and the store keeps them.
//!
//! The rules follow how exchanges are carried out: quotas per party and category (optionally
//! sex and age band); the seriously sick and wounded go home regardless of numbers (GC III
//! arts. 109–110), so they are counted beside the quotas, never against them; a one-for-one
//! agreement balances the two parties category by category; a phase ends completed only when
//! every listed person was handed over, and partially completed with its reasons otherwise.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    ServiceMember,
    Civilian,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::ServiceMember => "service members",
            Category::Civilian => "civilians",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Unknown,
    Male,
    Female,
}

/// Ages from `min` up to and including `max` (no upper bound when `None`), in whole years on
/// the phase's planned date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeBand {
    pub min: u8,
    pub max: Option<u8>,
}

impl AgeBand {
    pub fn contains(self, age: u8) -> bool {
        age >= self.min && self.max.is_none_or(|max| age <= max)
    }
}

/// One line of an agreement's or a phase's quotas: how many people a party hands over, of a
/// category, sex and age band (each optional: unset means any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// The party handing these people over; `None` applies the line to each party alike.
    pub party: Option<String>,
    pub category: Option<Category>,
    pub sex: Option<Sex>,
    pub age_band: Option<AgeBand>,
    pub count: u32,
}

impl Quota {
    /// Who the line counts, in words: "service members", "women aged 18-60", "everyone".
    pub fn describe(&self) -> String {
        let mut words = Vec::new();
        match (self.category, self.sex) {
            (Some(c), Some(Sex::Female)) => words.push(format!("women {}", c.name())),
            (Some(c), Some(Sex::Male)) => words.push(format!("men {}", c.name())),
            (Some(c), _) => words.push(c.name().to_string()),
            (None, Some(Sex::Female)) => words.push("women".into()),
            (None, Some(Sex::Male)) => words.push("men".into()),
            (None, _) => words.push("everyone".into()),
        }
        if let Some(band) = self.age_band {
            words.push(match band.max {
                Some(max) => format!("aged {}-{max}", band.min),
                None => format!("aged {} and over", band.min),
            });
        }
        words.join(" ")
    }

    /// Whether a person handed over by `party` counts on this line. A person of unknown sex or
    /// age never counts on a line that asks for one: they are shown as unaccounted instead.
    pub fn covers(&self, party: &str, person: &Counted) -> bool {
        self.party.as_deref().is_none_or(|p| p == party)
            && self.category.is_none_or(|c| c == person.category)
            && self.sex.is_none_or(|s| s == person.sex)
            && self
                .age_band
                .is_none_or(|band| person.age.is_some_and(|age| band.contains(age)))
    }
}

/// The states of an exchange phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseState {
    Draft,
    Negotiating,
    ListsFrozen,
    InHandover,
    Completed,
    PartiallyCompleted,
    Cancelled,
}

impl PhaseState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PhaseState::Completed | PhaseState::PartiallyCompleted | PhaseState::Cancelled
        )
    }

    /// While a phase is in one of these states its persons are reserved in the registry.
    pub fn holds_reservations(self) -> bool {
        matches!(self, PhaseState::ListsFrozen | PhaseState::InHandover)
    }

    pub fn name(self) -> &'static str {
        match self {
            PhaseState::Draft => "draft",
            PhaseState::Negotiating => "negotiating",
            PhaseState::ListsFrozen => "lists frozen",
            PhaseState::InHandover => "in handover",
            PhaseState::Completed => "completed",
            PhaseState::PartiallyCompleted => "partially completed",
            PhaseState::Cancelled => "cancelled",
        }
    }
}

/// What an officer asks a phase to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    StartNegotiation,
    FreezeLists,
    UnfreezeLists,
    StartHandover,
    /// Ends the handover; whether completed or partially completed follows from [`settle`].
    Complete,
    Cancel,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::StartNegotiation => "start negotiation",
            Step::FreezeLists => "freeze the lists",
            Step::UnfreezeLists => "unfreeze the lists",
            Step::StartHandover => "start the handover",
            Step::Complete => "complete",
            Step::Cancel => "cancel",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("the phase is {}: nothing follows", .0.name())]
    Ended(PhaseState),
    #[error("cannot {} a phase that is {}", .step.name(), .state.name())]
    OutOfOrder { step: Step, state: PhaseState },
    #[error("people have already been handed over: the phase can only be completed")]
    HandoverBegun,
    #[error(
        "{0} entries are not settled yet: record a handover check, consent refusal or hold-back for each"
    )]
    Unsettled(usize),
}

/// The state a step leads to, or why it may not be taken now (out-of-order steps are refused,
/// never queued). `handed_over` says whether anyone has been handed over; `settlement` is the
/// phase's [`settle`] result, used by [`Step::Complete`].
pub fn next_state(
    state: PhaseState,
    step: Step,
    handed_over: bool,
    settlement: &Settlement,
) -> Result<PhaseState, StepError> {
    use PhaseState::*;
    if state.is_terminal() {
        return Err(StepError::Ended(state));
    }
    let next = match (step, state) {
        (Step::StartNegotiation, Draft) => Negotiating,
        (Step::FreezeLists, Negotiating) => ListsFrozen,
        (Step::UnfreezeLists, ListsFrozen) => Negotiating,
        (Step::StartHandover, ListsFrozen) => InHandover,
        (Step::Complete, InHandover) => match settlement {
            Settlement::Unsettled { pending } => return Err(StepError::Unsettled(*pending)),
            Settlement::Completed => Completed,
            Settlement::PartiallyCompleted { .. } => PartiallyCompleted,
        },
        (Step::Cancel, InHandover) if handed_over => return Err(StepError::HandoverBegun),
        (Step::Cancel, _) => Cancelled,
        (step, state) => return Err(StepError::OutOfOrder { step, state }),
    };
    Ok(next)
}

/// A person on a phase's list, as far as counting is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// The party handing the person over.
    pub party: String,
    pub category: Category,
    pub sex: Sex,
    /// Age in whole years on the phase's date, when the birth date is known well enough.
    pub age: Option<u8>,
    pub seriously_ill: bool,
    pub wounded: bool,
}

impl Counted {
    /// Goes home regardless of numbers, so is counted beside the quotas.
    pub fn outside_quotas(&self) -> bool {
        self.seriously_ill || self.wounded
    }
}

/// How one quota line stands for one party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaLine {
    /// The index of the quota in the list given.
    pub quota: usize,
    pub party: String,
    pub counted: u32,
    pub target: u32,
}

impl QuotaLine {
    pub fn is_met(&self) -> bool {
        self.counted == self.target
    }
}

/// The counts of a phase against its quotas.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CountCheck {
    pub lines: Vec<QuotaLine>,
    /// Per party: the seriously sick and wounded, counted beside the quotas.
    pub outside_quotas: Vec<(String, u32)>,
    /// Per party: people counted on no quota line (another category, or sex or age unknown
    /// where a line asks for it).
    pub unaccounted: Vec<(String, u32)>,
    /// Reasons the counts do not balance, in words; empty when they do.
    pub imbalances: Vec<String>,
}

impl CountCheck {
    pub fn balanced(&self) -> bool {
        self.imbalances.is_empty()
    }
}

/// Counts `people` against `quotas` for the two `parties`. A quota line without a party is
/// checked for each party. With `one_for_one`, the parties must also hand over the same number
/// of people in each category (the sick and wounded aside).
pub fn check_counts(
    quotas: &[Quota],
    parties: [&str; 2],
    people: &[Counted],
    one_for_one: bool,
) -> CountCheck {
    let mut check = CountCheck::default();
    for (i, quota) in quotas.iter().enumerate() {
        for party in parties {
            if quota.party.as_deref().is_some_and(|p| p != party) {
                continue;
            }
            let counted = people
                .iter()
                .filter(|p| p.party == party && !p.outside_quotas() && quota.covers(party, p))
                .count() as u32;
            let line = QuotaLine {
                quota: i,
                party: party.to_string(),
                counted,
                target: quota.count,
            };
            if !line.is_met() {
                check.imbalances.push(format!(
                    "{party}: {counted} of {} on quota line {} ({})",
                    quota.count,
                    i + 1,
                    quota.describe()
                ));
            }
            check.lines.push(line);
        }
    }
    for party in parties {
        let own = || people.iter().filter(move |p| p.party == party);
        check.outside_quotas.push((
            party.to_string(),
            own().filter(|p| p.outside_quotas()).count() as u32,
        ));
        let unaccounted = own()
            .filter(|p| !p.outside_quotas() && !quotas.iter().any(|q| q.covers(party, p)))
            .count() as u32;
        if unaccounted > 0 && !quotas.is_empty() {
            check
                .imbalances
                .push(format!("{party}: {unaccounted} people fit no quota line"));
        }
        check.unaccounted.push((party.to_string(), unaccounted));
    }
    if one_for_one {
        for category in [Category::ServiceMember, Category::Civilian] {
            let count = |party: &str| {
                people
                    .iter()
                    .filter(|p| p.party == party && p.category == category && !p.outside_quotas())
                    .count()
            };
            let (a, b) = (count(parties[0]), count(parties[1]));
            if a != b {
                check.imbalances.push(format!(
                    "one for one: {} {a} {} against {} {b}",
                    parties[0],
                    category.name(),
                    parties[1]
                ));
            }
        }
    }
    check
}

/// Where a listed person stands at the handover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryOutcome {
    /// Nothing recorded yet.
    Pending,
    /// The receiving side verified the identity and took the person over.
    HandedOver,
    /// The person refused to return (recorded consent decision).
    RefusedToReturn,
    /// Kept back, e.g. for criminal proceedings; the other side was informed.
    HeldBack,
    DidNotAppear,
    /// The receiving side found someone other than the listed person.
    IdentityMismatch,
}

impl EntryOutcome {
    pub fn name(self) -> &'static str {
        match self {
            EntryOutcome::Pending => "pending",
            EntryOutcome::HandedOver => "handed over",
            EntryOutcome::RefusedToReturn => "refused to return",
            EntryOutcome::HeldBack => "held back",
            EntryOutcome::DidNotAppear => "did not appear",
            EntryOutcome::IdentityMismatch => "identity mismatch",
        }
    }
}

/// Whether a phase can end, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Unsettled {
        pending: usize,
    },
    Completed,
    /// Why not everyone went: each outcome other than handed over, with its count.
    PartiallyCompleted {
        reasons: Vec<(EntryOutcome, usize)>,
    },
}

/// Settles a phase from its entries' outcomes: every entry must have one; completed when all
/// were handed over.
pub fn settle(outcomes: &[EntryOutcome]) -> Settlement {
    let pending = outcomes
        .iter()
        .filter(|o| **o == EntryOutcome::Pending)
        .count();
    if pending > 0 {
        return Settlement::Unsettled { pending };
    }
    let mut reasons: Vec<(EntryOutcome, usize)> = Vec::new();
    for outcome in outcomes.iter().filter(|o| **o != EntryOutcome::HandedOver) {
        match reasons.iter_mut().find(|(o, _)| o == outcome) {
            Some((_, n)) => *n += 1,
            None => reasons.push((*outcome, 1)),
        }
    }
    if reasons.is_empty() {
        Settlement::Completed
    } else {
        Settlement::PartiallyCompleted { reasons }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(party: &str, category: Category, sex: Sex) -> Counted {
        Counted {
            party: party.into(),
            category,
            sex,
            age: Some(30),
            seriously_ill: false,
            wounded: false,
        }
    }

    fn quota(category: Category, count: u32) -> Quota {
        Quota {
            party: None,
            category: Some(category),
            sex: None,
            age_band: None,
            count,
        }
    }

    /// Phase one of May 2025 on one side: 270 soldiers and 120 civilians, three women.
    fn side(party: &str) -> Vec<Counted> {
        let mut people: Vec<Counted> = (0..270)
            .map(|_| person(party, Category::ServiceMember, Sex::Male))
            .collect();
        people.extend((0..117).map(|_| person(party, Category::Civilian, Sex::Male)));
        people.extend((0..3).map(|_| person(party, Category::Civilian, Sex::Female)));
        people
    }

    #[test]
    fn a_390_for_390_phase_balances_its_quotas() {
        let quotas = [
            quota(Category::ServiceMember, 270),
            quota(Category::Civilian, 120),
        ];
        let mut people = side("UA");
        people.extend(side("RU"));
        let check = check_counts(&quotas, ["UA", "RU"], &people, true);
        assert!(check.balanced(), "{:?}", check.imbalances);
        assert_eq!(check.lines.len(), 4);
        assert!(check.lines.iter().all(QuotaLine::is_met));
    }

    #[test]
    fn the_sick_and_wounded_never_count_against_parity() {
        let quotas = [quota(Category::ServiceMember, 270)];
        let mut ua = side("UA");
        ua.retain(|p| p.category == Category::ServiceMember);
        let mut ru = ua.clone();
        for p in &mut ru {
            p.party = "RU".into();
        }
        // Five more go home from one side because they are seriously wounded.
        ua.extend((0..5).map(|_| Counted {
            wounded: true,
            ..person("UA", Category::ServiceMember, Sex::Male)
        }));
        ua.extend(ru);
        let check = check_counts(&quotas, ["UA", "RU"], &ua, true);
        assert!(check.balanced(), "{:?}", check.imbalances);
        assert_eq!(check.outside_quotas[0], ("UA".to_string(), 5));
    }

    #[test]
    fn short_counts_and_one_for_one_imbalances_are_named() {
        let quotas = [quota(Category::Civilian, 120)];
        let mut people = side("UA");
        people.retain(|p| p.category == Category::Civilian);
        people.extend((0..119).map(|_| person("RU", Category::Civilian, Sex::Male)));
        let check = check_counts(&quotas, ["UA", "RU"], &people, true);
        assert!(!check.balanced());
        assert!(
            check
                .imbalances
                .iter()
                .any(|i| i.starts_with("RU: 119 of 120"))
        );
        assert!(check.imbalances.iter().any(|i| i.contains("one for one")));
    }

    #[test]
    fn people_outside_every_line_are_unaccounted() {
        let quotas = [Quota {
            sex: Some(Sex::Female),
            ..quota(Category::Civilian, 1)
        }];
        let people = [
            person("UA", Category::Civilian, Sex::Female),
            person("UA", Category::Civilian, Sex::Unknown),
            person("RU", Category::Civilian, Sex::Female),
        ];
        let check = check_counts(&quotas, ["UA", "RU"], &people, false);
        assert_eq!(check.unaccounted[0], ("UA".to_string(), 1));
        assert!(!check.balanced());
    }

    #[test]
    fn age_bands_include_both_ends_and_unknown_ages_fit_none() {
        let band = AgeBand {
            min: 18,
            max: Some(60),
        };
        assert!(band.contains(18) && band.contains(60) && !band.contains(61));
        let q = Quota {
            age_band: Some(band),
            ..quota(Category::Civilian, 1)
        };
        let unknown = Counted {
            age: None,
            ..person("UA", Category::Civilian, Sex::Male)
        };
        assert!(!q.covers("UA", &unknown));
    }

    #[test]
    fn phases_move_only_in_order() {
        use PhaseState::*;
        let open = Settlement::Unsettled { pending: 0 };
        assert_eq!(
            next_state(Draft, Step::StartNegotiation, false, &open),
            Ok(Negotiating)
        );
        assert_eq!(
            next_state(Negotiating, Step::FreezeLists, false, &open),
            Ok(ListsFrozen)
        );
        assert_eq!(
            next_state(ListsFrozen, Step::UnfreezeLists, false, &open),
            Ok(Negotiating)
        );
        assert_eq!(
            next_state(Draft, Step::StartHandover, false, &open),
            Err(StepError::OutOfOrder {
                step: Step::StartHandover,
                state: Draft
            })
        );
        assert_eq!(
            next_state(Completed, Step::Cancel, false, &open),
            Err(StepError::Ended(Completed))
        );
        assert_eq!(
            next_state(InHandover, Step::Cancel, true, &open),
            Err(StepError::HandoverBegun)
        );
        assert_eq!(
            next_state(InHandover, Step::Cancel, false, &open),
            Ok(Cancelled)
        );
    }

    #[test]
    fn a_phase_completes_only_when_every_entry_is_settled() {
        use EntryOutcome::*;
        assert_eq!(
            next_state(
                PhaseState::InHandover,
                Step::Complete,
                true,
                &settle(&[HandedOver, Pending])
            ),
            Err(StepError::Unsettled(1))
        );
        assert_eq!(settle(&[HandedOver, HandedOver]), Settlement::Completed);
        let partial = settle(&[HandedOver, RefusedToReturn, DidNotAppear, RefusedToReturn]);
        assert_eq!(
            partial,
            Settlement::PartiallyCompleted {
                reasons: vec![(RefusedToReturn, 2), (DidNotAppear, 1)]
            }
        );
        assert_eq!(
            next_state(PhaseState::InHandover, Step::Complete, true, &partial),
            Ok(PhaseState::PartiallyCompleted)
        );
    }
}
