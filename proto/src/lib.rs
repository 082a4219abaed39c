//! Homeward's gRPC contracts. The code is generated at build time from the `.proto` files in
//! this crate's `homeward/` folder; nothing here is written by hand but the module tree.

#![forbid(unsafe_code)]

pub mod common {
    pub mod v1 {
        tonic::include_proto!("homeward.common.v1");
    }
}

pub mod registry {
    pub mod v1 {
        tonic::include_proto!("homeward.registry.v1");
    }
}

pub mod exchange {
    pub mod v1 {
        tonic::include_proto!("homeward.exchange.v1");
    }
}

pub mod notification {
    pub mod v1 {
        tonic::include_proto!("homeward.notification.v1");
    }
}

/// The encoded descriptors of every Homeward contract, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("homeward_descriptor");

/// A request that changes something: it carries a request id (replaying it returns the first
/// answer), and its fingerprint is taken over everything else.
pub trait Mutation: prost::Message + Clone {
    fn request_id(&self) -> &str;
    fn clear_request_id(&mut self);
}

macro_rules! mutations {
    ($($request:ty),* $(,)?) => {
        $(impl Mutation for $request {
            fn request_id(&self) -> &str {
                &self.request_id
            }

            fn clear_request_id(&mut self) {
                self.request_id.clear();
            }
        })*
    };
}

mutations!(
    registry::v1::CreatePersonRequest,
    registry::v1::UpdatePersonRequest,
    registry::v1::ImportHeader,
    registry::v1::RecordStatusChangeRequest,
    registry::v1::ReservePersonsRequest,
    registry::v1::ReleasePersonsRequest,
    registry::v1::MarkRepatriatedRequest,
    registry::v1::MergePersonsRequest,
    registry::v1::UnmergePersonsRequest,
    exchange::v1::CreateAgreementRequest,
    exchange::v1::UpdateAgreementRequest,
    exchange::v1::CreatePhaseRequest,
    exchange::v1::UpdatePhaseRequest,
    exchange::v1::StartNegotiationRequest,
    exchange::v1::SubmitListRequest,
    exchange::v1::ReconcilePhaseRequest,
    exchange::v1::ReviewReconciliationItemRequest,
    exchange::v1::RecordConsentRequest,
    exchange::v1::HoldBackPersonRequest,
    exchange::v1::UpdateHoldBackRequest,
    exchange::v1::FreezeListsRequest,
    exchange::v1::UnfreezeListsRequest,
    exchange::v1::StartHandoverRequest,
    exchange::v1::RecordHandoverCheckRequest,
    exchange::v1::CompletePhaseRequest,
    exchange::v1::CancelPhaseRequest,
    notification::v1::CreateInquiryRequest,
    notification::v1::UpdateInquiryRequest,
    notification::v1::CloseInquiryRequest,
    notification::v1::ReissueAccessCodeRequest,
    notification::v1::VerifyRequesterRequest,
    notification::v1::RecordConsentRequest,
    notification::v1::WithdrawConsentRequest,
    notification::v1::ProposeLinkRequest,
    notification::v1::ConfirmLinkRequest,
    notification::v1::RejectLinkRequest,
    notification::v1::FlagWithholdingRequest,
    notification::v1::ReviewWithholdingRequest,
    notification::v1::RetryDeliveryRequest,
    notification::v1::AssignTaskRequest,
    notification::v1::RecordTaskAttemptRequest,
);
