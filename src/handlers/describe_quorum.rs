//! DescribeQuorum (KIP-595/KIP-836/KIP-853): the metadata quorum's leader,
//! epoch, high watermark, and each voter's and observer's progress, as the
//! active controller knows it (brokers forward this request there). Read by
//! `kafka-metadata-quorum describe --status / --replication`.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_quorum_response::{Listener, Node, PartitionData, ReplicaState, TopicData};
use kafka_protocol::messages::{BrokerId, DescribeQuorumRequest, DescribeQuorumResponse};

use super::{str_bytes, HandlerError, RequestContext};
use crate::metadata::raft;

/// Kafka's name for the metadata log's topic.
const METADATA_TOPIC: &str = "__cluster_metadata";

pub async fn handle(
    ctx: &RequestContext,
    req: DescribeQuorumRequest,
) -> Result<Option<DescribeQuorumResponse>, HandlerError> {
    let broker = &ctx.broker;
    let version = ctx.version();
    let info = broker.raft.quorum_info();
    let mut resp = DescribeQuorumResponse::default();
    for topic in req.topics {
        let mut t = TopicData::default();
        t.topic_name = topic.topic_name.clone();
        for p in topic.partitions {
            let mut pd = PartitionData::default();
            pd.partition_index = p.partition_index;
            if topic.topic_name.0.as_str() != METADATA_TOPIC || p.partition_index != 0 {
                pd.error_code = ResponseError::UnknownTopicOrPartition.code();
            } else if !broker.is_active_controller() {
                pd.error_code = ResponseError::NotLeaderOrFollower.code();
                if version >= 2 {
                    pd.error_message = Some(str_bytes("This node is not the leader of the metadata quorum."));
                }
            } else {
                pd.leader_id = BrokerId(info.leader_id);
                pd.leader_epoch = info.leader_epoch;
                pd.high_watermark = info.high_watermark;
                pd.current_voters = info.voters.iter().map(|r| replica(r, version)).collect();
                pd.observers = info.observers.iter().map(|r| replica(r, version)).collect();
            }
            t.partitions.push(pd);
        }
        resp.topics.push(t);
    }
    if version >= 2 {
        // The voters' controller endpoints (KIP-853), named as the first of
        // `controller.listener.names`.
        let name = broker
            .config
            .quorum
            .controller_listeners
            .first()
            .map_or_else(|| "CONTROLLER".to_string(), |l| l.name.clone());
        for (id, addr) in &broker.config.quorum.voters {
            let Some((host, port)) = addr.rsplit_once(':') else {
                continue;
            };
            let mut listener = Listener::default();
            listener.name = str_bytes(name.clone());
            listener.host = str_bytes(host.to_string());
            listener.port = port.parse().unwrap_or(0);
            let mut node = Node::default();
            node.node_id = BrokerId(*id);
            node.listeners.push(listener);
            resp.nodes.push(node);
        }
    }
    Ok(Some(resp))
}

fn replica(r: &raft::ReplicaState, version: i16) -> ReplicaState {
    let mut s = ReplicaState::default();
    s.replica_id = BrokerId(r.replica_id);
    s.log_end_offset = r.log_end_offset;
    if version >= 1 {
        s.last_fetch_timestamp = r.last_fetch_timestamp_ms;
        s.last_caught_up_timestamp = r.last_caught_up_timestamp_ms;
    }
    s
}
