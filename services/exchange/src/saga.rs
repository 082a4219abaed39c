//! The steps a phase takes together with the registry: freeze (reserve), unfreeze and cancel
//! (release), and completion (repatriate or release each person, record refusals).
//!
//! Each runs in three moves: (1) the step is written on the phase as `pending`, in one
//! transaction with whatever it records locally; (2) the registry is called, each call under a
//! request id derived from the phase and the attempt, so a repeated call is answered from the
//! registry's record of the first; (3) the outcome and the cleared step are written in one
//! transaction, with the caller's request id and response. A process that stops anywhere in
//! between leaves the step on the phase; `drive` finishes it, whether called by the retried
//! request, by the next request on the phase, or by the resumer that looks for pending steps
//! in the background. Nobody is reserved twice (same request id), nobody stays reserved by a
//! cancelled phase (the release is part of the cancel), and nobody is marked repatriated who
//! was not verified at the handover (the list is fixed in the pending step).

use std::{collections::HashSet, sync::Arc, time::Duration};

use homeward_kit::{
    auth::Principal,
    idempotency::{RequestKey, request_key},
    outbox::NewEvent,
    timestamp,
};
use homeward_proto::exchange::v1 as pb;
use prost::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    convert,
    domain::{self, EntryOutcome, PhaseState, Settlement, Step},
    error::ExchangeError,
    grpc::{Exchange, Loaded, OFFICERS, Result, audit_entry, check_etag, phase_doc, state_changed},
    model::*,
    store::{DocWrite, Table, WriteBatch, WriteOutcome},
};

/// A phase with a step under way takes no other step until it is finished.
pub fn refuse_while_pending(phase: &Phase) -> Result<()> {
    if phase.pending.is_some() {
        return Err(ExchangeError::refused(
            "STEP_IN_PROGRESS",
            "a step with the registry is still being finished for this phase; retry shortly",
        ));
    }
    Ok(())
}

fn pending_request(key: &RequestKey, who: &Principal) -> PendingRequest {
    PendingRequest {
        scope: key.scope.to_string(),
        request_id: key.request_id.clone(),
        fingerprint: key.fingerprint.clone(),
        actor: who.subject.clone(),
    }
}

impl Exchange {
    /// Loads a phase for a step; a step left pending by an earlier request is finished first.
    async fn phase_for_step(&self, phase_id: &str) -> Result<Loaded<Phase>> {
        let loaded = self.phase(phase_id).await?;
        if loaded.record.pending.is_none() {
            return Ok(loaded);
        }
        // Finishing it may fail (registry down): then this request cannot go on either.
        self.drive(loaded.record.id).await?;
        self.phase(phase_id).await
    }

    /// Writes the pending step (and what goes with it), then drives it to its end.
    async fn start_step(
        &self,
        current: &Loaded<Phase>,
        mut next: Phase,
        key: &RequestKey,
        who: &Principal,
        mut docs: Vec<DocWrite>,
    ) -> Result<()> {
        next.pending_request = Some(pending_request(key, who));
        next.updated_at_us = timestamp::now_micros();
        docs.insert(0, phase_doc(&next, Some(current.version)));
        let batch = WriteBatch {
            docs,
            ..Default::default()
        };
        match self.store.write(&batch).await? {
            WriteOutcome::Applied | WriteOutcome::Replayed(_) => {}
        }
        self.drive(next.id).await
    }

