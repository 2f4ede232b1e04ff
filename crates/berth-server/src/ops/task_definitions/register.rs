//! RegisterTaskDefinition.

use berth_api::EcsError;
use berth_api::model::{
    ContainerDefinition, RegisterTaskDefinitionRequest, RegisterTaskDefinitionResponse, TaskDefinition,
};
use berth_api::validate::task_definition as rules;

use crate::Ctx;
use crate::context::now;
use crate::state::task_definitions::{self, ACTIVE};

/// Handles RegisterTaskDefinition: validates the definition as ECS does, then stores it as the
/// family's next revision with the fields ECS fills in.
pub async fn handle(
    ctx: Ctx,
    input: RegisterTaskDefinitionRequest,
) -> Result<RegisterTaskDefinitionResponse, EcsError> {
    rules::check_register(&input)?;
    let compatibilities = rules::compatibilities(&input);
    let tags = input.tags.clone().unwrap_or_default();
    let definition = build(&ctx, input, compatibilities);
    let stored = task_definitions::register(&ctx, definition, tags.clone()).await?;
    Ok(RegisterTaskDefinitionResponse { task_definition: Some(stored.task_definition), tags: Some(tags) })
}

/// The task definition as ECS stores it: the request's members, defaults filled as ECS fills them,
/// and the server's own fields (status, compatibilities, registration).
fn build(ctx: &Ctx, input: RegisterTaskDefinitionRequest, compatibilities: Vec<String>) -> TaskDefinition {
    let network_mode = input.network_mode.clone();
    let containers = input
        .container_definitions
        .unwrap_or_default()
        .into_iter()
        .map(|container| with_container_defaults(container, network_mode.as_deref()))
        .collect();
    TaskDefinition {
        task_definition_arn: None,
        container_definitions: Some(containers),
        family: input.family,
        task_role_arn: input.task_role_arn,
        execution_role_arn: input.execution_role_arn,
        network_mode: input.network_mode,
        revision: None,
        volumes: Some(input.volumes.unwrap_or_default()),
        status: Some(ACTIVE.to_string()),
        requires_attributes: Some(Vec::new()),
        placement_constraints: Some(input.placement_constraints.unwrap_or_default()),
        compatibilities: Some(compatibilities),
        runtime_platform: input.runtime_platform,
        requires_compatibilities: input.requires_compatibilities,
        // ECS stores "1 vCPU" and "2 GB" as units and MiB; validation has already parsed them.
        cpu: input.cpu.map(|cpu| rules::parse_task_cpu(&cpu).map_or(cpu, |units| units.to_string())),
        memory: input
            .memory
            .map(|memory| rules::parse_task_memory(&memory).map_or(memory, |mib| mib.to_string())),
        inference_accelerators: input.inference_accelerators,
        pid_mode: input.pid_mode,
        ipc_mode: input.ipc_mode,
        proxy_configuration: input.proxy_configuration,
        registered_at: Some(now()),
        deregistered_at: None,
        delete_requested_at: None,
        registered_by: Some(ctx.caller_principal()),
        ephemeral_storage: input.ephemeral_storage,
        enable_fault_injection: input.enable_fault_injection,
        trusted_execution_configuration: input.trusted_execution_configuration,
    }
}

/// The defaults ECS shows for a container it was given without them: cpu 0, essential, empty
/// lists, tcp port mappings, and in host and awsvpc modes a host port equal to the container port.
fn with_container_defaults(
    mut container: ContainerDefinition,
    network_mode: Option<&str>,
) -> ContainerDefinition {
    container.cpu.get_or_insert(0);
    container.essential.get_or_insert(true);
    container.environment.get_or_insert_with(Vec::new);
    container.mount_points.get_or_insert_with(Vec::new);
    container.volumes_from.get_or_insert_with(Vec::new);
    container.system_controls.get_or_insert_with(Vec::new);
    let same_port = matches!(network_mode, Some("host" | "awsvpc"));
    for mapping in container.port_mappings.get_or_insert_with(Vec::new) {
        mapping.protocol.get_or_insert_with(|| "tcp".to_string());
        if same_port && mapping.host_port.is_none() && mapping.container_port_range.is_none() {
            mapping.host_port = mapping.container_port;
        }
    }
    container
}
