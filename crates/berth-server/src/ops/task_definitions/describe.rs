//! DescribeTaskDefinition.

use berth_api::EcsError;
use berth_api::model::{DescribeTaskDefinitionRequest, DescribeTaskDefinitionResponse};

use crate::Ctx;
use crate::ops::required;
use crate::state::task_definitions::{self, unable_to_describe};

/// Handles DescribeTaskDefinition by family (its latest ACTIVE revision), family:revision or ARN;
/// tags only with `include: ["TAGS"]`.
pub async fn handle(ctx: Ctx, input: DescribeTaskDefinitionRequest) -> Result<DescribeTaskDefinitionResponse, EcsError> {
    let text = required(&input.task_definition, "taskDefinition")?;
    let include = input.include.unwrap_or_default();
    if let Some(bad) = include.iter().find(|field| field.as_str() != "TAGS") {
        return Err(EcsError::invalid_parameter(format!("Unknown include value '{bad}': the only one is TAGS.")));
    }
    let reference = task_definitions::parse_reference(&ctx, text)?;
    let record = task_definitions::find(&ctx, &reference).await?.ok_or_else(unable_to_describe)?;
    let tags = include.iter().any(|field| field == "TAGS").then_some(record.value.tags);
    Ok(DescribeTaskDefinitionResponse { task_definition: Some(record.value.task_definition), tags })
}
