//! Ranking of candidates for `SearchPersons` and `MatchPersons`: the share of the query's name
//! tokens found among a person's name keys, adjusted by birth date, sex and category, with the
//! reasons spelled out. Names alone never give full confidence.

use crate::domain::{Category, PartialDate, Person, Sex};

/// What is being looked for.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub keys: Vec<String>,
    pub birth_date: Option<PartialDate>,
    pub sex: Option<Sex>,
    pub category: Option<Category>,
    pub service_number: String,
}

#[derive(Debug, Clone)]
pub struct Scored {
    pub person: Person,
    pub score: f64,
    pub explanation: Vec<String>,
}

/// Scores one candidate, or `None` when a hard filter (sex, category) rules them out.
pub fn score(probe: &Probe, person: Person) -> Option<Scored> {
    let id = &person.identity;
    if let Some(sex) = probe.sex.filter(|s| *s != Sex::Unknown)
        && id.sex != Sex::Unknown
        && id.sex != sex
    {
        return None;
    }
    if probe.category.is_some_and(|c| c != id.category) {
        return None;
    }
    let keys = crate::names::person_keys(&id.names);
    let exact = probe.keys.iter().filter(|k| keys.contains(k)).count();
    // Other forms of the same given name or patronymic (Alexander ~ Олександр ~ Александр).
    let equivalent: Vec<(&String, &String)> = probe
        .keys
        .iter()
        .filter(|k| !keys.contains(k))
        .filter_map(|k| {
            keys.iter()
                .find(|p| homeward_identity::same_name_class(k, p))
                .map(|p| (k, p))
        })
        .collect();
    if exact == 0 && equivalent.is_empty() {
        return None;
    }
    let mut explanation = vec![format!(
        "{exact} of {} name parts match across scripts",
        probe.keys.len()
    )];
    for (asked, found) in &equivalent {
        explanation.push(format!("{asked} is another form of the name {found}"));
    }
    // An equivalent form counts for less than the same name: namesakes share classes too.
    let name = (exact as f64 + 0.8 * equivalent.len() as f64) / probe.keys.len().max(1) as f64;
    // Names carry at most 0.7: a full match on names alone is a candidate, not an identity.
    let mut score = 0.7 * name;
    match (probe.birth_date, id.birth_date) {
        (Some(q), Some(p)) if q == p && q.day.is_some() => {
            score += 0.25;
            explanation.push("birth date matches exactly".into());
        }
        (Some(q), Some(p)) if q.year == p.year => {
            score += 0.15;
            explanation.push(format!("birth year {} matches", q.year));
        }
        (Some(q), Some(p)) if (q.year - p.year).abs() == 1 => {
            score += 0.05;
            explanation.push("birth year differs by one".into());
        }
        (Some(_), Some(_)) => {
            score -= 0.3;
            explanation.push("birth dates disagree".into());
        }
        (Some(_), None) => explanation.push("no birth date on record".into()),
        _ => {}
    }
    if !probe.service_number.is_empty() && !id.service_number.is_empty() {
        if probe
            .service_number
            .eq_ignore_ascii_case(&id.service_number)
        {
            score += 0.2;
            explanation.push("service number matches".into());
        } else {
            score -= 0.3;
            explanation.push("service numbers differ".into());
        }
    }
    Some(Scored {
        person,
        score: score.clamp(0.0, 1.0),
        explanation,
    })
}

/// Scores and ranks candidates, best first.
pub fn rank(probe: &Probe, candidates: Vec<Person>, min: f64, max: usize) -> Vec<Scored> {
    let mut scored: Vec<Scored> = candidates
        .into_iter()
        .filter_map(|p| score(probe, p))
        .filter(|s| s.score >= min)
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.person.created_at_us.cmp(&b.person.created_at_us))
    });
    scored.truncate(max);
    scored
}
