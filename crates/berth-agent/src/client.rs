//! A small client for the control plane's ECS API (AWS JSON 1.1 over HTTP).
//!
//! The agent makes a handful of calls (RegisterContainerInstance at start), so it speaks the
//! protocol directly instead of carrying an SDK: the agent's memory budget is tens of MiB.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An ECS error answered by the server, or a transport failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server refused the call with an ECS error code.
    #[error("{code}: {message}")]
    Refused {
        /// The ECS error code (`ClusterNotFoundException`, ...).
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached or answered something unreadable.
    #[error("{0}")]
    Transport(String),
}

/// How long an idle connection to the server is kept for the next call.
const IDLE_CONNECTION: std::time::Duration = std::time::Duration::from_secs(5);

/// A client of one control plane.
#[derive(Clone)]
pub struct EcsClient {
    endpoint: String,
    region: Option<String>,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl EcsClient {
    /// A client of the server at `endpoint` (`http://HOST:PORT`), for `region` (the server's
    /// default when `None`).
    pub fn new(endpoint: &str, region: Option<String>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region,
            // An agent calls the API a few times and then talks over its session, so an idle
            // connection is let go soon: kept for the default 90 s, thousands of simulated
            // instances doubled the connections (and their buffers) the server holds.
            http: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(IDLE_CONNECTION)
                .pool_timer(TokioTimer::new())
                .build(connector),
        }
    }

    /// Calls `operation` with `input`.
    pub async fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        operation: &str,
        input: &I,
    ) -> Result<O, ApiError> {
        let body = serde_json::to_vec(input).map_err(|e| ApiError::Transport(e.to_string()))?;
        let mut request = http::Request::post(format!("{}/", self.endpoint))
            .header("content-type", berth_api::CONTENT_TYPE)
            .header("x-amz-target", format!("{}.{operation}", berth_api::TARGET_PREFIX));
        if let Some(region) = &self.region {
            // The server reads the region from the credential scope; the signature is not checked
            // until the security layer exists.
            request = request.header(
                "authorization",
                format!("AWS4-HMAC-SHA256 Credential=berth-agent/20260101/{region}/ecs/aws4_request, SignedHeaders=host, Signature=0"),
            );
        }
        let request =
            request.body(Full::new(Bytes::from(body))).map_err(|e| ApiError::Transport(e.to_string()))?;
        let response = self.http.request(request).await.map_err(|e| {
            ApiError::Transport(format!("cannot reach the control plane at {}: {e}", self.endpoint))
        })?;
        let status = response.status();
        let bytes =
            response.into_body().collect().await.map_err(|e| ApiError::Transport(e.to_string()))?.to_bytes();
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::Transport(format!("unreadable answer to {operation}: {e}")));
        }
        let error: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let code = error["__type"].as_str().unwrap_or("UnknownError");
        let code = code.rsplit('#').next().unwrap_or(code).to_string();
        let message = error["message"].as_str().unwrap_or_default().to_string();
        Err(ApiError::Refused {
            code,
            message: if message.is_empty() { status.to_string() } else { message },
        })
    }

    /// The WebSocket URL of the session endpoint for `instance_arn`.
    pub fn session_url(&self, instance_arn: &str) -> String {
        let base = self.endpoint.replacen("http://", "ws://", 1).replacen("https://", "wss://", 1);
        format!(
            "{base}{}?{}={}",
            berth_api::agent_protocol::SESSION_PATH,
            berth_api::agent_protocol::INSTANCE_PARAMETER,
            percent_encode(instance_arn)
        )
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
