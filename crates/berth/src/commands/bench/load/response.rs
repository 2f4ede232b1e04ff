//! Reading one HTTP/1.1 response off a keep-alive connection, doing only what a load generator
//! needs: the status code, `Content-Length` framing, and the body read to its end.
//!
//! The load generator shares the machine's cores with the server it measures, so every cycle it
//! spends is taken from the server. A general HTTP client (hyper) builds a header map, a body
//! stream and several tasks per connection; this reader keeps one buffer per connection and reads
//! a response in one or two `read` calls. It refuses what it does not understand (chunked
//! encoding, a missing length) instead of guessing: Berth's answers always carry a length.

use anyhow::{Context, bail};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest response head accepted; Berth's are a few hundred bytes.
const MAX_HEAD: usize = 16 * 1024;

/// A connection's receive buffer.
pub(super) struct ResponseReader {
    buf: Vec<u8>,
    filled: usize,
}

/// Where the head of a response ends and what it says.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    /// Bytes of the status line and headers, including the blank line.
    len: usize,
    content_length: usize,
}

impl ResponseReader {
    /// A reader with room for a typical response without growing.
    pub(super) fn new() -> Self {
        ResponseReader { buf: vec![0; 64 * 1024], filled: 0 }
    }

    /// Reads the next whole response from `io` and returns its status code.
    pub(super) async fn read<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> anyhow::Result<u16> {
        let head = loop {
            if let Some(head) = parse_head(&self.buf[..self.filled])? {
                break head;
            }
            if self.filled >= MAX_HEAD {
                bail!("the response head is longer than {MAX_HEAD} bytes");
            }
            self.fill(io).await?;
        };
        let total = head.len.checked_add(head.content_length).context("the response length overflows")?;
        if self.buf.len() < total {
            self.buf.resize(total, 0);
        }
        while self.filled < total {
            self.fill(io).await?;
        }
        // Requests are not pipelined, so normally nothing follows; whatever did starts the next
        // response and is kept for it.
        self.buf.copy_within(total..self.filled, 0);
        self.filled -= total;
        Ok(head.status)
    }

    async fn fill<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> anyhow::Result<()> {
        let read = io.read(&mut self.buf[self.filled..]).await.context("failed to read a response")?;
        if read == 0 {
            bail!("the server closed the connection mid-response");
        }
        self.filled += read;
        Ok(())
    }
}

/// Parses the head at the start of `buf`, or `None` if its blank line has not arrived yet.
fn parse_head(buf: &[u8]) -> anyhow::Result<Option<Head>> {
    let Some(end) = buf.windows(4).position(|window| window == b"\r\n\r\n") else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).context("the response head is not text")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| format!("not an HTTP/1 status line: {status_line:?}"))?;
    let mut content_length = None;
    for line in lines {
        let (name, value) = line.split_once(':').with_context(|| format!("malformed header {line:?}"))?;
        if name.eq_ignore_ascii_case("content-length") {
            let value = value.trim();
            content_length = Some(value.parse().with_context(|| format!("bad Content-Length {value:?}"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!(
                "the response uses Transfer-Encoding {:?}, which the load generator does not read",
                value.trim()
            );
        }
    }
    let content_length = content_length.context("the response has no Content-Length")?;
    Ok(Some(Head { status, len: end + 4, content_length }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: 2\r\n\r\n{}";

    #[test]
    fn a_head_gives_status_length_and_size() {
        let head = parse_head(OK).unwrap().unwrap();
        assert_eq!(head, Head { status: 200, len: OK.len() - 2, content_length: 2 });
        let error = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 17\r\n\r\n";
        assert_eq!(parse_head(error).unwrap().unwrap().status, 400);
    }

    #[test]
    fn an_incomplete_head_waits_for_more() {
        assert_eq!(parse_head(&OK[..20]).unwrap(), None);
    }

    #[test]
    fn framing_it_cannot_follow_is_an_error() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nx: y\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: two\r\n\r\n",
            b"SSH-2.0 hello\r\n\r\n",
        ] {
            assert!(parse_head(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[tokio::test]
    async fn responses_are_read_whole_across_reads() {
        // Two responses, delivered in small pieces that split heads and bodies.
        let (mut client, mut server) = tokio::io::duplex(7);
        let body = vec![b'x'; 100_000];
        let big = [&b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"[..], &body].concat();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            server.write_all(OK).await.unwrap();
            server.write_all(&big).await.unwrap();
            server.write_all(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n").await.unwrap();
        });
        let mut reader = ResponseReader::new();
        assert_eq!(reader.read(&mut client).await.unwrap(), 200);
        assert_eq!(reader.read(&mut client).await.unwrap(), 200);
        assert_eq!(reader.read(&mut client).await.unwrap(), 503);
        writer.await.unwrap();
        assert!(reader.read(&mut client).await.is_err(), "a closed connection is an error");
    }
}
