//! The key layout: every resource lives under `/<region>/<account>/<kind>/...`.
//!
//! Region and account lead, so that all state of one partition is one prefix. Names are placed
//! last, so listing a kind is a prefix range read in name order. Task definition revisions are
//! zero-padded to sort numerically.

use berth_api::arn::Scope;

fn base(scope: &Scope) -> String {
    format!("/{}/{}/", scope.region, scope.account)
}

/// The prefix of every cluster.
pub fn clusters(scope: &Scope) -> String {
    format!("{}cluster/", base(scope))
}

/// One cluster.
pub fn cluster(scope: &Scope, name: &str) -> String {
    format!("{}{name}", clusters(scope))
}

/// The prefix of the container instances of every cluster.
pub fn all_container_instances(scope: &Scope) -> String {
    format!("{}container-instance/", base(scope))
}

/// The prefix of the container instances of a cluster.
pub fn container_instances(scope: &Scope, cluster: &str) -> String {
    format!("{}container-instance/{cluster}/", base(scope))
}

/// One container instance.
pub fn container_instance(scope: &Scope, cluster: &str, id: &str) -> String {
    format!("{}{id}", container_instances(scope, cluster))
}

/// One task.
pub fn task(scope: &Scope, cluster: &str, id: &str) -> String {
    format!("{}{id}", tasks(scope, cluster))
}

/// The prefix of the index of the tasks assigned to one container instance: one key per task
/// (value: an [`crate::state::tasks::Assignment`]), written in the same transaction as the task.
/// An agent session watches its instance's prefix; the key goes when the agent has reported
/// the task STOPPED, so the prefix is exactly what the agent must still act on.
pub fn instance_tasks(scope: &Scope, cluster: &str, instance_id: &str) -> String {
    format!("{}instance-task/{cluster}/{instance_id}/", base(scope))
}

/// One task's entry in its instance's index.
pub fn instance_task(scope: &Scope, cluster: &str, instance_id: &str, task_id: &str) -> String {
    format!("{}{task_id}", instance_tasks(scope, cluster, instance_id))
}

/// The prefix of the tasks of a cluster.
pub fn tasks(scope: &Scope, cluster: &str) -> String {
    format!("{}task/{cluster}/", base(scope))
}

/// The prefix of the services of a cluster.
pub fn services(scope: &Scope, cluster: &str) -> String {
    format!("{}service/{cluster}/", base(scope))
}

/// One service. Service and cluster names hold no `/`, so the prefixes below cannot overlap.
pub fn service(scope: &Scope, cluster: &str, name: &str) -> String {
    format!("{}{name}", services(scope, cluster))
}

/// The prefix of the deployment history (`ServiceDeployment` records) of one service.
pub fn service_deployments(scope: &Scope, cluster: &str, service: &str) -> String {
    format!("{}service-deployment/{cluster}/{service}/", base(scope))
}

/// One `ServiceDeployment` record, by the id ending its ARN.
pub fn service_deployment(scope: &Scope, cluster: &str, service: &str, id: &str) -> String {
    format!("{}{id}", service_deployments(scope, cluster, service))
}

/// The prefix of the configuration revisions (`ServiceRevision` records) of one service.
pub fn service_revisions(scope: &Scope, cluster: &str, service: &str) -> String {
    format!("{}service-revision/{cluster}/{service}/", base(scope))
}

/// One `ServiceRevision` record, by the id ending its ARN.
pub fn service_revision(scope: &Scope, cluster: &str, service: &str, id: &str) -> String {
    format!("{}{id}", service_revisions(scope, cluster, service))
}

/// The prefix of the task sets of one service.
pub fn task_sets(scope: &Scope, cluster: &str, service: &str) -> String {
    format!("{}task-set/{cluster}/{service}/", base(scope))
}

/// One task set, by its id.
pub fn task_set(scope: &Scope, cluster: &str, service: &str, id: &str) -> String {
    format!("{}{id}", task_sets(scope, cluster, service))
}

/// The prefix of every task definition family record.
pub fn families(scope: &Scope) -> String {
    format!("{}taskdef-family/", base(scope))
}

/// The record of one family: its revision counter and how many revisions are active.
pub fn family(scope: &Scope, family: &str) -> String {
    format!("{}{family}", families(scope))
}

/// The prefix of every task definition revision.
pub fn task_definitions(scope: &Scope) -> String {
    format!("{}taskdef/", base(scope))
}

/// The prefix of the revisions of one family. The separator `+` sorts below every character a
/// family may hold, so revisions list in family order (`web` before `web-2`) and the prefix of
/// `web` does not match `web2`.
pub fn family_revisions(scope: &Scope, family: &str) -> String {
    format!("{}{family}+", task_definitions(scope))
}

/// One task definition revision.
pub fn task_definition(scope: &Scope, family: &str, revision: i32) -> String {
    format!("{}{revision:010}", family_revisions(scope, family))
}

/// The prefix of every capacity provider.
pub fn capacity_providers(scope: &Scope) -> String {
    format!("{}capacity-provider/", base(scope))
}

/// One capacity provider.
pub fn capacity_provider(scope: &Scope, name: &str) -> String {
    format!("{}{name}", capacity_providers(scope))
}

/// The claim an Auto Scaling group's capacity provider holds on the group: a group backs one
/// provider at most, and a second record makes that rule a compare-and-set rather than a scan.
pub fn capacity_provider_asg_claim(scope: &Scope, group: &str) -> String {
    format!("{}capacity-provider-asg/{group}", base(scope))
}

/// The prefix of the account settings of every principal.
pub fn account_settings(scope: &Scope) -> String {
    format!("{}account-setting/", base(scope))
}

/// One principal's value of one setting. The principal ARN holds no `|`.
pub fn account_setting(scope: &Scope, principal: &str, name: &str) -> String {
    format!("{}{principal}|{name}", account_settings(scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_sort_numerically_and_families_do_not_overlap() {
        let scope = Scope::new("us-east-1", "000000000000");
        assert!(task_definition(&scope, "web", 9) < task_definition(&scope, "web", 10));
        assert!(!task_definition(&scope, "web2", 1).starts_with(&family_revisions(&scope, "web")));
        assert!(task_definition(&scope, "web", 99) < task_definition(&scope, "web-2", 1));
        assert!(!cluster(&Scope::new("us-east-2", "000000000000"), "a").starts_with(&clusters(&scope)));
    }
}
