//! DeregisterTaskDefinition.

use berth_api::EcsError;
use berth_api::model::{DeregisterTaskDefinitionRequest, DeregisterTaskDefinitionResponse};

use crate::Ctx;
use crate::context::now;
use crate::ops::required;
use crate::state::task_definitions::{self, ACTIVE, INACTIVE};

/// Handles DeregisterTaskDefinition: the named revision becomes INACTIVE. A family alone is not
/// enough, as in ECS: the revision must be named.
pub async fn handle(
    ctx: Ctx,
    input: DeregisterTaskDefinitionRequest,
) -> Result<DeregisterTaskDefinitionResponse, EcsError> {
    let text = required(&input.task_definition, "taskDefinition")?;
    let reference = task_definitions::parse_reference(&ctx, text)?;
    if reference.revision.is_none() {
        return Err(EcsError::client(format!(
            "Deregistering needs a revision: name '{text}' as family:revision or by its ARN."
        )));
    }
    let deregistered_at = now();
    let record = task_definitions::set_status(&ctx, &reference, |record| {
        if record.status() == ACTIVE {
            record.task_definition.status = Some(INACTIVE.to_string());
            record.task_definition.deregistered_at = Some(deregistered_at);
        }
        Ok(())
    })
    .await?;
    Ok(DeregisterTaskDefinitionResponse { task_definition: Some(record.task_definition) })
}
