//! The AWS JSON 1.1 protocol: what makes a request valid and how answers are written.
//!
//! ECS clients send `POST /` with `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>`
//! and a JSON body in `application/x-amz-json-1.1`. The region comes from the SigV4 credential
//! scope. Errors go back as `{"__type": "<Code>", "message": "..."}` with the code's status.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use berth_api::arn::Scope;
use berth_api::{CONTENT_TYPE, EcsError, ErrorCode, TARGET_PREFIX};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;

use crate::config::ServerConfig;

/// A request that passed the protocol checks.
pub struct ApiCall {
    /// The operation named by `X-Amz-Target`.
    pub operation: String,
    /// The region and account the request acts in.
    pub scope: Scope,
}

/// Checks the headers, reads the body within the size limit, and names the operation.
pub async fn read_request(
    config: &ServerConfig,
    request: Request<Body>,
) -> Result<(ApiCall, Bytes), EcsError> {
    let (parts, body) = request.into_parts();
    let operation = operation_of(&parts.headers)?;
    check_content_type(&parts.headers)?;
    let limit = config.max_body_bytes;
    // Refuse on the declared length first, so an oversized body is never read at all.
    if declared_length(&parts.headers).is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    let body =
        http_body_util::Limited::new(body, limit).collect().await.map_err(|_| too_large(limit))?.to_bytes();
    let region = region_of(&parts.headers).unwrap_or_else(|| config.region.clone());
    let scope = Scope::new(region, config.account_id.clone());
    Ok((ApiCall { operation, scope }, body))
}

fn operation_of(headers: &HeaderMap) -> Result<String, EcsError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| EcsError::new(ErrorCode::MissingAction, "Missing X-Amz-Target header."))?;
    let operation = target
        .strip_prefix(TARGET_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .filter(|op| !op.is_empty())
        .ok_or_else(|| {
            EcsError::new(
                ErrorCode::UnknownOperationException,
                format!("Unknown target '{target}': ECS operations are '{TARGET_PREFIX}.<Operation>'."),
            )
        })?;
    Ok(operation.to_string())
}

fn check_content_type(headers: &HeaderMap) -> Result<(), EcsError> {
    // Clients send `application/x-amz-json-1.1`; some tools add a charset or send plain JSON.
    // Anything that is not JSON at all is refused.
    match headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => Ok(()),
        Some(value)
            if value.starts_with("application/x-amz-json") || value.starts_with("application/json") =>
        {
            Ok(())
        }
        Some(other) => {
            Err(EcsError::serialization(format!("Unsupported content type '{other}': send {CONTENT_TYPE}.")))
        }
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn too_large(limit: usize) -> EcsError {
    EcsError::new(
        ErrorCode::RequestEntityTooLarge,
        format!("The request body is larger than the {limit}-byte limit."),
    )
}

/// The region of the request's SigV4 credential scope, when it has one.
pub fn region_of(headers: &HeaderMap) -> Option<String> {
    let header = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    berth_api::sigv4::parse_authorization(header).map(|scope| scope.region)
}

/// A 200 response with a JSON body in the protocol's content type.
pub fn json_response(body: Vec<u8>) -> Response {
    with_body(StatusCode::OK, body)
}

/// The wire form of an error.
pub fn error_response(err: &EcsError) -> Response {
    let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&err.to_body()).unwrap_or_default();
    let mut response = with_body(status, body);
    if let Ok(code) = HeaderValue::from_str(err.code.as_str()) {
        // Some clients read the code from this header rather than the body.
        response.headers_mut().insert("x-amzn-errortype", code);
    }
    response
}

fn with_body(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response.headers_mut().insert(
        "x-amzn-requestid",
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a uuid is a valid header value"),
    );
    response
}
