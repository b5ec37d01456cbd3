//! ListTransactions (KIP-664): the transactional ids this node coordinates,
//! filtered by state, producer id and (v1+) how long they have run
//! (`kafka-transactions list`, which asks every broker).

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId};

use super::{str_bytes, HandlerError, RequestContext};
use crate::coordinator::transaction::state::TxnState;

pub async fn handle(
    ctx: &RequestContext,
    req: ListTransactionsRequest,
) -> Result<Option<ListTransactionsResponse>, HandlerError> {
    let mut resp = ListTransactionsResponse::default();
    let mut states = Vec::new();
    for s in &req.state_filters {
        if TxnState::ALL.iter().any(|k| k.name() == s.as_str()) {
            states.push(s.to_string());
        } else {
            resp.unknown_state_filters.push(s.clone());
        }
    }
    // Every filter named an unknown state: nothing can match.
    if !req.state_filters.is_empty() && states.is_empty() {
        return Ok(Some(resp));
    }
    let producer_ids: Vec<i64> = req.producer_id_filters.iter().map(|p| p.0).collect();
    let duration = if ctx.version() >= 1 { req.duration_filter } else { -1 };
    for d in ctx.broker.transactions.list(&states, &producer_ids, duration) {
        let mut s = TransactionState::default();
        s.transactional_id = TransactionalId(str_bytes(d.transactional_id));
        s.producer_id = ProducerId(d.producer_id);
        s.transaction_state = str_bytes(d.state.name());
        resp.transaction_states.push(s);
    }
    Ok(Some(resp))
}
