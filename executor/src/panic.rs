//! A caught panic's payload as text, for the errors and logs of the engines' unwind
//! guards and of the async facade: one wording wherever a panic is reported.

use std::any::Any;

/// The message a panic carried (`panic!("…")` gives a `&str` or a `String`), or a
/// placeholder for a payload of another type.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
