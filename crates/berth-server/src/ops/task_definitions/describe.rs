//! DescribeTaskDefinition.
//!
//! The hottest read of the API: every RunTask and CreateService names a task definition, and
//! tools describe them constantly. The stored record already holds the definition exactly as it is
//! returned, so it is spliced into the response as raw JSON rather than decoded into the whole
//! `TaskDefinition` shape and encoded again.

use berth_api::EcsError;
use berth_api::model::DescribeTaskDefinitionRequest;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Ctx;
use crate::ops::required;
use crate::state::task_definitions::{self, unable_to_describe};

/// The DescribeTaskDefinition response with its members as raw JSON.
#[derive(Serialize)]
pub struct RawDescription {
    #[serde(rename = "taskDefinition")]
    task_definition: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Box<RawValue>>,
}

/// A stored `TaskDefinitionRecord`, read without decoding its members.
#[derive(Deserialize)]
struct RawRecord {
    task_definition: Box<RawValue>,
    tags: Option<Box<RawValue>>,
}

/// Handles DescribeTaskDefinition by family (its latest ACTIVE revision), family:revision or ARN;
/// tags only with `include: ["TAGS"]`.
pub async fn handle(ctx: Ctx, input: DescribeTaskDefinitionRequest) -> Result<RawDescription, EcsError> {
    let text = required(&input.task_definition, "taskDefinition")?;
    let include = input.include.unwrap_or_default();
    if let Some(bad) = include.iter().find(|field| field.as_str() != "TAGS") {
        return Err(EcsError::invalid_parameter(format!(
            "Unknown include value '{bad}': the only one is TAGS."
        )));
    }
    let reference = task_definitions::parse_reference(&ctx, text)?;
    let record: RawRecord =
        task_definitions::find_raw(&ctx, &reference).await?.ok_or_else(unable_to_describe)?.value;
    let wants_tags = include.iter().any(|field| field == "TAGS");
    let tags = match (wants_tags, record.tags) {
        (false, _) => None,
        (true, Some(tags)) => Some(tags),
        (true, None) => Some(RawValue::from_string("[]".into()).expect("[] is JSON")),
    };
    Ok(RawDescription { task_definition: record.task_definition, tags })
}
