//! AlterPartition (controller API, KIP-497): a partition leader's proposed
//! ISR change, decided and committed by the active controller.

use kafka_protocol::messages::{AlterPartitionRequest, AlterPartitionResponse};

use super::{HandlerError, RequestContext};
use crate::cluster::isr;

pub async fn handle(
    ctx: &RequestContext,
    req: AlterPartitionRequest,
) -> Result<Option<AlterPartitionResponse>, HandlerError> {
    Ok(Some(isr::answer(&ctx.broker, req).await))
}