    pub(crate) async fn freeze_lists(
        &self,
        who: &Principal,
        req: pb::FreezeListsRequest,
    ) -> Result<pb::FreezeListsResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("freeze_lists", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let reconciliation_id = crate::grpc::parse_id("reconciliation_id", &req.reconciliation_id)?;
        let imbalance_reason = req.imbalance_reason.trim().to_string();
        if imbalance_reason.chars().count() > 1_000 {
            return Err(ExchangeError::invalid(
                "imbalance_reason",
                "at most 1000 characters",
            ));
        }
        let current = self.phase(&req.phase_id).await?;
        if let Some(resumed) = self
            .resume_own::<pb::FreezeListsResponse>(&current, &key)
            .await?
        {
            return Ok(resumed);
        }
        let current = self.phase_for_step(&req.phase_id).await?;
        check_etag(&req.etag, current.version)?;
        let phase = &current.record;
        domain::next_state(
            phase.state,
            Step::FreezeLists,
            false,
            &Settlement::Completed,
        )?;
        if phase.latest_reconciliation != Some(reconciliation_id) {
            return Err(ExchangeError::refused(
                "RECONCILIATION_NOT_LATEST",
                "freeze the phase's latest reconciliation; a newer one exists",
            ));
        }
        let stored = self
            .store
            .get(Table::Reconciliations, &reconciliation_id.to_string())
            .await?
            .ok_or_else(|| ExchangeError::NotFound {
                resource: "reconciliation",
                id: reconciliation_id.to_string(),
            })?;
        let reconciliation: Reconciliation = stored.decode()?;
        for list in &reconciliation.lists {
            if let Some(latest) = self.latest_list(phase.id, &list.party, list.kind).await?
                && latest.list.version != list.version
            {
                return Err(ExchangeError::refused(
                    "RECONCILIATION_STALE",
                    "a newer list version exists; reconcile again",
                ));
            }
        }
        if reconciliation.summary.open_reviews > 0 {
            return Err(ExchangeError::refused(
                "OPEN_REVIEWS",
                format!(
                    "{} items must be reviewed before the lists can freeze",
                    reconciliation.summary.open_reviews
                ),
            ));
        }
        let ledger = self.ledger(phase).await?;
        let people = ledger.counted(phase.planned_at_us, |o| {
            !matches!(o, EntryOutcome::RefusedToReturn | EntryOutcome::HeldBack)
        });
        let counts = self.count(phase, &people).await?;
        if !counts.balanced && imbalance_reason.is_empty() {
            return Err(ExchangeError::refused(
                "COUNTS_DO_NOT_BALANCE",
                format!(
                    "the counts do not balance ({}); give an imbalance reason both parties accepted, or amend the lists",
                    counts.problems.join("; ")
                ),
            ));
        }
        let mut persons = Vec::new();
        let mut seen = HashSet::new();
        for t in &ledger.transfers {
            let Some(p) = t.item.person_id else { continue };
            if !seen.insert(p) {
                return Err(ExchangeError::refused(
                    "PERSON_TWICE",
                    format!("registry person {p} is in two pairs; review the reconciliation"),
                ));
            }
            persons.push(p);
        }
        if persons.is_empty() {
            return Err(ExchangeError::refused(
                "NOTHING_TO_FREEZE",
                "the reconciliation pairs nobody",
            ));
        }
        // A fixed order, so the registry call repeated after a crash is the same request.
        persons.sort();
        let mut next = phase.clone();
        next.attempts += 1;
        next.pending = Some(Pending::Freeze {
            attempt: next.attempts,
            reconciliation_id,
            lists: reconciliation.lists.clone(),
            person_ids: persons,
            imbalance_reason,
        });
        self.start_step(&current, next, &key, who, Vec::new())
            .await?;
        self.finished(&key).await
    }

    pub(crate) async fn unfreeze_lists(
        &self,
        who: &Principal,
        req: pb::UnfreezeListsRequest,
    ) -> Result<pb::UnfreezeListsResponse> {
        self.release_step(
            who,
            "unfreeze_lists",
            &req,
            &req.phase_id,
            &req.etag,
            &req.reason,
            Step::UnfreezeLists,
        )
        .await
    }

    pub(crate) async fn cancel_phase(
        &self,
        who: &Principal,
        req: pb::CancelPhaseRequest,
    ) -> Result<pb::CancelPhaseResponse> {
        self.release_step(
            who,
            "cancel_phase",
            &req,
            &req.phase_id,
            &req.etag,
            &req.reason,
            Step::Cancel,
        )
        .await
    }

