//! SPEC 16: `teams`. (Scaffold: the request is built in its own change,
//! quoting the provider's documentation here.)

use super::channel::{self, Channel, Ctx};
use super::plan::Message;
use super::DeliveryError;

pub static CHANNEL: Channel = Channel {
    name: "teams",
    targets: |a| channel::one(&a.teams),
    send,
    shown: channel::url_origin,
    secrets: |_, t| channel::nonempty(&[t]),
    problem: |_, _| None,
};

fn send(_ctx: &Ctx, _target: &str, _message: &Message) -> Result<(), DeliveryError> {
    Err(DeliveryError::NotConfigured(
        "the teams channel is not built yet".into(),
    ))
}
