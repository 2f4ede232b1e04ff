//! ECS error codes and the one error type every handler returns.
//!
//! The wire form is `{"__type": "<Code>", "message": "..."}` with a 400 status for client faults
//! and 500 for `ServerException`, exactly as the AWS JSON 1.1 protocol and the ECS API reference
//! define them; SDKs decode the code into their typed exceptions.

use std::fmt;

/// An error code of the ECS API, plus the protocol-level codes every AWS JSON service uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // The variant names are the ECS codes, documented in the API reference.
pub enum ErrorCode {
    AccessDeniedException,
    AttributeLimitExceededException,
    BlockedException,
    ClientException,
    ClusterContainsCapacityProviderException,
    ClusterContainsContainerInstancesException,
    ClusterContainsServicesException,
    ClusterContainsTasksException,
    ClusterNotFoundException,
    ConflictException,
    InvalidParameterException,
    LimitExceededException,
    MissingVersionException,
    NamespaceNotFoundException,
    NoUpdateAvailableException,
    PlatformTaskDefinitionIncompatibilityException,
    PlatformUnknownException,
    ResourceInUseException,
    ResourceNotFoundException,
    ServerException,
    ServiceDeploymentNotFoundException,
    ServiceNotActiveException,
    ServiceNotFoundException,
    TargetNotConnectedException,
    TargetNotFoundException,
    TaskSetNotFoundException,
    UnsupportedFeatureException,
    UpdateInProgressException,
    /// The body is not valid JSON for the operation's input shape.
    SerializationException,
    /// The `X-Amz-Target` names no ECS operation.
    UnknownOperationException,
    /// The request is not a well-formed AWS JSON 1.1 request (missing target, wrong method).
    MissingAction,
    /// The request's body is larger than the server accepts.
    RequestEntityTooLarge,
}

impl ErrorCode {
    /// The `__type` string of the code on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            AccessDeniedException => "AccessDeniedException",
            AttributeLimitExceededException => "AttributeLimitExceededException",
            BlockedException => "BlockedException",
            ClientException => "ClientException",
            ClusterContainsCapacityProviderException => "ClusterContainsCapacityProviderException",
            ClusterContainsContainerInstancesException => "ClusterContainsContainerInstancesException",
            ClusterContainsServicesException => "ClusterContainsServicesException",
            ClusterContainsTasksException => "ClusterContainsTasksException",
            ClusterNotFoundException => "ClusterNotFoundException",
            ConflictException => "ConflictException",
            InvalidParameterException => "InvalidParameterException",
            LimitExceededException => "LimitExceededException",
            MissingVersionException => "MissingVersionException",
            NamespaceNotFoundException => "NamespaceNotFoundException",
            NoUpdateAvailableException => "NoUpdateAvailableException",
            PlatformTaskDefinitionIncompatibilityException => {
                "PlatformTaskDefinitionIncompatibilityException"
            }
            PlatformUnknownException => "PlatformUnknownException",
            ResourceInUseException => "ResourceInUseException",
            ResourceNotFoundException => "ResourceNotFoundException",
            ServerException => "ServerException",
            ServiceDeploymentNotFoundException => "ServiceDeploymentNotFoundException",
            ServiceNotActiveException => "ServiceNotActiveException",
            ServiceNotFoundException => "ServiceNotFoundException",
            TargetNotConnectedException => "TargetNotConnectedException",
            TargetNotFoundException => "TargetNotFoundException",
            TaskSetNotFoundException => "TaskSetNotFoundException",
            UnsupportedFeatureException => "UnsupportedFeatureException",
            UpdateInProgressException => "UpdateInProgressException",
            SerializationException => "SerializationException",
            UnknownOperationException => "UnknownOperationException",
            MissingAction => "MissingAction",
            RequestEntityTooLarge => "RequestEntityTooLargeException",
        }
    }

    /// The HTTP status the code is sent with: 500 for server faults, 413 for an oversized body,
    /// 400 for every other client fault (as ECS does).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::ServerException => 500,
            ErrorCode::RequestEntityTooLarge => 413,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as a client sees it: an ECS code and a message a person understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct EcsError {
    /// The ECS error code.
    pub code: ErrorCode,
    /// The human-readable explanation.
    pub message: String,
}

impl EcsError {
    /// An error with any code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// `InvalidParameterException`: a parameter is missing, malformed or out of range.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterException, message)
    }

    /// `ClientException`: the request is well-formed but cannot be done as asked.
    pub fn client(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ClientException, message)
    }

    /// `ServerException`: Berth failed; the client did nothing wrong.
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServerException, message)
    }

    /// `ClusterNotFoundException` for the named cluster.
    pub fn cluster_not_found() -> Self {
        Self::new(ErrorCode::ClusterNotFoundException, "Cluster not found.")
    }

    /// `ResourceNotFoundException`.
    pub fn resource_not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFoundException, message)
    }

    /// `UnsupportedFeatureException` for an operation or parameter Berth does not offer yet.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnsupportedFeatureException, message)
    }

    /// `SerializationException`: the body does not parse as the operation's input.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::SerializationException, message)
    }

    /// The JSON body of this error on the wire.
    pub fn to_body(&self) -> serde_json::Value {
        serde_json::json!({ "__type": self.code.as_str(), "message": self.message })
    }

    /// The HTTP status of this error on the wire.
    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ERROR_CODES;

    #[test]
    fn every_modeled_error_code_is_spelled_as_the_model_spells_it() {
        use ErrorCode::*;
        let ours = [
            AccessDeniedException,
            AttributeLimitExceededException,
            BlockedException,
            ClientException,
            ClusterContainsCapacityProviderException,
            ClusterContainsContainerInstancesException,
            ClusterContainsServicesException,
            ClusterContainsTasksException,
            ClusterNotFoundException,
            ConflictException,
            InvalidParameterException,
            LimitExceededException,
            MissingVersionException,
            NamespaceNotFoundException,
            NoUpdateAvailableException,
            PlatformTaskDefinitionIncompatibilityException,
            PlatformUnknownException,
            ResourceInUseException,
            ResourceNotFoundException,
            ServerException,
            ServiceDeploymentNotFoundException,
            ServiceNotActiveException,
            ServiceNotFoundException,
            TargetNotConnectedException,
            TargetNotFoundException,
            TaskSetNotFoundException,
            UnsupportedFeatureException,
            UpdateInProgressException,
        ];
        let names: Vec<&str> = ours.iter().map(|c| c.as_str()).collect();
        for code in ERROR_CODES {
            // Daemon and gateway codes belong to operations Berth does not serve.
            if code.starts_with("Daemon") || code.starts_with("Gateway") {
                continue;
            }
            assert!(names.contains(code), "missing error code {code}");
        }
    }

    #[test]
    fn server_faults_are_500_and_client_faults_400() {
        assert_eq!(EcsError::server("x").http_status(), 500);
        assert_eq!(EcsError::cluster_not_found().http_status(), 400);
        assert_eq!(EcsError::invalid_parameter("x").to_body()["__type"], "InvalidParameterException");
    }
}
