//! ISR changes (KIP-497): a leader proposes an expansion when a follower
//! catches up and a shrink when one lags `replica.lag.time.max.ms`, with
//! AlterPartition to the active controller; the controller's side decides
//! with `metadata::controller::partitions` and commits the result.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_partition_request::{BrokerState, PartitionData, TopicData};
use kafka_protocol::messages::alter_partition_response::{PartitionData as PartitionResult, TopicData as TopicResult};
use kafka_protocol::messages::{AlterPartitionRequest, AlterPartitionResponse, BrokerId};
use tokio::sync::watch;

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::metadata::controller::partitions::{alter_isr, check_requester, IsrChange};
use crate::replication::partition::IsrProposal;
use crate::replication::Partition;

/// AlterPartition v3 carries each new member's broker epoch (KIP-903).
const ALTER_PARTITION_VERSION: i16 = 3;
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The active controller's side of AlterPartition: decides every
/// partition against the committed image and commits the changes at once.
pub async fn answer(broker: &Broker, req: AlterPartitionRequest) -> AlterPartitionResponse {
    let broker_id = req.broker_id.0;
    let broker_epoch = req.broker_epoch;
    let changes: Vec<IsrChange> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| IsrChange {
                topic_id: t.topic_id,
                partition: p.partition_index,
                leader_epoch: p.leader_epoch,
                partition_epoch: p.partition_epoch,
                // v3 names each member's broker epoch; v2 only ids.
                new_isr: if p.new_isr_with_epochs.is_empty() {
                    p.new_isr.iter().map(|b| (b.0, -1)).collect()
                } else {
                    p.new_isr_with_epochs
                        .iter()
                        .map(|b| (b.broker_id.0, b.broker_epoch))
                        .collect()
                },
            })
        })
        .collect();
    let decided = broker
        .decide_metadata(move |image| {
            check_requester(image, broker_id, broker_epoch).map_err(|code| {
                crate::error::ApiError::new(code, format!("broker {broker_id} epoch {broker_epoch} is stale"))
            })?;
            let mut records = Vec::new();
            let mut out = Vec::new();
            for change in &changes {
                let outcome = alter_isr(image, broker_id, change);
                if let Ok((Some(record), _)) = &outcome {
                    records.push(record.clone());
                }
                out.push((change.clone(), outcome.map(|(_, p)| p)));
            }
            Ok((records, out))
        })
        .await;
    let mut resp = AlterPartitionResponse::default();
    let results = match decided {
        Ok(results) => results,
        Err(e) => {
            resp.error_code = e.code.code();
            return resp;
        }
    };
    for (change, outcome) in results {
        if resp.topics.last().is_none_or(|t| t.topic_id != change.topic_id) {
            let mut t = TopicResult::default();
            t.topic_id = change.topic_id;
            resp.topics.push(t);
        }
        let mut p = PartitionResult::default();
        p.partition_index = change.partition;
        match outcome {
            Ok(after) => {
                p.leader_id = BrokerId(after.leader);
                p.leader_epoch = after.leader_epoch;
                p.isr = after.isr.iter().map(|&id| BrokerId(id)).collect();
                p.partition_epoch = after.partition_epoch;
            }
            Err(code) => {
                p.error_code = code.code();
                p.leader_id = BrokerId(-1);
                p.leader_epoch = -1;
                p.partition_epoch = -1;
            }
        }
        resp.topics.last_mut().expect("pushed above").partitions.push(p);
    }
    resp
}

/// Sends `proposal` for `part` to the active controller in the
/// background and hands the answer back to the partition.
pub fn propose(broker: &Arc<Broker>, part: Arc<Partition>, proposal: IsrProposal) {
    let broker = broker.clone();
    tokio::spawn(async move {
        tracing::info!(
            topic = %part.topic,
            partition = part.index,
            isr = ?proposal.new_isr,
            leader_epoch = proposal.leader_epoch,
            "proposing ISR change"
        );
        let committed = match send(&broker, &part, &proposal).await {
            Ok(committed) => Some(committed),
            Err(e) => {
                tracing::info!(topic = %part.topic, partition = part.index, error = %e, "ISR change refused");
                None
            }
        };
        part.complete_isr_change(committed);
    });
}

async fn send(broker: &Broker, part: &Partition, proposal: &IsrProposal) -> Result<(Vec<i32>, i32, i32), String> {
    let image = broker.metadata.image();
    let mut req = AlterPartitionRequest::default();
    req.broker_id = BrokerId(broker.config.node_id);
    req.broker_epoch = broker.registration_epoch();
    let mut t = TopicData::default();
    t.topic_id = part.topic_id;
    let mut p = PartitionData::default();
    p.partition_index = part.index;
    p.leader_epoch = proposal.leader_epoch;
    p.partition_epoch = proposal.partition_epoch;
    p.new_isr_with_epochs = proposal
        .new_isr
        .iter()
        .map(|&id| {
            let mut b = BrokerState::default();
            b.broker_id = BrokerId(id);
            b.broker_epoch = image.brokers.get(&id).map_or(-1, |b| b.epoch);
            b
        })
        .collect();
    t.partitions.push(p);
    req.topics.push(t);
    let resp = match broker.controller_channel() {
        None => answer(broker, req).await,
        Some(channel) => channel
            .call(
                &req,
                ALTER_PARTITION_VERSION,
                |r: &AlterPartitionResponse| r.error_code == ResponseError::NotController.code(),
                tokio::time::Instant::now() + CALL_TIMEOUT,
            )
            .await
            .map_err(|e| e.to_string())?,
    };
    if resp.error_code != 0 {
        return Err(format!("error {}", resp.error_code));
    }
    let p = resp
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| "empty AlterPartition response".to_string())?;
    if p.error_code != 0 {
        return Err(format!(
            "{:?}",
            ResponseError::try_from_code(p.error_code).unwrap_or(ResponseError::UnknownServerError)
        ));
    }
    Ok((p.isr.iter().map(|b| b.0).collect(), p.leader_epoch, p.partition_epoch))
}

/// Every `replica.lag.time.max.ms / 2`, proposes to drop the followers
/// that have not caught up within `replica.lag.time.max.ms` (Kafka's
/// isr-expiration task).
pub async fn shrink_task(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let lag_ms = broker.config.replication.lag_time_max_ms;
    let mut tick = tokio::time::interval(Duration::from_millis((lag_ms / 2).max(10) as u64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = now_ms();
        for part in broker.replicas.all() {
            if let Some(proposal) = part.isr_shrink_proposal(now, lag_ms) {
                propose(&broker, part, proposal);
            }
        }
    }
}
