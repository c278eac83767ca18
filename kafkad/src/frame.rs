//! Kafka framing: a 4-byte big-endian size, then that many bytes. Responses
//! are framed where they are encoded (connection::encode), in one buffer.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::ConnectionError;

/// Read one request frame. `Ok(None)` on a clean EOF between frames. A size
/// that is negative or above `max` (socket.request.max.bytes) is an error:
/// the caller closes the connection without reading the body, as Kafka does.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: i32) -> Result<Option<Bytes>, ConnectionError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let size = i32::from_be_bytes(len);
    if size < 0 || size > max {
        return Err(ConnectionError::FrameSize { size: size as i64, max });
    }
    let mut buf = BytesMut::zeroed(size as usize);
    r.read_exact(&mut buf).await?;
    Ok(Some(buf.freeze()))
}
