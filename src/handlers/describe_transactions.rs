//! DescribeTransactions (KIP-664): the state of transactional ids this node
//! coordinates (`kafka-transactions describe`).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName};

use super::{str_bytes, HandlerError, RequestContext};

pub async fn handle(
    ctx: &RequestContext,
    req: DescribeTransactionsRequest,
) -> Result<Option<DescribeTransactionsResponse>, HandlerError> {
    let mut resp = DescribeTransactionsResponse::default();
    for id in req.transactional_ids {
        let mut s = TransactionState::default();
        s.producer_id = ProducerId(-1);
        s.producer_epoch = -1;
        s.transaction_start_time_ms = -1;
        // An empty id is no transactional id (Kafka's INVALID_REQUEST); it
        // would otherwise be looked up and reported as not found.
        let described = if id.0.is_empty() {
            Err(ResponseError::InvalidRequest)
        } else {
            ctx.broker.transactions.describe(id.0.as_str())
        };
        match described {
            Ok(d) => {
                s.transaction_state = str_bytes(d.state.name());
                s.transaction_timeout_ms = d.timeout_ms;
                s.transaction_start_time_ms = d.start_ms;
                s.producer_id = ProducerId(d.producer_id);
                s.producer_epoch = d.producer_epoch;
                let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                for (t, p) in d.partitions {
                    by_topic.entry(t).or_default().push(p);
                }
                for (t, ps) in by_topic {
                    let mut td = TopicData::default();
                    td.topic = TopicName(str_bytes(t));
                    td.partitions = ps;
                    s.topics.push(td);
                }
            }
            Err(e) => s.error_code = e.code(),
        }
        s.transactional_id = id;
        resp.transaction_states.push(s);
    }
    Ok(Some(resp))
}
