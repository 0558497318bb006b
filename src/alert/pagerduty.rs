//! SPEC 16: `pagerduty`. (Scaffold: the request is built in its own change,
//! quoting the provider's documentation here.)

use super::channel::{self, Channel, Ctx};
use super::plan::Message;
use super::DeliveryError;

pub static CHANNEL: Channel = Channel {
    name: "pagerduty",
    targets: |a| channel::one(&a.pagerduty),
    send,
    shown: channel::tail4,
    secrets: |_, t| channel::nonempty(&[t]),
    problem: |_, _| None,
};

fn send(_ctx: &Ctx, _target: &str, _message: &Message) -> Result<(), DeliveryError> {
    Err(DeliveryError::NotConfigured(
        "the pagerduty channel is not built yet".into(),
    ))
}
