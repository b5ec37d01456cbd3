//! DescribeCluster: the cluster id, controller and brokers (AdminClient's
//! describeCluster).

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};

use super::{str_bytes, HandlerError, RequestContext};

pub async fn handle(
    ctx: &RequestContext,
    req: DescribeClusterRequest,
) -> Result<Option<DescribeClusterResponse>, HandlerError> {
    let broker = &ctx.broker;
    let mut resp = DescribeClusterResponse::default();
    if ctx.version() >= 1 {
        resp.endpoint_type = req.endpoint_type;
    }
    resp.cluster_id = str_bytes(broker.cluster_id.clone());
    let image = broker.metadata.image();
    resp.controller_id = BrokerId(super::metadata::controller_id(broker, &image));
    resp.brokers = super::metadata::brokers(&image, &ctx.listener)
        .into_iter()
        .map(|m| {
            let mut b = DescribeClusterBroker::default();
            b.broker_id = m.node_id;
            b.host = m.host;
            b.port = m.port;
            b.rack = m.rack;
            b
        })
        .collect();
    Ok(Some(resp))
}
