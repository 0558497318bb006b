//! SPEC 16: `matrix`. (Scaffold: the request is built in its own change,
//! quoting the provider's documentation here.)

use super::channel::{self, Channel, Ctx};
use super::plan::Message;
use super::DeliveryError;

pub static CHANNEL: Channel = Channel {
    name: "matrix",
    targets: |a| channel::one(&a.matrix),
    send,
    shown: |t| t.to_string(),
    secrets: |_, t| channel::nonempty(&[t]),
    problem: |_, _| None,
};

fn send(_ctx: &Ctx, _target: &str, _message: &Message) -> Result<(), DeliveryError> {
    Err(DeliveryError::NotConfigured(
        "the matrix channel is not built yet".into(),
    ))
}
