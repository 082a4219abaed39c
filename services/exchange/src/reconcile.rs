//! Pairing one party's request list with the other party's offer list.
//!
//! Each entry comes with its registry candidates: an entry that names a registry person has that
//! person with certainty; an entry written as an identity has what the registry's matcher
//! proposed, with confidence, explanation and contradicting fields. Two entries are a pair when
//! they resolve to the same registry person. Pairs are taken best first, one partner per entry.
//!
//! Matching proposes; an officer decides. So a pair is only `Paired` when it is confident,
//! unambiguous and free of contradictions; a pair held together only by a candidate with
//! contradicting fields (same name, another birth date) is a suspected substitution, and
//! everything in between needs review. Nothing here calls anything: it is a pure function of
//! the entries and their candidates, tested on its own.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::model::{Entry, Item, Outcome, Subject};

/// Pairs below this confidence are not proposed at all (unless they are substitution
/// suspects, which are proposed at any confidence the registry returns).
pub const REVIEW_FLOOR: f64 = 0.5;
/// Conflicts the registry reports for names.
const NAME_PARTS: [&str; 3] = ["surname", "given name", "patronymic"];
/// A second partner this close to the best one makes the pair ambiguous.
const AMBIGUITY_MARGIN: f64 = 0.1;

/// A registry person an entry may be.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub person: Uuid,
    pub confidence: f64,
    pub conflicts: Vec<String>,
    pub explanation: Vec<String>,
}

impl Candidate {
    /// The certain candidate of an entry that names a registry person.
    pub fn listed(person: Uuid) -> Self {
        Self {
            person,
            confidence: 1.0,
            conflicts: Vec::new(),
            explanation: Vec::new(),
        }
    }
}

/// One side of the pairing: a party's list and each entry's candidates (same order).
pub struct Side<'a> {
    pub party: &'a str,
    pub entries: &'a [Entry],
    pub candidates: &'a [Vec<Candidate>],
}

struct Proposal {
    request: usize,
    offer: usize,
    person: Uuid,
    confidence: f64,
    conflicts: Vec<String>,
    explanation: Vec<String>,
}

