//! The candidate index: an in-memory blocking index over compiled identities, so that a search
//! scores a few hundred likely people instead of everyone.
//!
//! A person is found through any of their name tokens — by its fold key, by keys one typo away
//! (a symmetric-deletion index over the vocabulary of keys, as in SymSpell, verified with the
//! optimal string alignment distance), and by the name classes of given names and patronymics
//! — and through service and document numbers. A query gathers candidates from its rarest
//! tokens first (common names would bring in tens of thousands), ranks them cheaply by how many
//! of the query's tokens they share and whether the birth year is near, and scores the best
//! [`SearchOptions::candidate_limit`] with the Fellegi–Sunter scorer. The index also counts how
//! common each name is per role, which is what makes a match on a rare surname weigh more.
//!
//! The index is a plain data structure, kept current by its owner: `upsert` with a version
//! (older versions are ignored, so replaying a change stream is harmless) and `remove`.
//! Replaced and removed entries leave their slot empty rather than rewriting posting lists;
//! the slots are reclaimed when the index is rebuilt (at start).

use std::hash::{Hash, Hasher};

/// The owner's id of an entry (a UUID as a number, for example).
pub type EntryId = u128;

use rustc_hash::{FxHashMap, FxHasher};

use crate::classes::ClassId;
use crate::record::{Compiled, Identity, Role, Sex, compile};
use crate::score::{Comparison, Frequencies, Memo, TypicalFrequencies, compare_with};

/// How a search is bounded and filtered.
#[derive(Debug, Clone, Copy)]
pub struct SearchOptions {
    pub max_results: usize,
    pub min_confidence: f64,
    /// How many of the cheaply ranked candidates are scored in full.
    pub candidate_limit: usize,
    /// Only entries whose tag, masked, equals the value (`(mask, value)`).
    pub tag_filter: Option<(u32, u32)>,
    /// Candidates whose cheap rank (4 per query name token they share, 8 for a shared
    /// service or document number, 2 for a birth year within one, 1 more for the same year)
    /// is below this are not scored.
    pub min_shared: u32,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            max_results: 10,
            min_confidence: 0.0,
            candidate_limit: 200,
            tag_filter: None,
            min_shared: 0,
        }
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: EntryId,
    pub comparison: Comparison,
}

/// A pair of entries that may be one person.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicatePair {
    pub first: EntryId,
    pub second: EntryId,
    pub comparison: Comparison,
}

struct Doc {
    id: EntryId,
    version: i64,
    tag: u32,
    features: Compiled,
    /// Term ids of the name tokens (initials left out), sorted.
    terms: Box<[u32]>,
    /// Name classes of the given names and patronymics, sorted.
    classes: Box<[ClassId]>,
}

/// Candidates gathered from token lists until this many postings have been read (at least one
/// list is always read, however long).
const GATHER_BUDGET: usize = 10_000;

/// Weight of the typical name frequencies against the counted ones (see `share`).
const PRIOR_PEOPLE: f64 = 2000.0;

/// Keys shorter than this are not looked up for typos: too many short names are a typo apart.
const MIN_FUZZY_CHARS: usize = 4;

#[derive(Default)]
pub struct Index {
    docs: Vec<Option<Doc>>,
    slots: FxHashMap<EntryId, u32>,
    terms: FxHashMap<Box<str>, u32>,
    term_keys: Vec<Box<str>>,
    /// Term id → slots holding it, in increasing slot order.
    postings: Vec<Vec<u32>>,
    /// Hash of a key or of the key with one letter deleted → term ids.
    deletes: FxHashMap<u64, Vec<u32>>,
    classes: FxHashMap<ClassId, Vec<u32>>,
    numbers: FxHashMap<Box<str>, Vec<u32>>,
    /// (surname term, birth year) → slots: where a registration's likely duplicates are.
    surname_years: FxHashMap<(u32, i32), Vec<u32>>,
    role_counts: FxHashMap<(u32, Role), u32>,
    sex_counts: [u32; 3],
    live: usize,
}

fn hash_key(key: &str) -> u64 {
    let mut h = FxHasher::default();
    key.hash(&mut h);
    h.finish()
}

