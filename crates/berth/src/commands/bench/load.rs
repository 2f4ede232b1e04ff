//! A closed-loop HTTP load generator: N keep-alive connections, each sending its next request as
//! soon as the last one is answered, recording every latency.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::HeaderValue;
use tokio::net::TcpStream;

/// A SigV4 header of the shape SDKs send, so the server does its region parsing as in real use.
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0";

/// Makes the operation name and JSON body of the request with the given sequence number.
pub type RequestMaker = Arc<dyn Fn(u64) -> (&'static str, Bytes) + Send + Sync>;

/// What one load run measured.
pub struct LoadResult {
    /// Requests answered with 200.
    pub ok: u64,
    /// Requests answered otherwise.
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
    let stream = TcpStream::connect(addr).await.with_context(|| format!("failed to connect to {addr}"))?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let (mut ok, mut errors, mut latencies) = (0u64, 0u64, Vec::new());
    // Header values are made once: the client's own work per request is kept small, because it
    // shares the machine's cores with the server it measures.
    let host = HeaderValue::from_str(&addr.to_string())?;
    let mut targets: Vec<(&'static str, HeaderValue)> = Vec::new();
    loop {
        let sequence = next.fetch_add(1, Ordering::Relaxed);
        if sequence >= total {
            return Ok((ok, errors, latencies));
        }
        let (operation, body) = make(sequence);
        let target = match targets.iter().find(|(name, _)| *name == operation) {
            Some((_, value)) => value.clone(),
            None => {
                let value =
                    HeaderValue::from_str(&format!("AmazonEC2ContainerServiceV20141113.{operation}"))?;
                targets.push((operation, value.clone()));
                value
            }
        };
        let request = Request::post("/")
            .header("host", host.clone())
            .header("content-type", HeaderValue::from_static("application/x-amz-json-1.1"))
            .header("x-amz-target", target)
            .header("authorization", HeaderValue::from_static(AUTHORIZATION))
            .body(Full::new(body))?;
        let sent = Instant::now();
        let response = sender.send_request(request).await?;
        let status = response.status();
        response.into_body().collect().await?;
        latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
        if status.is_success() {
            ok += 1;
        } else {
            errors += 1;
        }
    }
}