/// Pairs `request` (written by the receiving party) with `offer` (written by the handing
/// party). Items come back without numbers or reconciliation id; each entry of both lists is
/// in exactly one item.
pub fn pair(request: &Side<'_>, offer: &Side<'_>, min_confidence: f64) -> Vec<Item> {
    // Offer entries by the registry persons they may be, so each request entry meets only the
    // offer entries it shares a candidate with.
    let mut offered: HashMap<Uuid, Vec<(usize, &Candidate)>> = HashMap::new();
    for (o, candidates) in offer.candidates.iter().enumerate() {
        for c in candidates {
            offered.entry(c.person).or_default().push((o, c));
        }
    }
    let mut proposals = Vec::new();
    for (r, r_candidates) in request.candidates.iter().enumerate() {
        for rc in r_candidates {
            for (o, oc) in offered.get(&rc.person).into_iter().flatten() {
                let mut conflicts = rc.conflicts.clone();
                conflicts.extend(
                    oc.conflicts
                        .iter()
                        .filter(|c| !rc.conflicts.contains(c))
                        .cloned(),
                );
                let mut explanation = rc.explanation.clone();
                explanation.extend(oc.explanation.iter().cloned());
                proposals.push(Proposal {
                    request: r,
                    offer: *o,
                    person: rc.person,
                    confidence: rc.confidence.min(oc.confidence),
                    conflicts,
                    explanation,
                });
            }
        }
    }
    // Best first; ties in list order so the result does not depend on hashing.
    proposals.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.request.cmp(&b.request))
            .then(a.offer.cmp(&b.offer))
    });

    let twice_on_request = listed_twice(request);
    let twice_on_offer = listed_twice(offer);
    let mut request_taken = vec![false; request.entries.len()];
    let mut offer_taken = vec![false; offer.entries.len()];
    let mut items = Vec::new();

    // Clean proposals first, then those held together by a contradicted candidate.
    for contradicted in [false, true] {
        for p in proposals
            .iter()
            .filter(|p| p.conflicts.is_empty() != contradicted)
        {
            if request_taken[p.request] || offer_taken[p.offer] {
                continue;
            }
            if !contradicted && p.confidence < REVIEW_FLOOR {
                continue;
            }
            // A substitution looks like the person by name and contradicts them elsewhere;
            // a candidate whose names contradict is just someone else.
            if contradicted && p.conflicts.iter().any(|c| NAME_PARTS.contains(&c.as_str())) {
                continue;
            }
            request_taken[p.request] = true;
            offer_taken[p.offer] = true;
            let rivals: Vec<String> = proposals
                .iter()
                .filter(|q| {
                    (q.request == p.request) != (q.offer == p.offer)
                        && q.conflicts.is_empty()
                        && q.confidence >= REVIEW_FLOOR
                        && q.confidence + AMBIGUITY_MARGIN >= p.confidence
                })
                .map(|q| {
                    if q.request == p.request {
                        offer.entries[q.offer].reference.clone()
                    } else {
                        request.entries[q.request].reference.clone()
                    }
                })
                .collect();
            let twice = twice_on_request.contains(&p.person) || twice_on_offer.contains(&p.person);
            let mut explanation = Vec::new();
            let outcome = if contradicted {
                explanation.push(format!(
                    "the names agree but the {} differ: the person offered may not be the person requested",
                    p.conflicts.join(" and ")
                ));
                Outcome::SuspectedSubstitution
            } else if twice {
                explanation.push("the same registry person is on a list twice".to_string());
                Outcome::NeedsReview
            } else if !rivals.is_empty() {
                explanation.push(format!(
                    "another entry fits almost as well: {}",
                    rivals.join(", ")
                ));
                Outcome::NeedsReview
            } else if p.confidence < min_confidence {
                explanation.push(format!(
                    "confidence {:.2} is below {:.2}: check the pair",
                    p.confidence, min_confidence
                ));
                Outcome::NeedsReview
            } else {
                Outcome::Paired
            };
            if p.confidence >= 1.0 {
                explanation.push("both entries name the same registry person".to_string());
            }
            explanation.extend(p.explanation.iter().cloned());
            items.push(Item {
                number: 0,
                reconciliation_id: Uuid::nil(),
                receiving_party: request.party.to_string(),
                handing_party: offer.party.to_string(),
                outcome,
                request_reference: request.entries[p.request].reference.clone(),
                offer_reference: offer.entries[p.offer].reference.clone(),
                person_id: Some(p.person),
                confidence: p.confidence,
                explanation,
                alternatives: rivals,
                review: None,
                traits: None,
            });
        }
    }

    for (side, taken, outcome) in [
        (request, &request_taken, Outcome::UnmatchedRequest),
        (offer, &offer_taken, Outcome::UnmatchedOffer),
    ] {
        for (i, entry) in side.entries.iter().enumerate().filter(|(i, _)| !taken[*i]) {
            let best = side.candidates[i].first();
            let explanation = match (best, &entry.subject) {
                (_, Subject::Person(_)) => {
                    vec!["nobody on the other list resolves to this registry person".to_string()]
                }
                (None, _) => vec!["no registered person matches this entry".to_string()],
                (Some(c), _) => vec![format!(
                    "closest registered person ({:.2}) is not on the other list",
                    c.confidence
                )],
            };
            let (request_reference, offer_reference) = match outcome {
                Outcome::UnmatchedRequest => (entry.reference.clone(), String::new()),
                _ => (String::new(), entry.reference.clone()),
            };
            items.push(Item {
                number: 0,
                reconciliation_id: Uuid::nil(),
                receiving_party: request.party.to_string(),
                handing_party: offer.party.to_string(),
                outcome,
                request_reference,
                offer_reference,
                person_id: match &entry.subject {
                    Subject::Person(p) => Some(*p),
                    Subject::Identity(_) => best
                        .filter(|c| c.conflicts.is_empty() && c.confidence >= min_confidence)
                        .map(|c| c.person),
                },
                confidence: best.map(|c| c.confidence).unwrap_or(0.0),
                explanation,
                alternatives: Vec::new(),
                review: None,
                traits: None,
            });
        }
    }
    items
}

