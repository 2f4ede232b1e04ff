//! DescribeTasks.

use berth_api::model::{DescribeTasksRequest, DescribeTasksResponse, Failure, enums};
use berth_api::{EcsError, arn};

use crate::Ctx;
use crate::ops::{clusters, required};
use crate::state::keys;
use crate::state::records;
use crate::state::tasks::TaskRecord;

/// The most tasks one call may describe.
pub const MAX_TASKS: usize = 100;

/// Handles DescribeTasks: each task by id or ARN, in the order asked; one that the cluster does
/// not hold is a `MISSING` failure. Tags only with `include: ["TAGS"]`.
pub async fn handle(ctx: Ctx, input: DescribeTasksRequest) -> Result<DescribeTasksResponse, EcsError> {
    let references = required(&input.tasks, "tasks")?;
    if references.is_empty() {
        return Err(EcsError::invalid_parameter("Tasks cannot be empty."));
    }
    if references.len() > MAX_TASKS {
        return Err(EcsError::invalid_parameter(format!(
            "At most {MAX_TASKS} tasks can be described at once; {} were given.",
            references.len()
        )));
    }
    let include = input.include.as_deref().unwrap_or_default();
    if let Some(bad) = include.iter().find(|field| !enums::TASK_FIELD.contains(&field.as_str())) {
        return Err(EcsError::invalid_parameter(format!(
            "Unknown include value '{bad}': the only one is TAGS."
        )));
    }
    let with_tags = include.iter().any(|field| field == "TAGS");
    let cluster = clusters::load_active(&ctx, input.cluster.as_deref()).await?.value;
    let cluster_name = cluster.cluster_name.unwrap_or_default();
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for reference in references {
        let id = arn::member_id(&ctx.scope, &cluster_name, "task", reference).ok().flatten();
        let found = match &id {
            Some(id) => {
                records::get::<TaskRecord>(&*ctx.store, &keys::task(&ctx.scope, &cluster_name, id)).await?
            }
            None => None,
        };
        match found {
            Some(record) => {
                let mut task = record.value.task;
                if !with_tags {
                    task.tags = None;
                }
                tasks.push(task);
            }
            None => failures.push(Failure {
                arn: Some(match (&id, reference.starts_with("arn:")) {
                    (Some(id), false) => ctx.scope.task_arn(&cluster_name, id),
                    _ => reference.clone(),
                }),
                reason: Some("MISSING".to_string()),
                detail: None,
            }),
        }
    }
    Ok(DescribeTasksResponse { tasks: Some(tasks), failures: Some(failures) })
}