/// The key itself and the key with each one letter deleted.
fn deletion_variants(key: &str) -> impl Iterator<Item = u64> + '_ {
    let chars: Vec<(usize, char)> = key.char_indices().collect();
    std::iter::once(hash_key(key)).chain(chars.into_iter().map(move |(i, c)| {
        let mut h = FxHasher::default();
        let mut s = String::with_capacity(key.len());
        s.push_str(&key[..i]);
        s.push_str(&key[i + c.len_utf8()..]);
        s.hash(&mut h);
        h.finish()
    }))
}

fn sex_slot(sex: Sex) -> usize {
    match sex {
        Sex::Unknown => 0,
        Sex::Male => 1,
        Sex::Female => 2,
    }
}

/// A query token's ways into the index.
struct Expansion<'a> {
    terms: Vec<u32>,
    classes: &'a [ClassId],
    volume: usize,
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries currently indexed.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Distinct name keys known.
    pub fn vocabulary(&self) -> usize {
        self.term_keys.len()
    }

    /// The version indexed for an entry.
    pub fn version(&self, id: &EntryId) -> Option<i64> {
        let slot = *self.slots.get(id)?;
        self.doc(slot).map(|d| d.version)
    }

    fn doc(&self, slot: u32) -> Option<&Doc> {
        self.docs.get(slot as usize).and_then(Option::as_ref)
    }

    /// Adds or replaces an entry. An entry at the same or a later version is kept and `false`
    /// returned, so a change stream can be replayed. `tag` is the owner's to filter on.
    pub fn upsert(&mut self, id: EntryId, version: i64, tag: u32, identity: &Identity) -> bool {
        if self.version(&id).is_some_and(|v| v >= version) {
            return false;
        }
        self.upsert_compiled(id, version, tag, compile(identity))
    }

    /// Adds many entries, compiling them on every core first.
    pub fn extend(&mut self, entries: Vec<(EntryId, i64, u32, Identity)>) {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = entries.len().div_ceil(threads).max(1);
        let compiled: Vec<Vec<(EntryId, i64, u32, Compiled)>> = std::thread::scope(|s| {
            let handles: Vec<_> = entries
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|(id, v, tag, identity)| (*id, *v, *tag, compile(identity)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (id, version, tag, features) in compiled.into_iter().flatten() {
            self.upsert_compiled(id, version, tag, features);
        }
    }

    fn upsert_compiled(
        &mut self,
        id: EntryId,
        version: i64,
        tag: u32,
        mut features: Compiled,
    ) -> bool {
        if let Some(&slot) = self.slots.get(&id) {
            if self.doc(slot).is_some_and(|d| d.version >= version) {
                return false;
            }
            self.remove(&id);
        }
        let Ok(slot) = u32::try_from(self.docs.len()) else {
            return false;
        };
        let mut terms = Vec::new();
        let mut doc_classes: Vec<ClassId> = Vec::new();
        let mut counted: Vec<(u32, Role)> = Vec::new();
        for token in features.names.iter_mut().flatten() {
            if token.initial {
                continue;
            }
            let term = self.intern(&token.key);
            token.term = term;
            if let (Role::Family, Some(born)) = (token.role, features.birth_date) {
                push_unique(
                    self.surname_years.entry((term, born.year)).or_default(),
                    slot,
                );
            }
            if !terms.contains(&term) {
                terms.push(term);
                push_unique(&mut self.postings[term as usize], slot);
            }
            if !counted.contains(&(term, token.role)) {
                counted.push((term, token.role));
            }
            for class in token.classes {
                push_unique(self.classes.entry(*class).or_default(), slot);
                doc_classes.push(*class);
            }
        }
        for key in counted {
            *self.role_counts.entry(key).or_default() += 1;
        }
        let numbers = std::iter::once(&features.service_number)
            .chain(&features.documents)
            .filter(|n| !n.is_empty());
        for number in numbers {
            push_unique(self.numbers.entry(number.clone()).or_default(), slot);
        }
        self.sex_counts[sex_slot(features.sex)] += 1;
        terms.sort_unstable();
        doc_classes.sort_unstable();
        doc_classes.dedup();
        self.docs.push(Some(Doc {
            id,
            version,
            tag,
            features,
            terms: terms.into_boxed_slice(),
            classes: doc_classes.into_boxed_slice(),
        }));
        self.slots.insert(id, slot);
        self.live += 1;
        true
    }

    fn intern(&mut self, key: &str) -> u32 {
        if let Some(&term) = self.terms.get(key) {
            return term;
        }
        // The vocabulary is bounded by the distinct names people have, far below u32::MAX.
        let term = self.term_keys.len() as u32;
        self.terms.insert(key.into(), term);
        self.term_keys.push(key.into());
        self.postings.push(Vec::new());
        if key.chars().count() >= MIN_FUZZY_CHARS {
            for variant in deletion_variants(key) {
                self.deletes.entry(variant).or_default().push(term);
            }
        }
        term
    }

    /// Removes an entry (a merged duplicate); `false` when it was not indexed.
    pub fn remove(&mut self, id: &EntryId) -> bool {
        let Some(slot) = self.slots.remove(id) else {
            return false;
        };
        let Some(doc) = self.docs.get_mut(slot as usize).and_then(Option::take) else {
            return false;
        };
        let mut counted: Vec<(u32, Role)> = Vec::new();
        for token in doc.features.names.iter().flatten() {
            if let Some(&term) = self.terms.get(&token.key)
                && !token.initial
                && !counted.contains(&(term, token.role))
            {
                counted.push((term, token.role));
            }
        }
        for key in counted {
            if let Some(count) = self.role_counts.get_mut(&key) {
                *count = count.saturating_sub(1);
            }
        }
        let sex = &mut self.sex_counts[sex_slot(doc.features.sex)];
        *sex = sex.saturating_sub(1);
        self.live -= 1;
        true
    }

    /// Searches for a compiled query, best first (by weight of evidence).
    pub fn search(&self, query: &Compiled, options: &SearchOptions) -> Vec<Hit> {
        self.search_excluding(query, options, None)
    }

    /// Compiles and searches.
    pub fn search_identity(&self, query: &Identity, options: &SearchOptions) -> Vec<Hit> {
        self.search(&compile(query), options)
    }

    fn search_excluding(
        &self,
        query: &Compiled,
        options: &SearchOptions,
        exclude_below: Option<u32>,
    ) -> Vec<Hit> {
        let expansions = self.expand(query);
        let candidates = self.gather(query, &expansions);
        self.score_candidates(query, &expansions, candidates, options, |slot| {
            exclude_below.is_none_or(|min| slot > min)
        })
    }

    /// Ranks candidate slots cheaply, scores the best in full, and explains those returned.
    fn score_candidates(
        &self,
        query: &Compiled,
        expansions: &[Expansion<'_>],
        mut candidates: Vec<u32>,
        options: &SearchOptions,
        keep: impl Fn(u32) -> bool,
    ) -> Vec<Hit> {
        candidates.retain(|slot| {
            keep(*slot)
                && self.doc(*slot).is_some_and(|d| {
                    options
                        .tag_filter
                        .is_none_or(|(mask, value)| d.tag & mask == value)
                })
        });
        // Cheap ranking: query tokens met, then a near birth year, then the older entry.
        let mut ranked: Vec<(u32, u32)> = candidates
            .into_iter()
            .filter_map(|slot| {
                let doc = self.doc(slot)?;
                Some((slot, pre_score(query, expansions, doc)))
                    .filter(|(_, rank)| *rank >= options.min_shared)
            })
            .collect();
        let limit = options.candidate_limit.max(1);
        if ranked.len() > limit {
            ranked.select_nth_unstable_by(limit - 1, |a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            ranked.truncate(limit);
        }
        let mut memo = Memo::default();
        let mut hits: Vec<(u32, Hit)> = ranked
            .into_iter()
            .filter_map(|(slot, _)| {
                let doc = self.doc(slot)?;
                let comparison = compare_with(query, &doc.features, self, &mut memo, false);
                (comparison.confidence >= options.min_confidence).then_some((
                    slot,
                    Hit {
                        id: doc.id,
                        comparison,
                    },
                ))
            })
            .collect();
        hits.sort_by(|a, b| {
            b.1.comparison
                .weight
                .total_cmp(&a.1.comparison.weight)
                .then(a.0.cmp(&b.0))
        });
        hits.truncate(options.max_results);
        // Explained only now, for the few that are returned.
        hits.into_iter()
            .map(|(slot, mut hit)| {
                if let Some(doc) = self.doc(slot) {
                    hit.comparison = compare_with(query, &doc.features, self, &mut memo, true);
                }
                hit
            })
            .collect()
    }

    /// For each query token: the terms equal to it or a typo away, and its name classes.
    fn expand<'q>(&self, query: &'q Compiled) -> Vec<Expansion<'q>> {
        self.expand_with(query, true)
    }

    /// As `expand`; `typos` also looks up the keys a typo away.
    fn expand_with<'q>(&self, query: &'q Compiled, typos: bool) -> Vec<Expansion<'q>> {
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for token in query.names.iter().flatten() {
            if token.initial || token.key.len() < 2 || seen.contains(&&*token.key) {
                continue;
            }
            seen.push(&token.key);
            let mut terms: Vec<u32> = self.terms.get(&*token.key).copied().into_iter().collect();
            let chars = token.key.chars().count();
            if typos && chars >= MIN_FUZZY_CHARS {
                let allowed = if chars >= 8 { 2 } else { 1 };
                for variant in deletion_variants(&token.key) {
                    for &term in self.deletes.get(&variant).into_iter().flatten() {
                        let key = &self.term_keys[term as usize];
                        if !terms.contains(&term)
                            && key.chars().count().abs_diff(chars) <= allowed
                            && crate::score::within_edits(key, &token.key, allowed)
                        {
                            terms.push(term);
                        }
                    }
                }
            }
            let volume = terms
                .iter()
                .map(|t| self.postings[*t as usize].len())
                .chain(
                    token
                        .classes
                        .iter()
                        .map(|c| self.classes.get(c).map_or(0, Vec::len)),
                )
                .sum();
            terms.sort_unstable();
            out.push(Expansion {
                terms,
                classes: token.classes,
                volume,
            });
        }
        out
    }

    /// Candidate slots: numbers first, then token lists from the rarest while within budget.
    fn gather(&self, query: &Compiled, expansions: &[Expansion<'_>]) -> Vec<u32> {
        let mut slots: Vec<u32> = Vec::new();
        for number in std::iter::once(&query.service_number).chain(&query.documents) {
            if let Some(list) = self.numbers.get(number) {
                slots.extend(list);
            }
        }
        let mut order: Vec<&Expansion<'_>> = expansions.iter().filter(|e| e.volume > 0).collect();
        order.sort_by_key(|e| e.volume);
        let mut read = 0;
        for (i, e) in order.iter().enumerate() {
            if i > 0 && read + e.volume > GATHER_BUDGET {
                break;
            }
            read += e.volume;
            for term in &e.terms {
                slots.extend(&self.postings[*term as usize]);
            }
            for class in e.classes {
                slots.extend(self.classes.get(class).into_iter().flatten());
            }
        }
        slots.sort_unstable();
        slots.dedup();
        slots
    }

    /// Pairs that may be one person, found by searching for each entry from slot `from` on
    /// (at most `max_entries` of them) among the entries after it. Returns the pairs and the
    /// slot to continue from, `None` when the scan is complete.
    pub fn find_duplicates(
        &self,
        from: usize,
        max_entries: usize,
        options: &SearchOptions,
    ) -> (Vec<DuplicatePair>, Option<usize>) {
        let mut pairs = Vec::new();
        let end = from.saturating_add(max_entries).min(self.docs.len());
        for slot in from..end {
            let Some(doc) = self.docs[slot].as_ref() else {
                continue;
            };
            let hits = self.search_excluding(&doc.features, options, Some(slot as u32));
            pairs.extend(hits.into_iter().map(|hit| DuplicatePair {
                first: doc.id,
                second: hit.id,
                comparison: hit.comparison,
            }));
        }
        (pairs, (end < self.docs.len()).then_some(end))
    }

    /// Likely duplicates of an entry already indexed (a new registration), itself left out:
    /// see [`Index::likely_duplicates`].
    pub fn duplicates_of(&self, id: &EntryId, options: &SearchOptions) -> Vec<Hit> {
        let Some(slot) = self.slots.get(id).copied() else {
            return Vec::new();
        };
        let Some(doc) = self.doc(slot) else {
            return Vec::new();
        };
        self.likely_duplicates_excluding(&doc.features, options, Some(slot))
    }

    /// Likely duplicates of a registration: only people who share a service or document
    /// number, or a surname and a birth year within one, are scored. This is the quick check
    /// run on every registration (a duplicate that confident needs that much in common);
    /// [`Index::find_duplicates`] is the thorough one.
    pub fn likely_duplicates(&self, query: &Compiled, options: &SearchOptions) -> Vec<Hit> {
        self.likely_duplicates_excluding(query, options, None)
    }

    fn likely_duplicates_excluding(
        &self,
        query: &Compiled,
        options: &SearchOptions,
        itself: Option<u32>,
    ) -> Vec<Hit> {
        let mut candidates: Vec<u32> = Vec::new();
        for number in std::iter::once(&query.service_number).chain(&query.documents) {
            if let Some(list) = self.numbers.get(number) {
                candidates.extend(list);
            }
        }
        if let Some(born) = query.birth_date {
            for token in query.names.iter().flatten() {
                if token.role != Role::Family {
                    continue;
                }
                let Some(&term) = self.terms.get(&*token.key) else {
                    continue;
                };
                for year in born.year - 1..=born.year + 1 {
                    candidates.extend(self.surname_years.get(&(term, year)).into_iter().flatten());
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        // Only to rank the candidates cheaply: exact keys and classes are enough.
        let expansions = self.expand_with(query, false);
        self.score_candidates(query, &expansions, candidates, options, |slot| {
            Some(slot) != itself
        })
    }

    /// Approximate heap size in bytes, for reports.
    pub fn heap_bytes(&self) -> usize {
        let docs: usize = self
            .docs
            .iter()
            .flatten()
            .map(|d| {
                std::mem::size_of::<Doc>()
                    + d.terms.len() * 4
                    + d.classes.len() * 4
                    + d.features
                        .names
                        .iter()
                        .map(|n| n.len() * (std::mem::size_of::<crate::record::Token>() + 12))
                        .sum::<usize>()
            })
            .sum();
        let postings: usize = self.postings.iter().map(|p| p.capacity() * 4 + 24).sum();
        let deletes: usize = self.deletes.values().map(|v| v.capacity() * 4 + 40).sum();
        let classes: usize = self
            .classes
            .values()
            .map(|v| v.capacity() * 4 + 32)
            .sum::<usize>()
            + self
                .surname_years
                .values()
                .map(|v| v.capacity() * 4 + 40)
                .sum::<usize>();
        docs + postings
            + deletes
            + classes
            + self.docs.capacity() * 8
            + self.slots.capacity() * (std::mem::size_of::<EntryId>() + 8)
            + self.term_keys.iter().map(|k| k.len() + 40).sum::<usize>()
            + self.role_counts.capacity() * 16
            + self.numbers.capacity() * 48
    }
}

/// One pair of a list reconciliation: entry `left` of the first list and entry `right` of the
/// second are taken to be one person.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairing {
    pub left: usize,
    pub right: usize,
    pub comparison: Comparison,
}

/// Reconciles two lists (our request and the other side's offer, say): each entry of `right`
/// is paired with at most one entry of `left` and the other way round, best pairs first, from
/// `min_confidence` up. Pairs whose comparison lists contradicting fields are the ones to check
/// for substitutions. Entries left out of every pair are unmatched. Returned by `right` order.
pub fn reconcile(left: &[Identity], right: &[Identity], min_confidence: f64) -> Vec<Pairing> {
    let mut index = Index::new();
    index.extend(
        left.iter()
            .enumerate()
            .map(|(i, identity)| (i as EntryId, 1, 0, identity.clone()))
            .collect(),
    );
    let options = SearchOptions {
        max_results: 3,
        min_confidence,
        ..SearchOptions::default()
    };
    // The entries of `right` are looked up on every core; the index is only read.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = right.len().div_ceil(threads).max(1);
    let index = &index;
    let options = &options;
    let mut edges: Vec<Pairing> = std::thread::scope(|s| {
        let handles: Vec<_> = right
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                s.spawn(move || {
                    let mut found = Vec::new();
                    for (k, identity) in part.iter().enumerate() {
                        for hit in index.search_identity(identity, options) {
                            found.push(Pairing {
                                left: hit.id as usize,
                                right: c * chunk + k,
                                comparison: hit.comparison,
                            });
                        }
                    }
                    found
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    edges.sort_by(|a, b| {
        b.comparison
            .weight
            .total_cmp(&a.comparison.weight)
            .then(a.right.cmp(&b.right))
            .then(a.left.cmp(&b.left))
    });
    let (mut left_taken, mut right_taken) = (vec![false; left.len()], vec![false; right.len()]);
    let mut pairs: Vec<Pairing> = edges
        .into_iter()
        .filter(|e| {
            let free = !left_taken[e.left] && !right_taken[e.right];
            if free {
                left_taken[e.left] = true;
                right_taken[e.right] = true;
            }
            free
        })
        .collect();
    pairs.sort_by_key(|p| p.right);
    pairs
}

fn push_unique(list: &mut Vec<u32>, slot: u32) {
    if list.last() != Some(&slot) {
        list.push(slot);
    }
}

/// Cheap rank of a candidate: query tokens it shares (by key, typo or class) × 4, plus 8 for a
/// shared service or document number, 2 for a birth year within one, 1 more for the same year.
fn pre_score(query: &Compiled, expansions: &[Expansion<'_>], doc: &Doc) -> u32 {
    let mut score = 0;
    for e in expansions {
        let by_term = e.terms.iter().any(|t| doc.terms.binary_search(t).is_ok());
        let by_class = !by_term
            && e.classes
                .iter()
                .any(|c| doc.classes.binary_search(c).is_ok());
        if by_term || by_class {
            score += 4;
        }
    }
    let numbers = &doc.features;
    if !query.service_number.is_empty() && query.service_number == numbers.service_number
        || query
            .documents
            .iter()
            .any(|d| numbers.documents.binary_search(d).is_ok())
    {
        score += 8;
    }
    if let (Some(q), Some(d)) = (query.birth_date, doc.features.birth_date) {
        if (q.year - d.year).abs() <= 1 {
            score += 2;
        }
        if q.year == d.year && (q.month.is_none() || q.month == d.month) {
            score += 1;
        }
    }
    score
}

impl Frequencies for Index {
    fn share(&self, role: Role, key: &str) -> f64 {
        let population = self.live as f64;
        let count = self.terms.get(key).map_or(0, |term| match role {
            Role::Unknown => [Role::Family, Role::Given, Role::Patronymic]
                .iter()
                .map(|r| self.role_counts.get(&(*term, *r)).copied().unwrap_or(0))
                .sum(),
            role => self.role_counts.get(&(*term, role)).copied().unwrap_or(0),
        });
        // Smoothed towards typical frequencies by a prior worth PRIOR_PEOPLE people, so that a
        // small registry does not call every name common and a new name is rare but not
        // infinitely so.
        let typical = TypicalFrequencies.share(role, key);
        (f64::from(count) + PRIOR_PEOPLE * typical) / (population + PRIOR_PEOPLE)
    }

    fn sex_share(&self, sex: Sex) -> f64 {
        let known = self.sex_counts[1] + self.sex_counts[2];
        if known < 100 {
            return 0.5;
        }
        f64::from(self.sex_counts[sex_slot(sex)]) / f64::from(known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BirthDate, Name};

    fn identity(family: &str, given: &str, patronymic: &str, year: i32) -> Identity {
        Identity {
            names: vec![Name::parts(family, given, patronymic)],
            birth_date: Some(BirthDate::year(year)),
            ..Identity::default()
        }
    }

    fn index() -> Index {
        let mut index = Index::new();
        index.upsert(
            1,
            1,
            0,
            &identity("Коваленко", "Олександр", "Петрович", 1990),
        );
        index.upsert(2, 1, 0, &identity("Коваленко", "Петро", "Іванович", 1965));
        index.upsert(
            3,
            1,
            0,
            &identity("Ковальчук", "Олександр", "Петрович", 1990),
        );
        index.upsert(4, 1, 0, &identity("Шевченко", "Олена", "Миколаївна", 1988));
        index
    }

    fn ids(hits: &[Hit]) -> Vec<EntryId> {
        hits.iter().map(|h| h.id).collect()
    }

    #[test]
    fn a_russian_spelling_with_a_typo_finds_the_man_first() {
        let hits = index().search_identity(
            &Identity {
                names: vec![Name::free("Александр Коваленка")],
                birth_date: Some(BirthDate::year(1990)),
                ..Identity::default()
            },
            &SearchOptions::default(),
        );
        assert_eq!(ids(&hits)[0], 1, "{hits:#?}");
    }

    #[test]
    fn replaying_an_older_version_changes_nothing_and_removal_hides_the_entry() {
        let mut index = index();
        assert!(!index.upsert(1, 1, 0, &identity("Бондар", "Іван", "", 1970)));
        assert!(index.upsert(4, 2, 0, &identity("Бондар", "Олена", "", 1988)));
        let query = identity("Бондар", "Олена", "", 1988);
        assert_eq!(
            ids(&index.search_identity(&query, &SearchOptions::default()))[0],
            4
        );
        assert!(index.remove(&4));
        assert!(!ids(&index.search_identity(&query, &SearchOptions::default())).contains(&4));
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn duplicates_are_reported_once_per_pair() {
        let mut index = index();
        index.upsert(
            5,
            1,
            0,
            &identity("Kovalenko", "Oleksandr", "Petrovych", 1990),
        );
        let options = SearchOptions {
            min_confidence: 0.5,
            ..SearchOptions::default()
        };
        let (pairs, next) = index.find_duplicates(0, 100, &options);
        assert_eq!(next, None);
        let found: Vec<(EntryId, EntryId)> = pairs.iter().map(|p| (p.first, p.second)).collect();
        assert_eq!(found, [(1, 5)], "{pairs:#?}");
        assert_eq!(ids(&index.duplicates_of(&5, &options)), [1]);
    }

    #[test]
    fn reconciliation_pairs_each_entry_once_and_leaves_strangers_unpaired() {
        let ours = vec![
            Identity {
                birth_date: Some(BirthDate::ymd(1990, 4, 12)),
                ..identity("Коваленко", "Олександр", "Петрович", 1990)
            },
            Identity {
                birth_date: Some(BirthDate::ymd(1988, 2, 3)),
                ..identity("Шевченко", "Олена", "Миколаївна", 1988)
            },
        ];
        let theirs = vec![
            Identity {
                birth_date: Some(BirthDate::ymd(1988, 3, 2)),
                ..identity("Шевченко", "Елена", "Николаевна", 1988)
            },
            // Written twice by mistake: only one of the two gets him.
            Identity {
                birth_date: Some(BirthDate::ymd(1990, 4, 12)),
                ..identity("Коваленко", "Александр", "Петрович", 1990)
            },
            Identity {
                birth_date: Some(BirthDate::ymd(1990, 4, 12)),
                ..identity("Kovalenko", "Oleksandr", "", 1990)
            },
            identity("Бондар", "Іван", "", 1970),
        ];
        let pairs: Vec<(usize, usize)> = reconcile(&ours, &theirs, 0.5)
            .iter()
            .map(|p| (p.left, p.right))
            .collect();
        assert_eq!(pairs, [(1, 0), (0, 1)]);
    }

    #[test]
    fn likely_duplicates_share_a_number_or_a_surname_and_birth_year() {
        let mut index = index();
        let options = SearchOptions {
            min_confidence: 0.5,
            ..SearchOptions::default()
        };
        let passport_form = compile(&Identity {
            birth_date: Some(BirthDate::year(1990)),
            ..identity("Kovalenko", "Oleksandr", "Petrovych", 1990)
        });
        assert_eq!(ids(&index.likely_duplicates(&passport_form, &options)), [1]);
        // Born years apart: not even a candidate.
        let elsewhere = compile(&identity("Kovalenko", "Oleksandr", "Petrovych", 1970));
        assert!(index.likely_duplicates(&elsewhere, &options).is_empty());
        // The same service number finds him.
        index.upsert(
            7,
            1,
            0,
            &Identity {
                service_number: "AA 123456".into(),
                ..identity("Бондар", "Іван", "Петрович", 1980)
            },
        );
        // No birth date to block on: only the number can bring him up.
        let numbered = compile(&Identity {
            service_number: "aa-123456".into(),
            birth_date: None,
            ..identity("Bondar", "Ivan", "", 1981)
        });
        assert_eq!(ids(&index.likely_duplicates(&numbered, &options)), [7]);
    }

    #[test]
    fn tags_filter_results() {
        let mut index = Index::new();
        index.upsert(1, 1, 1, &identity("Коваленко", "Олена", "", 1990));
        index.upsert(2, 1, 2, &identity("Коваленко", "Олена", "", 1990));
        let options = SearchOptions {
            tag_filter: Some((3, 2)),
            ..SearchOptions::default()
        };
        let hits = index.search_identity(&identity("Коваленко", "Олена", "", 1990), &options);
        assert_eq!(ids(&hits), [2]);
    }
}