    /// Unfreeze and cancel: release whatever the phase holds in the registry, then change state.
    #[allow(clippy::too_many_arguments)]
    async fn release_step<M: homeward_kit::idempotency::Mutation, R: PhaseAnswer>(
        &self,
        who: &Principal,
        scope: &'static str,
        req: &M,
        phase_id: &str,
        etag: &str,
        reason: &str,
        step: Step,
    ) -> Result<R> {
        who.require_any(OFFICERS)?;
        let key = request_key(scope, req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let reason = reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 1_000 {
            return Err(ExchangeError::invalid(
                "reason",
                "required, at most 1000 characters",
            ));
        }
        let current = self.phase(phase_id).await?;
        if let Some(resumed) = self.resume_own::<R>(&current, &key).await? {
            return Ok(resumed);
        }
        let current = self.phase_for_step(phase_id).await?;
        check_etag(etag, current.version)?;
        let phase = &current.record;
        let handed_over = if phase.state == PhaseState::InHandover {
            let ledger = self.ledger(phase).await?;
            ledger
                .checks
                .values()
                .any(|c| c.result == CheckResult::Verified)
        } else {
            false
        };
        let to = domain::next_state(phase.state, step, handed_over, &Settlement::Completed)?;
        let mut next = phase.clone();
        if !phase.state.holds_reservations() {
            // Nothing is reserved yet: an ordinary state change.
            let now = timestamp::now_micros();
            next.state = to;
            next.state_at_us = now;
            next.updated_at_us = now;
            next.outcome_note = reason.clone();
            let version = current.version + 1;
            let out = R::with(convert::phase_to_pb(&next, version));
            let id = next.id.to_string();
            let batch = WriteBatch {
                docs: vec![phase_doc(&next, Some(current.version))],
                events: vec![state_changed(&next, version, phase.state, &reason)],
                audit: vec![audit_entry(
                    who,
                    &format!("exchange.phase.{}", convert::state_tag(to)),
                    &id,
                    &key.request_id,
                    serde_json::json!({"reason": reason}),
                )],
                key: Some(key),
                ..Default::default()
            };
            return self.commit(batch, out).await;
        }
        next.attempts += 1;
        next.pending = Some(Pending::Release {
            attempt: next.attempts,
            to,
            reason,
        });
        self.start_step(&current, next, &key, who, Vec::new())
            .await?;
        self.finished(&key).await
    }

    pub(crate) async fn complete_phase(
        &self,
        who: &Principal,
        req: pb::CompletePhaseRequest,
    ) -> Result<pb::CompletePhaseResponse> {
        who.require_any(OFFICERS)?;
        let key = request_key("complete_phase", &req)?;
        if let Some(done) = self.replayed(&key).await? {
            return Ok(done);
        }
        let note = req.note.trim().to_string();
        if note.chars().count() > 1_000 {
            return Err(ExchangeError::invalid("note", "at most 1000 characters"));
        }
        let current = self.phase(&req.phase_id).await?;
        if let Some(resumed) = self
            .resume_own::<pb::CompletePhaseResponse>(&current, &key)
            .await?
        {
            return Ok(resumed);
        }
        let current = self.phase_for_step(&req.phase_id).await?;
        check_etag(&req.etag, current.version)?;
        let phase = &current.record;
        let agreement = self
            .agreement(&phase.agreement_id.to_string())
            .await?
            .record;
        let ledger = self.ledger(phase).await?;
        // Frozen entries nobody checked did not appear: recorded as such with the completion.
        let now = timestamp::now_micros();
        let pid = phase.id.to_string();
        let mut docs = Vec::new();
        let mut outcomes = Vec::new();
        for t in &ledger.transfers {
            let mut outcome = ledger.outcome(t);
            if outcome == EntryOutcome::Pending {
                let check = HandoverCheck {
                    id: Uuid::now_v7(),
                    phase_id: phase.id,
                    handing_party: t.item.handing_party.clone(),
                    entry: Some(t.offer.clone()),
                    person_id: t.item.person_id,
                    result: CheckResult::Missing,
                    presented: None,
                    methods: Vec::new(),
                    checked_by: who.subject.clone(),
                    checked_at_us: now,
                    note: "not checked by the end of the handover".into(),
                    superseded_by: None,
                };
                docs.push(DocWrite::new(
                    Table::HandoverChecks,
                    check.id.to_string(),
                    &pid,
                    check.tag(),
                    &check,
                ));
                outcome = EntryOutcome::DidNotAppear;
            }
            outcomes.push(outcome);
        }
        let settlement = domain::settle(&outcomes);
        let to = domain::next_state(phase.state, Step::Complete, false, &settlement)?;
        if let Settlement::PartiallyCompleted { reasons } = &settlement
            && !req.allow_partial
        {
            let summary: Vec<String> = reasons
                .iter()
                .map(|(o, n)| format!("{n} {}", o.name()))
                .collect();
            return Err(ExchangeError::refused(
                "PARTIAL_HANDOVER",
                format!(
                    "not everyone was handed over ({}); complete with allow_partial to record a partial exchange",
                    summary.join(", ")
                ),
            ));
        }
        let mut repatriate = Vec::new();
        let mut release = Vec::new();
        let mut refused = Vec::new();
        for (t, outcome) in ledger.transfers.iter().zip(&outcomes) {
            let Some(p) = t.item.person_id else { continue };
            match outcome {
                EntryOutcome::HandedOver => repatriate.push(p),
                EntryOutcome::RefusedToReturn => refused.push(p),
                _ => release.push(p),
            }
        }
        repatriate.sort();
        release.sort();
        refused.sort();
        let finished = Ledger::with_missing(ledger, &docs)?;
        let tallies = self.tallies(&agreement, &finished);
        let outcome_note = match &settlement {
            Settlement::PartiallyCompleted { reasons } => {
                let summary: Vec<String> = reasons
                    .iter()
                    .map(|(o, n)| format!("{n} {}", o.name()))
                    .collect();
                if note.is_empty() {
                    summary.join(", ")
                } else {
                    format!("{note} ({})", summary.join(", "))
                }
            }
            _ => note,
        };
        // The handover happened when its last person was verified.
        let occurred_at_us = finished
            .checks
            .values()
            .filter(|c| c.result == CheckResult::Verified)
            .map(|c| c.checked_at_us)
            .max()
            .unwrap_or(now);
        let mut next = phase.clone();
        next.pending = Some(Pending::Complete {
            repatriate,
            release,
            refused,
            to,
            note: outcome_note,
            occurred_at_us,
            tallies,
        });
        self.start_step(&current, next, &key, who, docs).await?;
        self.finished(&key).await
    }

    /// If the phase's pending step was started by this very request (a retry after a lost
    /// answer or a crash), finishes it and answers.
    async fn resume_own<R: Message + Default>(
        &self,
        current: &Loaded<Phase>,
        key: &RequestKey,
    ) -> Result<Option<R>> {
        let ours = current.record.pending_request.as_ref().is_some_and(|p| {
            p.request_id == key.request_id
                && p.scope == key.scope
                && current.record.pending.is_some()
        });
        if !ours {
            return Ok(None);
        }
        self.drive(current.record.id).await?;
        Ok(Some(self.finished(key).await?))
    }

    /// The response recorded when the step under `key` finished.
    async fn finished<R: Message + Default>(&self, key: &RequestKey) -> Result<R> {
        self.replayed(key).await?.ok_or_else(|| {
            ExchangeError::RegistryUnavailable(
                "the step was started but has not finished; retry with the same request id".into(),
            )
        })
    }

    /// Finishes the phase's pending step, if any. Safe to call from several places at once:
    /// registry calls are idempotent and the final write names the version it replaces.
    pub async fn drive(&self, phase_id: Uuid) -> Result<()> {
        loop {
            let current = self.phase(&phase_id.to_string()).await?;
            let Some(pending) = current.record.pending.clone() else {
                return Ok(());
            };
            let outcome = self.in_registry(current.record.id, &pending).await;
            let write = match outcome {
                Ok(()) => self.finish_step(&current, &pending),
                Err(ExchangeError::RegistryRefused(why))
                    if matches!(pending, Pending::Freeze { .. }) =>
                {
                    // All or nothing: the registry reserved nobody. The phase stays negotiating.
                    let mut batch = self.abandon_step(&current, &why);
                    self.write_step(&mut batch).await?;
                    return Err(ExchangeError::RegistryRefused(why));
                }
                Err(e) => return Err(e),
            };
            let mut batch = write;
            match self.write_step(&mut batch).await {
                Ok(()) => return Ok(()),
                // Someone else finished it meanwhile: look again.
                Err(ExchangeError::Store(homeward_kit::StoreError::Conflict)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The pending step's registry calls, retried a few times over a second when the registry
    /// answers that it is busy or briefly away (a retry racing the original, a restart).
    async fn in_registry(&self, id: Uuid, pending: &Pending) -> Result<()> {
        let mut delay = Duration::from_millis(100);
        let mut attempts = 0;
        loop {
            let outcome = match pending {
                Pending::Freeze {
                    attempt,
                    person_ids,
                    ..
                } => {
                    self.registry
                        .reserve(format!("{id}:freeze:{attempt}"), id, person_ids)
                        .await
                }
                Pending::Release {
                    attempt, reason, ..
                } => {
                    self.registry
                        .release(format!("{id}:release:{attempt}"), id, &[], reason)
                        .await
                }
                Pending::Complete {
                    repatriate,
                    release,
                    refused,
                    occurred_at_us,
                    ..
                } => {
                    self.complete_in_registry(id, repatriate, release, refused, *occurred_at_us)
                        .await
                }
            };
            attempts += 1;
            match outcome {
                Err(e) if e.is_transient() && attempts < 4 => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                other => return other,
            }
        }
    }

    async fn complete_in_registry(
        &self,
        id: Uuid,
        repatriate: &[Uuid],
        release: &[Uuid],
        refused: &[Uuid],
        occurred_at_us: i64,
    ) -> Result<()> {
        if !repatriate.is_empty() {
            self.registry
                .mark_repatriated(
                    format!("{id}:complete:repatriate"),
                    id,
                    repatriate,
                    occurred_at_us,
                )
                .await?;
        }
        for person in refused {
            self.registry
                .record_refusal(
                    format!("{id}:refusal:{person}"),
                    id,
                    *person,
                    occurred_at_us,
                )
                .await?;
        }
        let mut others: Vec<Uuid> = release.to_vec();
        others.extend_from_slice(refused);
        if !others.is_empty() {
            self.registry
                .release(
                    format!("{id}:complete:release"),
                    id,
                    &others,
                    "not handed over in the exchange",
                )
                .await?;
        }
        Ok(())
    }

    async fn write_step(&self, batch: &mut WriteBatch) -> Result<()> {
        match self.store.write(batch).await {
            Ok(_) => {
                self.feed.wake();
                Ok(())
            }
            Err(homeward_kit::StoreError::UniqueViolation(c)) if c.contains("idempotency") => {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The write that ends a step: new state, step cleared, events, audit, and the response
    /// under the request id that started it.
    fn finish_step(&self, current: &Loaded<Phase>, pending: &Pending) -> WriteBatch {
        let previous = current.record.state;
        let mut next = current.record.clone();
        let now = timestamp::now_micros();
        next.pending = None;
        let request = next.pending_request.take();
        next.state_at_us = now;
        next.updated_at_us = now;
        let version = current.version + 1;
        let id = next.id.to_string();
        let mut events = Vec::new();
        let (action, response, details) = match pending {
            Pending::Freeze {
                reconciliation_id,
                lists,
                person_ids,
                imbalance_reason,
                ..
            } => {
                next.state = PhaseState::ListsFrozen;
                next.frozen_lists = lists.clone();
                next.frozen_reconciliation = Some(*reconciliation_id);
                next.imbalance_reason = imbalance_reason.clone();
                let out = convert::phase_to_pb(&next, version);
                events.push(state_changed(&next, version, previous, "lists frozen"));
                let response = pb::FreezeListsResponse {
                    phase: Some(out),
                    reserved_person_ids: person_ids.iter().map(Uuid::to_string).collect(),
                }
                .encode_to_vec();
                (
                    "exchange.phase.freeze",
                    response,
                    serde_json::json!({"reserved": person_ids.len(), "reconciliation": reconciliation_id}),
                )
            }
            Pending::Release { to, reason, .. } => {
                next.state = *to;
                if *to == PhaseState::Negotiating {
                    next.frozen_lists.clear();
                    next.frozen_reconciliation = None;
                    next.imbalance_reason.clear();
                } else {
                    next.outcome_note = reason.clone();
                }
                let out = convert::phase_to_pb(&next, version);
                events.push(state_changed(&next, version, previous, reason));
                let response = match to {
                    PhaseState::Cancelled => {
                        pb::CancelPhaseResponse { phase: Some(out) }.encode_to_vec()
                    }
                    _ => pb::UnfreezeListsResponse { phase: Some(out) }.encode_to_vec(),
                };
                (
                    "exchange.phase.release",
                    response,
                    serde_json::json!({"to": convert::state_tag(*to), "reason": reason}),
                )
            }
            Pending::Complete {
                repatriate,
                release,
                refused,
                to,
                note,
                tallies,
                ..
            } => {
                next.state = *to;
                next.outcome_note = note.clone();
                next.tallies = tallies.clone();
                let out = convert::phase_to_pb(&next, version);
                events.push(NewEvent::new(
                    "exchange.phase.completed",
                    &id,
                    &pb::PhaseCompleted {
                        phase: Some(out.clone()),
                        repatriated_person_ids: repatriate.iter().map(Uuid::to_string).collect(),
                        refused_person_ids: refused.iter().map(Uuid::to_string).collect(),
                        not_handed_over_person_ids: release.iter().map(Uuid::to_string).collect(),
                        tallies: tallies.iter().map(convert::tally_to_pb).collect(),
                    },
                ));
                let response = pb::CompletePhaseResponse { phase: Some(out) }.encode_to_vec();
                (
                    "exchange.phase.complete",
                    response,
                    serde_json::json!({"state": convert::state_tag(*to), "repatriated": repatriate.len(), "refused": refused.len(), "released": release.len()}),
                )
            }
        };
        let actor = request
            .as_ref()
            .map(|r| r.actor.clone())
            .unwrap_or_default();
        let request_id = request
            .as_ref()
            .map(|r| r.request_id.clone())
            .unwrap_or_default();
        WriteBatch {
            docs: vec![phase_doc(&next, Some(current.version))],
            events,
            audit: vec![homeward_kit::audit::AuditEntry {
                actor,
                action: action.into(),
                target: id,
                request_id,
                details,
            }],
            key: request.map(pending_key),
            response,
        }
    }

    /// The write that abandons a freeze the registry refused.
    fn abandon_step(&self, current: &Loaded<Phase>, why: &str) -> WriteBatch {
        let mut next = current.record.clone();
        next.pending = None;
        let request = next.pending_request.take();
        next.updated_at_us = timestamp::now_micros();
        let id = next.id.to_string();
        WriteBatch {
            docs: vec![phase_doc(&next, Some(current.version))],
            audit: vec![homeward_kit::audit::AuditEntry {
                actor: request
                    .as_ref()
                    .map(|r| r.actor.clone())
                    .unwrap_or_default(),
                action: "exchange.phase.freeze_refused".into(),
                target: id,
                request_id: request.map(|r| r.request_id).unwrap_or_default(),
                details: serde_json::json!({"registry": why}),
            }],
            ..Default::default()
        }
    }
}

/// Responses that are just the phase.
pub(crate) trait PhaseAnswer: Message + Default {
    fn with(phase: pb::Phase) -> Self;
}

impl PhaseAnswer for pb::UnfreezeListsResponse {
    fn with(phase: pb::Phase) -> Self {
        Self { phase: Some(phase) }
    }
}

impl PhaseAnswer for pb::CancelPhaseResponse {
    fn with(phase: pb::Phase) -> Self {
        Self { phase: Some(phase) }
    }
}

fn pending_key(r: PendingRequest) -> RequestKey {
    let scope = match r.scope.as_str() {
        "freeze_lists" => "freeze_lists",
        "unfreeze_lists" => "unfreeze_lists",
        "cancel_phase" => "cancel_phase",
        _ => "complete_phase",
    };
    RequestKey {
        scope,
        request_id: r.request_id,
        fingerprint: r.fingerprint,
    }
}

use crate::handover::Ledger;

impl Ledger {
    /// The ledger with the completion's MISSING checks applied.
    fn with_missing(mut self, docs: &[DocWrite]) -> Result<Self> {
        for doc in docs.iter().filter(|d| d.table == Table::HandoverChecks) {
            let check: HandoverCheck = crate::store::decode(&doc.record)?;
            if let Some(entry) = check.entry.clone() {
                self.checks.insert(entry, check);
            }
        }
        Ok(self)
    }
}

/// Finishes steps left pending by a stopped process, every `interval` until `stop`: those under
/// way for longer than `after`.
pub fn spawn_resumer(
    exchange: Arc<Exchange>,
    interval: Duration,
    after: Duration,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let after_us = i64::try_from(after.as_micros()).unwrap_or(i64::MAX);
        loop {
            let until = timestamp::now_micros().saturating_sub(after_us);
            match crate::store::pending_phases(&exchange.store, until).await {
                Ok(ids) => {
                    // A step started moments ago is left to the request that started it.
                    for id in ids.iter().filter_map(|i| Uuid::parse_str(i).ok()) {
                        if let Err(e) = exchange.drive(id).await {
                            tracing::warn!(phase = %id, error = %e, "pending registry step not finished yet");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot look for pending registry steps"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    });
}
