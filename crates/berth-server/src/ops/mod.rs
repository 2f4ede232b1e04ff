//! One module per ECS operation, and the table that routes an operation name to it.
//!
//! Every handler has the same shape: `async fn handle(ctx: Ctx, input: <Op>Request) ->
//! Result<<Op>Response, EcsError>`. [`dispatch`] parses the body into the input shape (a body that
//! does not parse is a `SerializationException`) and serializes the output. An operation of the
//! ECS model that Berth does not serve yet answers `UnsupportedFeatureException`, naming it; a
//! name the model does not know answers `UnknownOperationException`.

pub mod account_settings;
pub mod attributes;
pub mod capacity_providers;
pub mod clusters;
pub mod container_instances;
pub mod service_deployments;
pub mod services;
pub mod tags;
pub mod task_definitions;
pub mod task_sets;
pub mod tasks;

use std::future::Future;

use berth_api::{EcsError, ErrorCode, model};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Ctx;

/// Runs `operation` with the JSON `body`, returning the JSON response body.
pub async fn dispatch(ctx: Ctx, operation: &str, body: &[u8]) -> Result<Vec<u8>, EcsError> {
    match operation {
        "CreateCluster" => call(ctx, body, clusters::create::handle).await,
        "DescribeClusters" => call(ctx, body, clusters::describe::handle).await,
        "ListClusters" => call(ctx, body, clusters::list::handle).await,
        "UpdateCluster" => call(ctx, body, clusters::update::handle).await,
        "UpdateClusterSettings" => call(ctx, body, clusters::update_settings::handle).await,
        "PutClusterCapacityProviders" => call(ctx, body, clusters::put_capacity_providers::handle).await,
        "DeleteCluster" => call(ctx, body, clusters::delete::handle).await,
        "RegisterTaskDefinition" => call(ctx, body, task_definitions::register::handle).await,
        "DescribeTaskDefinition" => call(ctx, body, task_definitions::describe::handle).await,
        "ListTaskDefinitions" => call(ctx, body, task_definitions::list::handle).await,
        "ListTaskDefinitionFamilies" => call(ctx, body, task_definitions::list_families::handle).await,
        "DeregisterTaskDefinition" => call(ctx, body, task_definitions::deregister::handle).await,
        "DeleteTaskDefinitions" => call(ctx, body, task_definitions::delete::handle).await,
        "CreateCapacityProvider" => call(ctx, body, capacity_providers::create::handle).await,
        "DescribeCapacityProviders" => call(ctx, body, capacity_providers::describe::handle).await,
        "UpdateCapacityProvider" => call(ctx, body, capacity_providers::update::handle).await,
        "DeleteCapacityProvider" => call(ctx, body, capacity_providers::delete::handle).await,
        "TagResource" => call(ctx, body, tags::tag::handle).await,
        "UntagResource" => call(ctx, body, tags::untag::handle).await,
        "ListTagsForResource" => call(ctx, body, tags::list::handle).await,
        "PutAccountSetting" => call(ctx, body, account_settings::put::handle).await,
        "PutAccountSettingDefault" => call(ctx, body, account_settings::put_default::handle).await,
        "ListAccountSettings" => call(ctx, body, account_settings::list::handle).await,
        "DeleteAccountSetting" => call(ctx, body, account_settings::delete::handle).await,
        "RegisterContainerInstance" => call(ctx, body, container_instances::register::handle).await,
        "DeregisterContainerInstance" => call(ctx, body, container_instances::deregister::handle).await,
        "DescribeContainerInstances" => call(ctx, body, container_instances::describe::handle).await,
        "ListContainerInstances" => call(ctx, body, container_instances::list::handle).await,
        "UpdateContainerInstancesState" => call(ctx, body, container_instances::update_state::handle).await,
        "DiscoverPollEndpoint" => call(ctx, body, container_instances::discover_poll_endpoint::handle).await,
        "PutAttributes" => call(ctx, body, attributes::put::handle).await,
        "DeleteAttributes" => call(ctx, body, attributes::delete::handle).await,
        "ListAttributes" => call(ctx, body, attributes::list::handle).await,
        "RunTask" => call(ctx, body, tasks::run::handle).await,
        "StartTask" => call(ctx, body, tasks::start::handle).await,
        "StopTask" => call(ctx, body, tasks::stop::handle).await,
        "DescribeTasks" => call(ctx, body, tasks::describe::handle).await,
        "ListTasks" => call(ctx, body, tasks::list::handle).await,
        "SubmitTaskStateChange" => call(ctx, body, tasks::submit_task_state_change::handle).await,
        "SubmitContainerStateChange" => call(ctx, body, tasks::submit_container_state_change::handle).await,
        "CreateService" => call(ctx, body, services::create::handle).await,
        "UpdateService" => call(ctx, body, services::update::handle).await,
        "DeleteService" => call(ctx, body, services::delete::handle).await,
        "DescribeServices" => call(ctx, body, services::describe::handle).await,
        "ListServices" => call(ctx, body, services::list::handle).await,
        "ListServiceDeployments" => call(ctx, body, service_deployments::list::handle).await,
        "DescribeServiceDeployments" => call(ctx, body, service_deployments::describe::handle).await,
        "DescribeServiceRevisions" => call(ctx, body, service_deployments::describe_revisions::handle).await,
        "StopServiceDeployment" => call(ctx, body, service_deployments::stop::handle).await,
        "CreateTaskSet" => call(ctx, body, task_sets::create::handle).await,
        "UpdateTaskSet" => call(ctx, body, task_sets::update::handle).await,
        "DeleteTaskSet" => call(ctx, body, task_sets::delete::handle).await,
        "DescribeTaskSets" => call(ctx, body, task_sets::describe::handle).await,
        "UpdateServicePrimaryTaskSet" => call(ctx, body, task_sets::update_primary::handle).await,
        other => Err(not_served(other)),
    }
}

fn not_served(operation: &str) -> EcsError {
    if model::operation(operation).is_some() {
        EcsError::unsupported(format!("{operation} is an ECS operation that Berth does not serve yet."))
    } else {
        EcsError::new(
            ErrorCode::UnknownOperationException,
            format!("'{operation}' is not an operation of the ECS API."),
        )
    }
}

async fn call<I, O, F>(ctx: Ctx, body: &[u8], handler: fn(Ctx, I) -> F) -> Result<Vec<u8>, EcsError>
where
    I: DeserializeOwned,
    O: Serialize,
    F: Future<Output = Result<O, EcsError>>,
{
    let input = parse_input(body)?;
    let output = handler(ctx, input).await?;
    serde_json::to_vec(&output)
        .map_err(|err| EcsError::server(format!("failed to encode the response: {err}")))
}

/// Parses a request body; an empty body reads as `{}`, as AWS services accept.
pub fn parse_input<I: DeserializeOwned>(body: &[u8]) -> Result<I, EcsError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|err| {
        EcsError::serialization(format!("The request body is not valid for this operation: {err}"))
    })
}

/// The value of a required member, or the `InvalidParameterException` ECS gives when it is absent.
pub fn required<'a, T>(value: &'a Option<T>, member: &str) -> Result<&'a T, EcsError> {
    value.as_ref().ok_or_else(|| EcsError::invalid_parameter(format!("The {member} parameter is required.")))
}
