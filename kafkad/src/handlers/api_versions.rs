//! ApiVersions (18): the served ranges from the route table.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, ResponseKind};

use super::{HandlerResult, SUPPORTED};
use crate::connection::RequestContext;

pub fn response(error_code: i16) -> ApiVersionsResponse {
    let mut r = ApiVersionsResponse::default();
    r.error_code = error_code;
    r.api_keys = SUPPORTED
        .iter()
        .map(|(k, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = *k as i16;
            v.min_version = *min;
            v.max_version = *max;
            v
        })
        .collect();
    r
}

pub async fn handle(_ctx: &RequestContext, _req: ApiVersionsRequest) -> HandlerResult {
    Ok(Some(ResponseKind::ApiVersions(response(0))))
}
