//! One client connection: read a frame, decode header and body with
//! kafka-protocol, route it, write the response. Requests on a connection
//! are answered strictly in order, one at a time, as Kafka does.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tracing::Instrument;

use crate::broker::Broker;
use crate::error::ConnectionError;
use crate::frame::read_frame;
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
                    if let Err(e) = w.write_all(&resp).await {
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
    frame: bytes::Bytes,
    listener: &str,
    peer: SocketAddr,
) -> Result<Option<BytesMut>, ConnectionError> {
    let (api_key, version, correlation_id, header, body) = match decode_request(frame)? {
        Decoded::Request { api_key, version, correlation_id, header, body } => {
            (api_key, version, correlation_id, header, body)
        }
        Decoded::NewerApiVersions { correlation_id, version } => {
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
    };
    let ctx =
        RequestContext { broker: broker.clone(), api_version: version, header, listener: listener.to_string(), peer };
    tracing::trace!(api = ?api_key, version, correlation_id, "request");
    let started = std::time::Instant::now();
    let resp = handlers::dispatch(&ctx, body).await;
    broker.metrics.record_request(handlers::api_name(api_key).unwrap_or("Other"), started.elapsed());
    let Some(resp) = resp? else {
        return Ok(None);
    };
    encode(api_key, version, correlation_id, &resp).map(Some)
}

/// A request frame after decoding. Not boxed: the small variant is rare
/// and the value lives only until dispatch.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Decoded {
    Request {
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
        header: RequestHeader,
        body: RequestKind,
    },
    /// ApiVersions at a version we do not serve: answered without decoding.
    NewerApiVersions {
        correlation_id: i32,
        version: i16,
    },
}

/// Parse one request frame (header + body), exactly as `serve` does. Any
/// byte string is either decoded or rejected with `ConnectionError`; this
/// is the entry point of the `request_frame` fuzz target.
pub fn decode_request(mut frame: bytes::Bytes) -> Result<Decoded, ConnectionError> {
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
            return Ok(Decoded::NewerApiVersions { correlation_id, version });
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
    Ok(Decoded::Request { api_key, version, correlation_id, header, body })
}

/// Kafka's request names (RequestMetrics' `request` tag).
/// The whole response frame: size prefix, header, body, in one buffer
/// sized up front (a fetch answer is megabytes; growing it by doubling
/// would copy it several times, and a separate 4-byte write would go out
/// as its own packet).
fn encode(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &kafka_protocol::messages::ResponseKind,
) -> Result<BytesMut, ConnectionError> {
    use kafka_protocol::messages::ResponseKind;
    let body_size = match body {
        ResponseKind::Fetch(f) => f.compute_size(version).unwrap_or(0),
        _ => 0,
    };
    let mut buf = BytesMut::with_capacity(64 + body_size);
    buf.extend_from_slice(&[0; 4]);
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    // ApiVersions responses always use header v0 (kafka-protocol knows).
    header
        .encode(&mut buf, api_key.response_header_version(version))
        .map_err(|e| ConnectionError::Encode(e.to_string()))?;
    body.encode(&mut buf, version).map_err(|e| ConnectionError::Encode(format!("{api_key:?} v{version}: {e}")))?;
    let len = i32::try_from(buf.len() - 4).map_err(|_| ConnectionError::Encode("response over 2 GiB".into()))?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::protocol::StrBytes;
    use proptest::prelude::*;

    use super::*;

    /// A valid frame for `req` at `version`, header included.
    fn frame<R: Encodable + kafka_protocol::protocol::Request>(req: &R, version: i16) -> Vec<u8> {
        let mut h = RequestHeader::default();
        h.request_api_key = R::KEY;
        h.request_api_version = version;
        h.correlation_id = 7;
        h.client_id = Some(StrBytes::from_static_str("prop"));
        let mut buf = BytesMut::new();
        h.encode(&mut buf, R::header_version(version)).expect("header");
        req.encode(&mut buf, version).expect("body");
        buf.to_vec()
    }

    fn seeds() -> Vec<Vec<u8>> {
        use kafka_protocol::messages::*;
        let mut md = MetadataRequest::default();
        md.topics = Some(vec![Default::default()]);
        let mut produce = ProduceRequest::default();
        produce.topic_data.push(Default::default());
        vec![
            frame(&ApiVersionsRequest::default(), 3),
            frame(&md, 12),
            frame(&md, 4),
            frame(&produce, 9),
            frame(&FetchRequest::default(), 12),
            frame(&JoinGroupRequest::default(), 7),
            frame(&CreateTopicsRequest::default(), 7),
        ]
    }

    #[test]
    fn seeds_decode() {
        for s in seeds() {
            assert!(matches!(decode_request(Bytes::from(s)), Ok(Decoded::Request { .. })));
        }
    }

    /// Found by the request_frame fuzz target: DescribeGroups v0 whose
    /// group array claims 81 million entries in a 14-byte frame. It must be
    /// rejected (kafka-protocol pre-allocates ~2.6 GB for it first; the
    /// global allocator makes that a lazy mapping instead of an abort).
    #[test]
    fn huge_array_count_in_tiny_frame_is_rejected() {
        let frame = Bytes::from_static(&[0, 15, 0, 0, 0, 0, 13, 0, 0, 0, 4, 219, 0, 0]);
        assert!(matches!(decode_request(frame), Err(ConnectionError::Malformed(_))));
        // Metadata v0 with i32::MAX topics.
        let frame = Bytes::from_static(&[0, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(decode_request(frame), Err(ConnectionError::Malformed(_))));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = decode_request(Bytes::from(data));
        }

        /// A served api key and version, then garbage: reaches the body
        /// decoders rather than stopping at the version check.
        #[test]
        fn served_header_then_garbage_never_panics(
            idx in 0..handlers::SUPPORTED.len(),
            v in 0i16..20,
            tail in proptest::collection::vec(any::<u8>(), 0..2048),
        ) {
            let (key, min, max) = handlers::SUPPORTED[idx];
            let version = min + v % (max - min + 1);
            let mut data = Vec::with_capacity(8 + tail.len());
            data.extend_from_slice(&(key as i16).to_be_bytes());
            data.extend_from_slice(&version.to_be_bytes());
            data.extend_from_slice(&1i32.to_be_bytes());
            data.extend_from_slice(&tail);
            let _ = decode_request(Bytes::from(data));
        }

        /// Valid requests with bytes flipped and the end cut off.
        #[test]
        fn mutated_valid_requests_never_panic(
            which in 0usize..7,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
            cut in any::<usize>(),
        ) {
            let mut data = seeds().swap_remove(which);
            for (at, b) in flips {
                let n = data.len();
                data[at % n] = b;
            }
            let keep = data.len() - cut % (data.len() - 7);
            data.truncate(keep.max(8));
            let _ = decode_request(Bytes::from(data));
        }
    }
}
