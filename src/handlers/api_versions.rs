//! ApiVersions: advertises exactly the `APIS` table's versions. KIP-511: a
//! client asking a newer version than we support gets a v0 response with
//! UNSUPPORTED_VERSION and our ApiVersions range, then retries.
//!
//! v3+ also carries the features (KIP-584, what `Admin.describeFeatures` and
//! `kafka-features describe` read): the supported ranges from the catalogue
//! in `metadata::features` (why each level is what it is is written there),
//! the levels finalized in the published image and, as the finalized epoch,
//! that image's metadata log index (Kafka uses the metadata offset too; the
//! Java client keeps the finalized features of the node with the highest
//! epoch, so it must grow as the log does).

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::{ApiVersion, FinalizedFeatureKey, SupportedFeatureKey};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::{controller_only, supported_versions, HandlerError, RequestContext, APIS};
use crate::metadata::features::FEATURES;

pub async fn handle(
    ctx: &RequestContext,
    _req: ApiVersionsRequest,
) -> Result<Option<ApiVersionsResponse>, HandlerError> {
    let mut resp = response(ResponseError::try_from_code(0));
    if !ctx.from_controller_listener {
        resp.api_keys
            .retain(|k| ApiKey::try_from(k.api_key).is_ok_and(|api| !controller_only(api)));
    }
    if ctx.version() >= 3 {
        // KAFKA-17492: clients that ask below v4 may fail to parse a
        // supported range starting at 0, so Kafka leaves those features out.
        let omit_min_0 = ctx.version() < 4;
        resp.supported_features = FEATURES
            .iter()
            .filter(|f| !(omit_min_0 && f.min == 0))
            .map(|f| {
                let mut key = SupportedFeatureKey::default();
                key.name = StrBytes::from_static_str(f.name);
                key.min_version = f.min;
                key.max_version = f.max;
                key
            })
            .collect();
        let (image, applied_index) = ctx.broker.metadata.published();
        // As Kafka: a feature at level 0 is not finalized.
        resp.finalized_features = image
            .features
            .iter()
            .filter(|(_, &level)| level != 0)
            .map(|(name, &level)| {
                let mut key = FinalizedFeatureKey::default();
                key.name = StrBytes::from_string(name.clone());
                key.min_version_level = level;
                key.max_version_level = level;
                key
            })
            .collect();
        resp.finalized_features_epoch = i64::try_from(applied_index).unwrap_or(i64::MAX);
    }
    Ok(Some(resp))
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