/// Registry persons that two entries of one list resolve to with certainty or as their
/// confident best candidate.
fn listed_twice(side: &Side<'_>) -> HashSet<Uuid> {
    let mut seen: HashMap<Uuid, usize> = HashMap::new();
    for candidates in side.candidates {
        if let Some(best) = candidates
            .first()
            .filter(|c| c.conflicts.is_empty() && c.confidence >= REVIEW_FLOOR)
        {
            *seen.entry(best.person).or_default() += 1;
        }
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(p, _)| p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person_entry(reference: &str, person: Uuid) -> Entry {
        Entry {
            reference: reference.into(),
            subject: Subject::Person(person),
            seriously_ill: false,
            wounded: false,
            source_line: String::new(),
            note: String::new(),
        }
    }

    fn raw_entry(reference: &str) -> Entry {
        Entry {
            subject: Subject::Identity(Box::default()),
            ..person_entry(reference, Uuid::nil())
        }
    }

    fn candidate(person: Uuid, confidence: f64, conflicts: &[&str]) -> Candidate {
        Candidate {
            person,
            confidence,
            conflicts: conflicts.iter().map(|c| c.to_string()).collect(),
            explanation: vec!["from the matcher".into()],
        }
    }

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    #[test]
    fn confident_matches_pair_and_leftovers_stay_unmatched_on_their_side() {
        let p = ids(3);
        let requests = vec![person_entry("R1", p[0]), person_entry("R2", p[1])];
        let offers = vec![raw_entry("O1"), raw_entry("O2")];
        let request_candidates = vec![vec![Candidate::listed(p[0])], vec![Candidate::listed(p[1])]];
        let offer_candidates = vec![
            vec![candidate(p[0], 0.97, &[])],
            vec![candidate(p[2], 0.95, &[])],
        ];
        let items = pair(
            &Side {
                party: "UA",
                entries: &requests,
                candidates: &request_candidates,
            },
            &Side {
                party: "RU",
                entries: &offers,
                candidates: &offer_candidates,
            },
            0.8,
        );
        assert_eq!(items.len(), 3);
        let paired = items.iter().find(|i| i.outcome == Outcome::Paired).unwrap();
        assert_eq!(
            (
                paired.request_reference.as_str(),
                paired.offer_reference.as_str()
            ),
            ("R1", "O1")
        );
        assert_eq!(paired.person_id, Some(p[0]));
        assert_eq!(
            (
                paired.receiving_party.as_str(),
                paired.handing_party.as_str()
            ),
            ("UA", "RU")
        );
        assert!(
            items
                .iter()
                .any(|i| i.outcome == Outcome::UnmatchedRequest && i.request_reference == "R2")
        );
        assert!(
            items
                .iter()
                .any(|i| i.outcome == Outcome::UnmatchedOffer && i.offer_reference == "O2")
        );
    }

    #[test]
    fn a_namesake_with_another_birth_date_is_a_suspected_substitution() {
        let p = ids(1);
        let requests = vec![person_entry("R1", p[0])];
        let offers = vec![raw_entry("O1")];
        let request_candidates = vec![vec![Candidate::listed(p[0])]];
        let offer_candidates = vec![vec![candidate(p[0], 0.45, &["birth date"])]];
        let items = pair(
            &Side {
                party: "UA",
                entries: &requests,
                candidates: &request_candidates,
            },
            &Side {
                party: "RU",
                entries: &offers,
                candidates: &offer_candidates,
            },
            0.8,
        );
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].outcome, Outcome::SuspectedSubstitution);
        assert!(items[0].explanation[0].contains("birth date"));
        assert!(items[0].open_review());
    }

    #[test]
    fn a_candidate_whose_names_contradict_is_not_a_substitution_suspect() {
        let p = ids(1);
        let requests = vec![person_entry("R1", p[0])];
        let offers = vec![raw_entry("O1")];
        let request_candidates = vec![vec![Candidate::listed(p[0])]];
        let offer_candidates = vec![vec![candidate(p[0], 0.2, &["surname", "birth date"])]];
        let items = pair(
            &Side {
                party: "UA",
                entries: &requests,
                candidates: &request_candidates,
            },
            &Side {
                party: "RU",
                entries: &offers,
                candidates: &offer_candidates,
            },
            0.8,
        );
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|i| matches!(
            i.outcome,
            Outcome::UnmatchedRequest | Outcome::UnmatchedOffer
        )));
    }

    #[test]
    fn a_clean_match_wins_over_a_contradicted_one_for_the_same_entry() {
        let p = ids(1);
        let requests = vec![person_entry("R1", p[0])];
        let offers = vec![raw_entry("O1"), raw_entry("O2")];
        let request_candidates = vec![vec![Candidate::listed(p[0])]];
        let offer_candidates = vec![
            vec![candidate(p[0], 0.44, &["birth date"])],
            vec![candidate(p[0], 0.93, &[])],
        ];
        let items = pair(
            &Side {
                party: "UA",
                entries: &requests,
                candidates: &request_candidates,
            },
            &Side {
                party: "RU",
                entries: &offers,
                candidates: &offer_candidates,
            },
            0.8,
        );
        let paired = items.iter().find(|i| i.request_reference == "R1").unwrap();
        assert_eq!(paired.offer_reference, "O2");
        assert_eq!(paired.outcome, Outcome::Paired);
        assert!(
            items
                .iter()
                .any(|i| i.outcome == Outcome::UnmatchedOffer && i.offer_reference == "O1")
        );
    }

    #[test]
    fn grey_zone_and_ambiguous_pairs_need_review() {
        let p = ids(2);
        let requests = vec![person_entry("R1", p[0]), person_entry("R2", p[1])];
        let offers = vec![raw_entry("O1")];
        let request_candidates = vec![vec![Candidate::listed(p[0])], vec![Candidate::listed(p[1])]];
        // O1 fits both requested persons almost equally well.
        let offer_candidates = vec![vec![candidate(p[0], 0.86, &[]), candidate(p[1], 0.82, &[])]];
        let items = pair(
            &Side {
                party: "UA",
                entries: &requests,
                candidates: &request_candidates,
            },
            &Side {
                party: "RU",
                entries: &offers,
                candidates: &offer_candidates,
            },
            0.8,
        );
        let item = items.iter().find(|i| i.offer_reference == "O1").unwrap();
        assert_eq!(item.outcome, Outcome::NeedsReview);
        assert_eq!(item.alternatives, vec!["R2".to_string()]);

        let offer_candidates = vec![vec![candidate(p[0], 0.6, &[])]];
        let items = pair(
            &Side {
                party: "UA",
                entries: &requests[..1],
                candidates: &request_candidates[..1],
            },
            &Side {
                party: "RU",
                entries: &offers,
                candidates: &offer_candidates,
            },
            0.8,
        );
        assert_eq!(items[0].outcome, Outcome::NeedsReview);
        assert!(items[0].explanation[0].contains("below"));
    }

    #[test]
    fn the_same_person_twice_on_a_list_needs_review() {
        let p = ids(1);
        let requests = vec![person_entry("R1", p[0])];
        let offers = vec![raw_entry("O1"), raw_entry("O2")];
        let request_candidates = vec![vec![Candidate::listed(p[0])]];
        let offer_candidates = vec![
            vec![candidate(p[0], 0.95, &[])],
            vec![candidate(p[0], 0.9, &[])],
        ];
        let items = pair(
            &Side {
                party: "UA",
                entries: &requests,
                candidates: &request_candidates,
            },
            &Side {
                party: "RU",
                entries: &offers,
                candidates: &offer_candidates,
            },
            0.8,
        );
        let item = items.iter().find(|i| i.request_reference == "R1").unwrap();
        assert_eq!(item.outcome, Outcome::NeedsReview);
        assert_eq!(items.len(), 2, "every entry is in exactly one item");
    }
}
