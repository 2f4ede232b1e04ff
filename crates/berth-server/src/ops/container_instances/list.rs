//! ListContainerInstances.

use berth_api::EcsError;
use berth_api::model::{ListContainerInstancesRequest, ListContainerInstancesResponse, enums};
use berth_api::pagination::{decode_token, encode_token, page_size};
use berth_scheduler::TaskView;
use berth_scheduler::query::{self, Expression, Subject};

use super::INACTIVE;
use crate::Ctx;
use crate::state::container_instances::{ContainerInstanceRecord, view};
use crate::state::keys;
use crate::state::records;
use crate::state::tasks;

/// How many records one read of the store returns while a page fills.
const BATCH: usize = 256;

/// Handles ListContainerInstances: the ARNs of the cluster's instances in key order, 100 a page
/// by default. Without `status`, every instance but the deregistered (INACTIVE) ones; with it,
/// those in that status. ECS's status list leaves INACTIVE out, but Berth also accepts it, to
/// find deregistered instances again. `filter` is a cluster query language expression.
pub async fn handle(
    ctx: Ctx,
    input: ListContainerInstancesRequest,
) -> Result<ListContainerInstancesResponse, EcsError> {
    let limit = page_size(input.max_results, 100, 100)?;
    let status = input.status.as_deref();
    if let Some(status) = status
        && status != INACTIVE
        && !enums::CONTAINER_INSTANCE_STATUS.contains(&status)
    {
        return Err(EcsError::invalid_parameter(format!(
            "Unknown container instance status '{status}': use ACTIVE, DRAINING, REGISTERING, \
             DEREGISTERING, REGISTRATION_FAILED or INACTIVE."
        )));
    }
    let filter = match input.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        Some(text) => Some(
            query::parse(text)
                .map_err(|err| EcsError::invalid_parameter(format!("Invalid filter expression: {err}.")))?,
        ),
        None => None,
    };
    let cluster = super::active_cluster(&ctx, input.cluster.as_deref()).await?;
    let listing = format!("ListContainerInstances/{cluster}");
    let after = input.next_token.as_deref().map(|token| decode_token(&listing, token)).transpose()?;
    let wanted = |record: &ContainerInstanceRecord| {
        let current = record.instance.status.as_deref().unwrap_or_default();
        match status {
            Some(status) => current == status,
            None => current != INACTIVE,
        }
    };
    let listed = Listed { ctx: &ctx, cluster: &cluster, filter: filter.as_ref() };
    let (arns, next) = listed.page(after, limit, wanted).await?;
    Ok(ListContainerInstancesResponse {
        container_instance_arns: Some(arns),
        next_token: next.map(|key| encode_token(&listing, &key)),
    })
}

/// One listing's reads.
struct Listed<'a> {
    ctx: &'a Ctx,
    cluster: &'a str,
    filter: Option<&'a Expression>,
}

impl Listed<'_> {
    /// Up to `limit` ARNs of instances after the key `after` that `wanted` accepts and the filter
    /// matches, with the key to continue after when more may follow. Rejected instances are skipped
    /// without counting, so a page is full whenever enough instances match.
    async fn page(
        &self,
        mut after: Option<String>,
        limit: usize,
        wanted: impl Fn(&ContainerInstanceRecord) -> bool,
    ) -> Result<(Vec<String>, Option<String>), EcsError> {
        let prefix = keys::container_instances(&self.ctx.scope, self.cluster);
        let mut arns = Vec::new();
        loop {
            let page =
                records::list::<ContainerInstanceRecord>(&*self.ctx.store, &prefix, after.as_deref(), BATCH)
                    .await?;
            let batch_len = page.items.len();
            for (index, (key, record)) in page.items.into_iter().enumerate() {
                after = Some(key);
                if !wanted(&record) || !self.matches(&record).await? {
                    continue;
                }
                arns.push(record.instance.container_instance_arn.clone().unwrap_or_default());
                if arns.len() == limit {
                    let more = page.more || index + 1 < batch_len;
                    return Ok((arns, if more { after } else { None }));
                }
            }
            if !page.more {
                return Ok((arns, None));
            }
        }
    }

    /// Whether the filter (if any) matches the instance. Only an expression about tasks
    /// (`task:group`, `runningTasksCount`) pays for reading the instance's tasks.
    async fn matches(&self, record: &ContainerInstanceRecord) -> Result<bool, EcsError> {
        let Some(filter) = self.filter else {
            return Ok(true);
        };
        let tasks = if uses_tasks(filter) { self.tasks_of(record).await? } else { Vec::new() };
        Ok(filter.matches(&view(record, tasks)))
    }

    /// The tasks on an instance that have not stopped, as the query language sees them.
    async fn tasks_of(&self, record: &ContainerInstanceRecord) -> Result<Vec<TaskView>, EcsError> {
        let assigned = tasks::assigned(&*self.ctx.store, &self.ctx.scope, self.cluster, record.id()).await?;
        Ok(assigned
            .into_iter()
            .filter(|task| task.task.last_status.as_deref() != Some("STOPPED"))
            .map(|task| TaskView {
                group: task.task.group.clone(),
                family: task.task_definition.family.clone().unwrap_or_default(),
            })
            .collect())
    }
}

/// Whether an expression looks at the tasks on an instance.
fn uses_tasks(expression: &Expression) -> bool {
    match expression {
        Expression::Compare(comparison) => {
            matches!(comparison.subject, Subject::TaskGroup | Subject::RunningTasksCount)
        }
        Expression::Not(inner) => uses_tasks(inner),
        Expression::And(operands) | Expression::Or(operands) => operands.iter().any(uses_tasks),
    }
}
