//! A tiny HTTP/1.1 client over `TcpStream`, enough for a load generator on loopback.
//!
//! One request per connection (`Connection: close`), so there is no pooling and
//! no pipelining to get wrong. The response body is exposed as a [`Read`] that
//! undoes chunked transfer encoding as bytes arrive, so a Server-Sent Events
//! stream can be timed token by token. Each call runs on the caller's thread;
//! the workloads run one thread per simultaneous request.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// A request to send: method, path, extra headers and body.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'a str, String)>,
    pub body: &'a [u8],
}

/// Status and headers of a response, with its body still to be read.
pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Body<BufReader<TcpStream>>,
}

impl Response {
    /// The first header named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Reads the whole body as (lossy) UTF-8.
    pub fn text(mut self) -> Result<String> {
        let mut bytes = Vec::new();
        self.body
            .read_to_end(&mut bytes)
            .context("cannot read the response body")?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Sends `req` to `addr` and reads the status line and headers.
///
/// `timeout` bounds the connect and every single read or write, not the whole
/// exchange: a stream that keeps producing tokens is never cut off.
pub fn send(addr: SocketAddr, req: &Request<'_>, timeout: Duration) -> Result<Response> {
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        req.method,
        req.path,
        req.body.len()
    );
    for (name, value) in &req.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut writer = &stream;
    writer.write_all(head.as_bytes())?;
    writer.write_all(req.body)?;
    writer.flush()?;

    let mut reader = BufReader::new(stream);
    let (status, headers) = read_head(&mut reader)
        .with_context(|| format!("bad response to {} {}", req.method, req.path))?;
    let framing = Framing::from_headers(&headers)?;
    Ok(Response {
        status,
        headers,
        body: Body::new(reader, framing),
    })
}

/// Reads a status line and headers; header names are lower-cased.
fn read_head(reader: &mut impl BufRead) -> Result<(u16, Vec<(String, String)>)> {
    let status_line = read_line(reader)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1.x status line: {status_line:?}");
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status code in {status_line:?}"))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("malformed header line {line:?}"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok((status, headers))
}

/// One CRLF- (or LF-) terminated line without its terminator.
fn read_line(reader: &mut impl BufRead) -> Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        bail!("connection closed before the end of the response head");
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// How the body's end is found.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Chunked,
    Length(u64),
    UntilClose,
}

impl Framing {
    fn from_headers(headers: &[(String, String)]) -> Result<Self> {
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v);
        if get("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked")) {
            return Ok(Self::Chunked);
        }
        match get("content-length") {
            Some(len) => Ok(Self::Length(
                len.parse()
                    .with_context(|| format!("bad Content-Length {len:?}"))?,
            )),
            None => Ok(Self::UntilClose),
        }
    }
}

/// A response body as a byte stream, with chunked encoding removed.
pub struct Body<R> {
    inner: R,
    framing: Framing,
    /// Bytes left in the current chunk (chunked) or in the body (length).
    remaining: u64,
    done: bool,
}

impl<R: BufRead> Body<R> {
    fn new(inner: R, framing: Framing) -> Self {
        let remaining = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        Self {
            inner,
            framing,
            remaining,
            done: matches!(framing, Framing::Length(0)),
        }
    }

    /// Reads the next chunk-size line; a zero size ends the body (trailers skipped).
    fn next_chunk(&mut self) -> io::Result<()> {
        let mut line = String::new();
        if self.inner.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunked body",
            ));
        }
        let size = line.trim().split(';').next().unwrap_or_default();
        let size = u64::from_str_radix(size, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size line {line:?}"),
            )
        })?;
        if size == 0 {
            // Trailer section: lines until an empty one (or EOF).
            loop {
                let mut trailer = String::new();
                if self.inner.read_line(&mut trailer)? == 0 || trailer.trim().is_empty() {
                    break;
                }
            }
            self.done = true;
        }
        self.remaining = size;
        Ok(())
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        match self.framing {
            Framing::UntilClose => self.inner.read(buf),
            Framing::Length(_) => {
                let max = buf.len().min(self.remaining as usize);
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before Content-Length bytes",
                    ));
                }
                self.remaining -= n as u64;
                self.done = self.remaining == 0;
                Ok(n)
            }
            Framing::Chunked => {
                if self.remaining == 0 {
                    self.next_chunk()?;
                    if self.done {
                        return Ok(0);
                    }
                }
                let max = buf.len().min(self.remaining as usize);
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed inside a chunk",
                    ));
                }
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    // The CRLF after the chunk data.
                    let mut crlf = String::new();
                    self.inner.read_line(&mut crlf)?;
                }
                Ok(n)
            }
        }
    }
}

/// `GET path`, returning the status (any network error is an `Err`).
pub fn get_status(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16> {
    let req = Request {
        method: "GET",
        path,
        headers: Vec::new(),
        body: b"",
    };
    let resp = send(addr, &req, timeout)?;
    let status = resp.status;
    // Drain so the server sees a clean close; errors here do not matter.
    let _ = resp.text();
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn body(raw: &[u8], framing: Framing) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Body::new(Cursor::new(raw.to_vec()), framing).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn head_is_parsed() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\nrest";
        let mut r = Cursor::new(&raw[..]);
        let (status, headers) = read_head(&mut r).unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            headers[0],
            ("content-type".into(), "text/event-stream".into())
        );
        assert_eq!(Framing::from_headers(&headers).unwrap(), Framing::Chunked);
        assert!(read_head(&mut Cursor::new(&b"SSH-2.0\r\n\r\n"[..])).is_err());
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let raw = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(body(raw, Framing::Chunked).unwrap(), b"hello, world");
        let truncated = b"5\r\nhel";
        assert!(body(truncated, Framing::Chunked).is_err());
    }

    #[test]
    fn length_and_close_bodies() {
        assert_eq!(body(b"abcdef", Framing::Length(3)).unwrap(), b"abc");
        assert!(body(b"ab", Framing::Length(3)).is_err());
        assert_eq!(body(b"abc", Framing::UntilClose).unwrap(), b"abc");
        assert_eq!(body(b"", Framing::Length(0)).unwrap(), b"");
    }
}
