//! `homewardctl notification list|get|deliveries|retry`: what families were told and how it
//! reached them. Notifications are made by the service's policy from registry and exchange
//! events, never by hand; the only change here is putting a failed delivery back in the queue
//! once someone fixed its cause.
//!
//! Deliveries carry their addresses masked, and are shown so.

use clap::Args;
use homeward_proto::notification::v1 as pb;

use super::text;
use crate::{
    Context, RequestId,
    args::{ChannelArg, DeliveryStateArg, NotificationKindArg, NotificationStateArg},
    client::all_pages,
    error::CliError,
    output::{self, OutputFormat},
    view::notification::{DeliveryListView, DeliveryView, NotificationListView, NotificationView},
};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only notifications for this inquiry.
    #[arg(long, value_name = "INQUIRY")]
    inquiry: Option<String>,
    /// Only notifications in this state.
    #[arg(long, value_enum, ignore_case = true)]
    state: Option<NotificationStateArg>,
    /// Only notifications of this kind.
    #[arg(long, value_enum, ignore_case = true)]
    kind: Option<NotificationKindArg>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The notification's id, as `notification list` prints it.
    #[arg(value_name = "NOTIFICATION")]
    id: String,
}

#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    /// Only deliveries in this state; dead-letter is the queue that needs a person.
    #[arg(long, value_enum, ignore_case = true)]
    state: Option<DeliveryStateArg>,
    /// Only deliveries through this channel.
    #[arg(long, value_enum, ignore_case = true)]
    channel: Option<ChannelArg>,
    /// Only the deliveries of this notification.
    #[arg(long, value_name = "NOTIFICATION")]
    notification: Option<String>,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The delivery's id, as `notification deliveries` prints it.
    #[arg(value_name = "DELIVERY")]
    id: String,
    /// What was fixed, such as the corrected number; the attempt count starts again.
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    request_id: RequestId,
}

impl ListArgs {
    fn into_request(self) -> pb::ListNotificationsRequest {
        pb::ListNotificationsRequest {
            page_size: 0,
            page_token: String::new(),
            inquiry_id: text(self.inquiry),
            state: self
                .state
                .map(NotificationStateArg::code)
                .unwrap_or_default(),
            kind: self
                .kind
                .map(pb::NotificationKind::from)
                .unwrap_or_default() as i32,
        }
    }
}

impl DeliveriesArgs {
    fn into_request(self) -> pb::ListDeliveriesRequest {
        pb::ListDeliveriesRequest {
            page_size: 0,
            page_token: String::new(),
            state: self.state.map(pb::DeliveryState::from).unwrap_or_default() as i32,
            channel: self.channel.map(pb::Channel::from).unwrap_or_default() as i32,
            notification_id: text(self.notification),
        }
    }
}

pub async fn list(a: ListArgs, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.notification()?;
    let request = a.into_request();
    let notifications = all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListNotificationsRequest {
            page_token,
            ..request.clone()
        };
        async move {
            let page = client.list_notifications(request).await?.into_inner();
            Ok((page.notifications, page.next_page_token))
        }
    })
    .await?;
    output::show(
        ctx.output,
        &NotificationListView {
            notifications: notifications.iter().map(NotificationView::from).collect(),
        },
    )
}

pub async fn get(a: GetArgs, ctx: &Context) -> Result<(), CliError> {
    let response = ctx
        .notification()?
        .get_notification(pb::GetNotificationRequest {
            id: a.id.trim().to_string(),
        })
        .await?
        .into_inner();
    let view = NotificationView::from(&response.notification.unwrap_or_default());
    output::show(ctx.output, &view)?;
    if ctx.output == OutputFormat::Table && !view.task_id.is_empty() {
        output::note(&format!(
            "this news is delivered in person: `homewardctl task get {}`",
            view.task_id
        ));
    }
    Ok(())
}

pub async fn deliveries(a: DeliveriesArgs, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.notification()?;
    let request = a.into_request();
    let deliveries = all_pages(|page_token| {
        let mut client = client.clone();
        let request = pb::ListDeliveriesRequest {
            page_token,
            ..request.clone()
        };
        async move {
            let page = client.list_deliveries(request).await?.into_inner();
            Ok((page.deliveries, page.next_page_token))
        }
    })
    .await?;
    let view = DeliveryListView {
        deliveries: deliveries.iter().map(DeliveryView::from).collect(),
    };
    output::show(ctx.output, &view)?;
    if ctx.output == OutputFormat::Table && view.deliveries.iter().any(|d| d.state == "dead-letter")
    {
        output::note(
            "fix the cause of a dead-lettered delivery (such as a wrong number: \
             `homewardctl inquiry get <inquiry-id>` shows the contacts), then put it back in the \
             queue with `homewardctl notification retry <delivery-id> --note WHAT-WAS-FIXED`",
        );
    }
    Ok(())
}

pub async fn retry(a: RetryArgs, ctx: &Context) -> Result<(), CliError> {
    let request_id = a.request_id.get();
    let response = ctx
        .notification()?
        .retry_delivery(pb::RetryDeliveryRequest {
            request_id: request_id.clone(),
            delivery_id: a.id.trim().to_string(),
            note: text(a.note),
        })
        .await
        .map_err(|s| CliError::from(s).with_request_id(&request_id))?
        .into_inner();
    output::show(
        ctx.output,
        &DeliveryView::from(&response.delivery.unwrap_or_default()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::{NotificationCommand, tests::parse_notification as parse};

    #[test]
    fn notification_filters_take_the_announced_embargoed_state() {
        let NotificationCommand::List(a) = parse(&[
            "list",
            "--inquiry",
            "i1",
            "--state",
            "embargoed",
            "--kind",
            "person-held",
        ])
        .unwrap() else {
            panic!("not list");
        };
        let r = a.into_request();
        assert_eq!(r.inquiry_id, "i1");
        assert_eq!(r.state, crate::args::NOTIFICATION_STATE_EMBARGOED);
        assert_eq!(r.kind, pb::NotificationKind::PersonHeld as i32);
        assert!(parse(&["list", "--state", "lost"]).is_err());
        assert!(parse(&["list", "--kind", "gossip"]).is_err());
    }

    #[test]
    fn the_dead_letter_queue_is_a_filter_of_deliveries() {
        let NotificationCommand::Deliveries(a) =
            parse(&["deliveries", "--state", "dead-letter", "--channel", "sms"]).unwrap()
        else {
            panic!("not deliveries");
        };
        let r = a.into_request();
        assert_eq!(r.state, pb::DeliveryState::DeadLetter as i32);
        assert_eq!(r.channel, pb::Channel::Sms as i32);
        assert!(parse(&["deliveries", "--channel", "pigeon"]).is_err());
        assert!(parse(&["retry"]).is_err(), "a delivery id is required");
        assert!(parse(&["retry", "d1", "--note", "number corrected"]).is_ok());
    }
}
