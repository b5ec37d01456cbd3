//! The one Kafka error type every layer returns when it refuses an
//! operation: the wire error and the message that goes with it. Handlers
//! copy both into responses (`handlers/errors.rs` maps the other layers'
//! own errors to wire codes).

use kafka_protocol::error::ResponseError;

/// A refused admin operation: the Kafka error and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ResponseError,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ResponseError, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}
