//! Request bodies, read with a size limit. A body over the limit is still drained (up to
//! a bound) before the 413 goes out, so the client reads a clean answer instead of a
//! connection reset in the middle of its upload.

use axum::body::{Body, Bytes};
use futures_util::StreamExt;

use crate::error::ApiError;

/// Largest body we accept; Cinder's own limit is 112 KiB (osapi_max_request_body_size).
pub const MAX_BODY_BYTES: usize = 114_688;

/// How much of an oversized body we read and discard before answering 413.
const DRAIN_BYTES: usize = 8 << 20;

pub async fn read_limited(body: Body) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Err(ApiError::bad_request("Malformed request body"));
        };
        seen += chunk.len();
        if seen <= MAX_BODY_BYTES {
            buf.extend_from_slice(&chunk);
        } else if seen > DRAIN_BYTES {
            break;
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(ApiError::OverLimit {
            message: "Request is too large.".into(),
        });
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_up_to_the_limit_pass_and_larger_ones_are_413() {
        let ok = read_limited(Body::from(vec![b'x'; MAX_BODY_BYTES]))
            .await
            .unwrap();
        assert_eq!(ok.len(), MAX_BODY_BYTES);
        let err = read_limited(Body::from(vec![b'x'; MAX_BODY_BYTES + 1]))
            .await
            .unwrap_err();
        assert_eq!(err.status(), 413);
        let err = read_limited(Body::from(vec![b'x'; DRAIN_BYTES * 2]))
            .await
            .unwrap_err();
        assert_eq!(err.status(), 413);
        assert!(read_limited(Body::empty()).await.unwrap().is_empty());
    }
}
