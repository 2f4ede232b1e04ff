//! ECS's quotas answer `LimitExceededException` and change nothing.

mod common;

use aws_sdk_ecs::types::ContainerDefinition;

#[tokio::test]
async fn a_cluster_takes_at_most_twenty_capacity_providers() {
    let server = common::start().await;
    server.client.create_cluster().cluster_name("many").send().await.expect("create");
    let mut request =
        server.client.put_cluster_capacity_providers().cluster("many").capacity_providers("FARGATE");
    for i in 0..20 {
        request = request.capacity_providers(format!("provider-{i}"));
    }
    assert_refused!(
        server,
        "LimitExceededException",
        request.set_default_capacity_provider_strategy(Some(vec![])).send()
    );
}

#[tokio::test]
async fn a_family_takes_at_most_a_million_revisions() {
    let server = common::start().await;
    // Reaching the quota by registering a million revisions would take minutes; the family's
    // record is written as it stands after the millionth, as the server itself keeps it.
    let record = br#"{"family":"full","last_revision":1000000,"latest_active":1000000,"active_count":1,"existing_count":1}"#;
    let key = "/us-east-1/000000000000/taskdef-family/full";
    server
        .store
        .txn(berth_store::Txn::new().then(berth_store::Op::put(key, record.to_vec())))
        .await
        .expect("write");
    let container = ContainerDefinition::builder().name("app").image("busybox").memory(64).build();
    assert_refused!(
        server,
        "LimitExceededException",
        server
            .client
            .register_task_definition()
            .family("full")
            .container_definitions(container.clone())
            .send()
    );
    // Other families are not affected.
    server
        .client
        .register_task_definition()
        .family("fresh")
        .container_definitions(container)
        .send()
        .await
        .expect("register");
}
