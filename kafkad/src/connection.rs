//! One client connection: read a frame, decode header and body with
//! kafka-protocol, route it, write the response. Requests on a connection
//! are answered strictly in order, one at a time, as Kafka does.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tracing::Instrument;

use crate::broker::Broker;
use crate::error::ConnectionError;
use crate::frame::{read_frame, write_frame};
use crate::handlers;

/// What a handler sees about the request besides its body.
pub struct RequestContext {
    pub broker: Arc<Broker>,
    pub api_version: i16,
    pub header: RequestHeader,
    /// Listener name the client connected on; Metadata answers with this
    /// listener's advertised addresses.
    pub listener: String,
    pub peer: SocketAddr,
}

pub async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    listener: String,
    mut shutdown: shared::shutdown::ShutdownSignal,
) {
    let span = tracing::info_span!("conn", %peer, listener = %listener);
    async move {
        let _ = stream.set_nodelay(true);
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::with_capacity(64 * 1024, r);
        let max = broker.config.socket_request_max_bytes;
        loop {
            let frame = tokio::select! {
                f = read_frame(&mut r, max) => f,
                _ = shutdown.recv() => break,
            };
            let frame = match frame {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "closing connection");
                    break;
                }
            };
            match handle_frame(&broker, frame, &listener, peer).await {
                Ok(Some(resp)) => {
                    if let Err(e) = write_frame(&mut w, &resp).await {
                        tracing::debug!(error = %e, "write failed");
                        break;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "closing connection");
                    break;
                }
            }
        }
        tracing::debug!("connection closed");
    }
    .instrument(span)
    .await
}

/// Decode, dispatch and encode one request. `Ok(None)`: no response is
/// due (Produce with acks=0).
async fn handle_frame(
    broker: &Arc<Broker>,
    mut frame: bytes::Bytes,
    listener: &str,
    peer: SocketAddr,
) -> Result<Option<BytesMut>, ConnectionError> {
    if frame.len() < 8 {
        return Err(ConnectionError::Malformed("request shorter than its header".into()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api_key =
        ApiKey::try_from(raw_key).map_err(|_| ConnectionError::UnsupportedVersion { api_key: raw_key, version })?;
    let Some((min, max)) = handlers::supported_range(api_key) else {
        return Err(ConnectionError::UnsupportedVersion { api_key: raw_key, version });
    };
    if version < min || version > max {
        if api_key == ApiKey::ApiVersions {
            // A newer client than us: kafka-protocol cannot decode unknown
            // ApiVersions versions, so answer without decoding, with a v0
            // body carrying UNSUPPORTED_VERSION and our ranges; the client
            // retries with a version we listed.
            tracing::debug!(version, "ApiVersions version unsupported; answering v0 with error 35");
            let body = handlers::api_versions::response(kafka_protocol::ResponseError::UnsupportedVersion.code());
            return encode(
                ApiKey::ApiVersions,
                0,
                correlation_id,
                &kafka_protocol::messages::ResponseKind::ApiVersions(body),
            )
            .map(Some);
        }
        return Err(ConnectionError::UnsupportedVersion { api_key: raw_key, version });
    }
    let header_version = api_key.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version)
        .map_err(|e| ConnectionError::Malformed(format!("header: {e}")))?;
    let body = RequestKind::decode(api_key, &mut frame, version)
        .map_err(|e| ConnectionError::Malformed(format!("{api_key:?} v{version}: {e}")))?;
    if frame.has_remaining() {
        tracing::debug!(api = ?api_key, extra = frame.remaining(), "trailing bytes after request body ignored");
    }
    let ctx =
        RequestContext { broker: broker.clone(), api_version: version, header, listener: listener.to_string(), peer };
    tracing::trace!(api = ?api_key, version, correlation_id, "request");
    let Some(resp) = handlers::dispatch(&ctx, body).await? else {
        return Ok(None);
    };
    encode(api_key, version, correlation_id, &resp).map(Some)
}

fn encode(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &kafka_protocol::messages::ResponseKind,
) -> Result<BytesMut, ConnectionError> {
    let mut buf = BytesMut::new();
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    // ApiVersions responses always use header v0 (kafka-protocol knows).
    header
        .encode(&mut buf, api_key.response_header_version(version))
        .map_err(|e| ConnectionError::Encode(e.to_string()))?;
    body.encode(&mut buf, version).map_err(|e| ConnectionError::Encode(format!("{api_key:?} v{version}: {e}")))?;
    Ok(buf)
}
