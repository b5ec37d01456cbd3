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
    resp.controller_id = BrokerId(broker.config.node_id);
    let l = broker.config.advertised_for(&ctx.listener);
    let mut b = DescribeClusterBroker::default();
    b.broker_id = BrokerId(broker.config.node_id);
    b.host = str_bytes(l.host.clone());
    b.port = l.port as i32;
    resp.brokers = vec![b];
    Ok(Some(resp))
}
