//! WriteTxnMarkers: a transaction coordinator on another node ends a
//! transaction in partitions this node leads (see `txn_markers`).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use super::{HandlerError, RequestContext};
use crate::log::control::EndTxnMarker;
use crate::txn_markers::write_local;

pub async fn handle(
    ctx: &RequestContext,
    req: WriteTxnMarkersRequest,
) -> Result<Option<WriteTxnMarkersResponse>, HandlerError> {
    let mut resp = WriteTxnMarkersResponse::default();
    for m in req.markers {
        let marker = EndTxnMarker {
            commit: m.transaction_result,
            coordinator_epoch: m.coordinator_epoch,
        };
        let mut out = WritableTxnMarkerResult::default();
        out.producer_id = m.producer_id;
        for t in m.topics {
            let mut topic = WritableTxnMarkerTopicResult::default();
            for p in t.partition_indexes {
                let r = write_local(
                    &ctx.broker,
                    m.producer_id.0,
                    m.producer_epoch,
                    marker,
                    t.name.0.as_str(),
                    p,
                )
                .await;
                let mut pr = WritableTxnMarkerPartitionResult::default();
                pr.partition_index = p;
                pr.error_code = r.err().map_or(0, |e: ResponseError| e.code());
                topic.partitions.push(pr);
            }
            topic.name = t.name;
            out.topics.push(topic);
        }
        resp.markers.push(out);
    }
    Ok(Some(resp))
}
