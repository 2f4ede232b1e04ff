//! DeleteTaskDefinitions.

use berth_api::EcsError;
use berth_api::model::{DeleteTaskDefinitionsRequest, DeleteTaskDefinitionsResponse, Failure};

use crate::Ctx;
use crate::ops::required;
use crate::state::task_definitions::{self, DELETE_IN_PROGRESS, INACTIVE};

/// ECS deletes at most 10 task definitions a call.
const MAX_PER_CALL: usize = 10;

/// Handles DeleteTaskDefinitions: each named revision must be INACTIVE (deregistered). It is
/// returned as DELETE_IN_PROGRESS and removed; no task can still use it, because tasks keep their
/// own copy of their definition. The family keeps its revision counter, so numbers are not reused.
pub async fn handle(
    ctx: Ctx,
    input: DeleteTaskDefinitionsRequest,
) -> Result<DeleteTaskDefinitionsResponse, EcsError> {
    let names = required(&input.task_definitions, "taskDefinitions")?;
    if names.is_empty() || names.len() > MAX_PER_CALL {
        return Err(EcsError::invalid_parameter(format!(
            "Name between 1 and {MAX_PER_CALL} task definitions to delete; {} were given.",
            names.len()
        )));
    }
    let mut deleted = Vec::new();
    let mut failures = Vec::new();
    for text in names {
        match delete_one(&ctx, text).await {
            Ok(definition) => deleted.push(definition),
            Err(reason) => {
                failures.push(Failure { arn: Some(text.clone()), reason: Some(reason), detail: None })
            }
        }
    }
    Ok(DeleteTaskDefinitionsResponse { task_definitions: Some(deleted), failures: Some(failures) })
}

async fn delete_one(ctx: &Ctx, text: &str) -> Result<berth_api::model::TaskDefinition, String> {
    let reference = task_definitions::parse_reference(ctx, text).map_err(|err| err.message)?;
    if reference.revision.is_none() {
        return Err("The task definition must be named with its revision.".into());
    }
    // Another registration or deletion in the family changes its record; read again and retry.
    for _ in 0..16 {
        let record = task_definitions::find(ctx, &reference)
            .await
            .map_err(|err| err.message)?
            .ok_or_else(|| "The specified task definition does not exist.".to_string())?;
        if record.value.status() != INACTIVE {
            return Err(
                "The specified task definition is still in ACTIVE status. Deregister it first.".into()
            );
        }
        if task_definitions::remove(ctx, &record).await.map_err(|err| err.message)? {
            let mut definition = record.value.task_definition;
            definition.status = Some(DELETE_IN_PROGRESS.to_string());
            definition.delete_requested_at = Some(crate::context::now());
            return Ok(definition);
        }
    }
    Err("The task definition family is changing too fast to delete from; try again.".into())
}
