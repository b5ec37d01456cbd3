//! ApiVersions: advertises exactly the `APIS` table's versions. KIP-511: a
//! client asking a newer version than we support gets a v0 response with
//! UNSUPPORTED_VERSION and our ApiVersions range, then retries.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::Encodable;

use super::{supported_versions, HandlerError, RequestContext, APIS};

pub async fn handle(
    _ctx: &RequestContext,
    _req: ApiVersionsRequest,
) -> Result<Option<ApiVersionsResponse>, HandlerError> {
    Ok(Some(response(ResponseError::try_from_code(0))))
}

fn response(error: Option<ResponseError>) -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = error.map_or(0, |e| e.code());
    resp.api_keys = APIS
        .iter()
        .filter_map(|api| {
            let range = supported_versions(*api)?;
            let mut v = ApiVersion::default();
            v.api_key = *api as i16;
            v.min_version = range.min;
            v.max_version = range.max;
            Some(v)
        })
        .collect();
    resp
}

/// The whole framed v0 reply for an ApiVersions request of an unsupported
/// version (its header is always v0).
pub fn unsupported_version_reply(correlation_id: i32) -> Bytes {
    let mut resp = response(Some(ResponseError::UnsupportedVersion));
    // KIP-511: only ApiVersions' own range is needed for the retry.
    resp.api_keys.retain(|k| k.api_key == ApiKey::ApiVersions as i16);
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    buf.put_i32(correlation_id);
    resp.encode(&mut buf, 0)
        .expect("a v0 ApiVersions response always encodes");
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    buf.freeze()
}
