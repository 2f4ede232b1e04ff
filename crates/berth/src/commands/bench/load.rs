//! A closed-loop HTTP load generator: N keep-alive connections, each sending its next request as
//! soon as the last one is answered, recording every latency.
//!
//! It is built to take as little CPU as it can from the server it measures, the way wrk is: HTTP/1.1
//! written by hand into one buffer per connection, one `write` per request, and responses read by
//! [`response::ResponseReader`] for their status and length only. Latency is measured from the
//! request's write to the last byte of its response.

mod response;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use response::ResponseReader;

/// A SigV4 header of the shape SDKs send, so the server does its region parsing as in real use.
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0";

/// Makes the operation name and JSON body of the request with the given sequence number.
pub type RequestMaker = Arc<dyn Fn(u64) -> (&'static str, Bytes) + Send + Sync>;

/// What one load run measured.
pub struct LoadResult {
    /// Requests answered with 200.
    pub ok: u64,
    /// Requests answered with any other status.
    pub errors: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Latency of every request, sorted, in microseconds.
    pub latencies_us: Vec<u32>,
}

impl LoadResult {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency below which `p` percent of requests finished, in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        f64::from(self.latencies_us[rank]) / 1000.0
    }
}

/// Sends `total` requests over `connections` connections to `addr`, from a thread of its own.
///
/// The load generator runs on one dedicated single-threaded runtime: on a small machine, client
/// worker threads competing with the server's for the same cores would add scheduling delays to
/// the very latencies being measured.
pub async fn drive(
    addr: SocketAddr,
    connections: usize,
    total: u64,
    make: RequestMaker,
) -> anyhow::Result<LoadResult> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name("bench-load".into()).spawn(move || {
        let outcome = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| runtime.block_on(drive_here(addr, connections, total, make)));
        let _ = done.send(outcome);
    })?;
    result.await.context("the load thread died")?
}

async fn drive_here(
    addr: SocketAddr,
    connections: usize,
    total: u64,
    make: RequestMaker,
) -> anyhow::Result<LoadResult> {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections {
        workers.push(tokio::spawn(connection(addr, total, next.clone(), make.clone())));
    }
    let (mut ok, mut errors, mut latencies_us) = (0, 0, Vec::with_capacity(total as usize));
    for worker in workers {
        let (worker_ok, worker_errors, worker_latencies) = worker.await.context("load worker panicked")??;
        ok += worker_ok;
        errors += worker_errors;
        latencies_us.extend(worker_latencies);
    }
    let elapsed = start.elapsed();
    latencies_us.sort_unstable();
    Ok(LoadResult { ok, errors, elapsed, latencies_us })
}

async fn connection(
    addr: SocketAddr,
    total: u64,
    next: Arc<AtomicU64>,
    make: RequestMaker,
) -> anyhow::Result<(u64, u64, Vec<u32>)> {
    let mut stream =
        TcpStream::connect(addr).await.with_context(|| format!("failed to connect to {addr}"))?;
    stream.set_nodelay(true)?;
    let mut requests = RequestWriter::new(addr);
    let mut responses = ResponseReader::new();
    let (mut ok, mut errors, mut latencies) = (0u64, 0u64, Vec::new());
    loop {
        let sequence = next.fetch_add(1, Ordering::Relaxed);
        if sequence >= total {
            return Ok((ok, errors, latencies));
        }
        let (operation, body) = make(sequence);
        let request = requests.request(operation, &body);
        let sent = Instant::now();
        stream.write_all(request).await.context("failed to send a request")?;
        let status = responses.read(&mut stream).await?;
        latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
        if status == 200 {
            ok += 1;
        } else {
            errors += 1;
        }
    }
}

/// Serialises requests of a connection into one reused buffer, so each goes out in one `write`.
struct RequestWriter {
    host: String,
    /// The head of each operation's requests up to the `Content-Length` value, made once.
    heads: Vec<(&'static str, Vec<u8>)>,
    out: Vec<u8>,
}

impl RequestWriter {
    fn new(addr: SocketAddr) -> Self {
        RequestWriter { host: addr.to_string(), heads: Vec::new(), out: Vec::with_capacity(4096) }
    }

    /// The wire bytes of a request for `operation` with `body`, as an SDK sends it.
    fn request(&mut self, operation: &'static str, body: &[u8]) -> &[u8] {
        let index = match self.heads.iter().position(|(name, _)| *name == operation) {
            Some(index) => index,
            None => {
                let head = format!(
                    "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.1\r\n\
                     X-Amz-Target: AmazonEC2ContainerServiceV20141113.{operation}\r\n\
                     Authorization: {AUTHORIZATION}\r\nContent-Length: ",
                    self.host
                );
                self.heads.push((operation, head.into_bytes()));
                self.heads.len() - 1
            }
        };
        self.out.clear();
        self.out.extend_from_slice(&self.heads[index].1);
        self.out.extend_from_slice(body.len().to_string().as_bytes());
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(body);
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_protocol_headers_and_exact_length() {
        let mut writer = RequestWriter::new("127.0.0.1:4566".parse().unwrap());
        let first = String::from_utf8(writer.request("ListClusters", b"{}").to_vec()).unwrap();
        assert!(first.starts_with("POST / HTTP/1.1\r\nHost: 127.0.0.1:4566\r\n"), "{first}");
        assert!(first.contains("\r\nX-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters\r\n"));
        assert!(
            first.contains("\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/")
        );
        assert!(first.ends_with("\r\nContent-Length: 2\r\n\r\n{}"), "{first}");
        let body = r#"{"taskDefinition":"bench-read"}"#;
        let second =
            String::from_utf8(writer.request("DescribeTaskDefinition", body.as_bytes()).to_vec()).unwrap();
        assert!(second.contains(".DescribeTaskDefinition\r\n"));
        assert!(second.ends_with(&format!("\r\nContent-Length: {}\r\n\r\n{body}", body.len())), "{second}");
    }
}
