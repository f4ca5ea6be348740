//! The runner protocol: what the server and a runner process say to each other
//! over their Unix socket.
//!
//! Each frame is a big-endian `u32` length followed by that many bytes of JSON.
//! The runner's first frame is [`FromRunner::Hello`] with [`PROTOCOL_VERSION`],
//! sent once its model is loaded. Requests carry an id chosen by the server;
//! every answer names it. A generation answers [`FromRunner::Accepted`] (or
//! [`FromRunner::Error`]), then events, the last being `Done` or an `Error`. The
//! server sends [`ToRunner::Cancel`] when its consumer drops the stream.

use hearth_core::backend::{
    BackendError, EmbedRequest, EmbedResponse, GenerateRequest, GenerationEvent, Prompt,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Version of this protocol; the server refuses a runner speaking another.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame either side accepts (an embedding batch fits easily).
pub const MAX_FRAME_BYTES: u32 = 64 * 1024 * 1024;

/// Request id, unique per connection.
pub type RequestId = u64;

/// Frames from the server to a runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToRunner {
    /// Start a generation.
    Generate {
        /// Request id.
        id: RequestId,
        /// The request (its `model` is the runner's model); boxed, as it is
        /// far larger than the other frames.
        request: Box<GenerateRequest>,
    },
    /// Stop a generation; no more frames for it are wanted.
    Cancel {
        /// Request id.
        id: RequestId,
    },
    /// Count the tokens of a prompt.
    CountTokens {
        /// Request id.
        id: RequestId,
        /// The prompt.
        prompt: Prompt,
    },
    /// Embed texts.
    Embed {
        /// Request id.
        id: RequestId,
        /// The request.
        request: EmbedRequest,
    },
    /// Liveness check.
    Ping {
        /// Request id.
        id: RequestId,
    },
}

/// Frames from a runner to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromRunner {
    /// First frame: the model is loaded and requests may come.
    Hello {
        /// [`PROTOCOL_VERSION`] of the runner.
        version: u32,
        /// The model it serves.
        model: String,
        /// The runner's process id.
        pid: u32,
    },
    /// A generation was admitted; events follow.
    Accepted {
        /// Request id.
        id: RequestId,
    },
    /// One generation event.
    Event {
        /// Request id.
        id: RequestId,
        /// The event.
        event: GenerationEvent,
    },
    /// The request failed (before or during a generation); nothing follows.
    Error {
        /// Request id.
        id: RequestId,
        /// Why.
        error: BackendError,
    },
    /// Answer to [`ToRunner::CountTokens`].
    Tokens {
        /// Request id.
        id: RequestId,
        /// Token count.
        count: u32,
    },
    /// Answer to [`ToRunner::Embed`].
    Embedded {
        /// Request id.
        id: RequestId,
        /// The vectors.
        response: EmbedResponse,
    },
    /// Answer to [`ToRunner::Ping`].
    Pong {
        /// Request id.
        id: RequestId,
    },
}

/// A framing or encoding failure; the connection is unusable afterwards.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    /// A frame announced more than [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME_BYTES}")]
    TooLarge(u32),
    /// Reading or writing failed (including a close in the middle of a frame).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The frame is not valid JSON for the expected type.
    #[error("invalid frame: {0}")]
    Json(#[from] serde_json::Error),
}

/// Write one frame.
pub async fn write_frame<W, T>(writer: &mut W, frame: &T) -> Result<(), FrameError>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let body = serde_json::to_vec(frame)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|n| *n <= MAX_FRAME_BYTES)
        .ok_or(FrameError::TooLarge(u32::MAX))?;
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&body);
    writer.write_all(&buf).await?;
    writer.flush().await?;
    Ok(())
}

/// Read one frame. A close before the first byte is [`FrameError::Closed`]; a
/// close inside a frame is an i/o error. Not cancel-safe: keep one reader task.
pub async fn read_frame<R, T>(reader: &mut R) -> Result<T, FrameError>
where
    R: AsyncRead + Unpin,
    T: for<'de> Deserialize<'de>,
{
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = reader.read(&mut len[got..]).await?;
        if n == 0 {
            return Err(if got == 0 {
                FrameError::Closed
            } else {
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into()
            });
        }
        got += n;
    }
    let len = u32::from_be_bytes(len);
    if len > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0u8; len as usize];
    reader.read_exact(&mut body).await?;
    Ok(serde_json::from_slice(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::backend::{FinishReason, GenerationStats};

    #[tokio::test]
    async fn frames_round_trip() {
        let frames = vec![
            FromRunner::Hello {
                version: PROTOCOL_VERSION,
                model: "m".into(),
                pid: 7,
            },
            FromRunner::Event {
                id: 3,
                event: GenerationEvent::Done {
                    finish_reason: FinishReason::Length,
                    stats: GenerationStats::default(),
                },
            },
            FromRunner::Error {
                id: 4,
                error: BackendError::Overloaded {
                    retry_after_secs: 2,
                },
            },
        ];
        let mut buf = Vec::new();
        for f in &frames {
            write_frame(&mut buf, f).await.unwrap();
        }
        let mut reader = &buf[..];
        for f in &frames {
            let got: FromRunner = read_frame(&mut reader).await.unwrap();
            assert_eq!(&got, f);
        }
        assert!(matches!(
            read_frame::<_, FromRunner>(&mut reader).await,
            Err(FrameError::Closed)
        ));
    }

    #[tokio::test]
    async fn partial_reads_assemble_a_frame() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &ToRunner::Ping { id: 42 })
            .await
            .unwrap();
        // One byte at a time, with pauses, through a duplex pipe.
        let (mut client, mut server) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move {
            for b in buf {
                client.write_all(&[b]).await.unwrap();
                tokio::task::yield_now().await;
            }
            client
        });
        let got: ToRunner = read_frame(&mut server).await.unwrap();
        assert_eq!(got, ToRunner::Ping { id: 42 });
        drop(writer.await.unwrap());
        assert!(matches!(
            read_frame::<_, ToRunner>(&mut server).await,
            Err(FrameError::Closed)
        ));
    }

    #[tokio::test]
    async fn close_inside_a_frame_is_an_error_not_a_clean_close() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &ToRunner::Ping { id: 1 })
            .await
            .unwrap();
        for cut in [2, 6] {
            let mut reader = &buf[..cut];
            assert!(matches!(
                read_frame::<_, ToRunner>(&mut reader).await,
                Err(FrameError::Io(_))
            ));
        }
    }

    #[tokio::test]
    async fn oversize_frame_is_rejected_before_reading_it() {
        let mut buf = (MAX_FRAME_BYTES + 1).to_be_bytes().to_vec();
        buf.extend_from_slice(b"{}");
        let mut reader = &buf[..];
        assert!(matches!(
            read_frame::<_, ToRunner>(&mut reader).await,
            Err(FrameError::TooLarge(n)) if n == MAX_FRAME_BYTES + 1
        ));
    }

    #[tokio::test]
    async fn invalid_json_is_an_error() {
        let mut buf = 3u32.to_be_bytes().to_vec();
        buf.extend_from_slice(b"{x}");
        let mut reader = &buf[..];
        assert!(matches!(
            read_frame::<_, ToRunner>(&mut reader).await,
            Err(FrameError::Json(_))
        ));
    }
}
