//! Clusters through the AWS SDK: create, describe, list, update, capacity providers, delete.

mod common;

use aws_sdk_ecs::types::{ClusterField, ClusterSetting, ClusterSettingName, Tag};

#[tokio::test]
async fn create_is_idempotent_and_describe_shows_what_was_asked() {
    let server = common::start().await;
    let ecs = &server.client;
    let tag = Tag::builder().key("team").value("platform").build();
    let created = ecs.create_cluster().cluster_name("prod").tags(tag.clone()).send().await.expect("create");
    let cluster = created.cluster().expect("cluster");
    assert_eq!(cluster.cluster_arn(), Some("arn:aws:ecs:us-east-1:000000000000:cluster/prod"));
    assert_eq!(cluster.status(), Some("ACTIVE"));
    let revision = server.revision().await;
    let again = ecs.create_cluster().cluster_name("prod").send().await.expect("create again");
    assert_eq!(again.cluster().and_then(|c| c.cluster_arn()), cluster.cluster_arn());
    assert_eq!(server.revision().await, revision + 1, "an idempotent create rewrites the same record");

    let described = ecs
        .describe_clusters()
        .clusters("prod")
        .clusters("arn:aws:ecs:us-east-1:000000000000:cluster/missing")
        .include(ClusterField::Tags)
        .include(ClusterField::Settings)
        .send()
        .await
        .expect("describe");
    let found = &described.clusters()[0];
    assert_eq!(found.tags(), &[tag]);
    assert_eq!(found.settings()[0].value(), Some("disabled"));
    assert_eq!(found.registered_container_instances_count(), 0);
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));
    assert_eq!(described.failures()[0].arn(), Some("arn:aws:ecs:us-east-1:000000000000:cluster/missing"));
    server.stop().await;
}

#[tokio::test]
async fn without_a_name_the_cluster_is_default() {
    let server = common::start().await;
    server.client.create_cluster().send().await.expect("create");
    let described = server.client.describe_clusters().send().await.expect("describe");
    assert_eq!(described.clusters()[0].cluster_name(), Some("default"));
}

#[tokio::test]
async fn list_paginates_in_name_order_and_rejects_foreign_tokens() {
    let server = common::start().await;
    for i in 0..7 {
        server.client.create_cluster().cluster_name(format!("c{i}")).send().await.expect("create");
    }
    server.client.delete_cluster().cluster("c3").send().await.expect("delete");
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page =
            server.client.list_clusters().max_results(2).set_next_token(token).send().await.expect("list");
        seen.extend(
            page.cluster_arns().iter().map(|arn| arn.rsplit('/').next().unwrap_or_default().to_string()),
        );
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["c0", "c1", "c2", "c4", "c5", "c6"]);
    let refused = server.client.list_clusters().next_token("bogus").send().await;
    assert_eq!(common::code(refused), "InvalidParameterException");
    let refused = server.client.list_clusters().max_results(101).send().await;
    assert_eq!(common::code(refused), "InvalidParameterException");
}

#[tokio::test]
async fn deleted_clusters_read_as_inactive_and_can_be_created_again() {
    let server = common::start().await;
    server.client.create_cluster().cluster_name("temp").send().await.expect("create");
    let deleted = server.client.delete_cluster().cluster("temp").send().await.expect("delete");
    assert_eq!(deleted.cluster().and_then(|c| c.status()), Some("INACTIVE"));
    let described = server.client.describe_clusters().clusters("temp").send().await.expect("describe");
    assert_eq!(described.clusters()[0].status(), Some("INACTIVE"));
    assert_refused!(
        server,
        "ClusterNotFoundException",
        server.client.delete_cluster().cluster("temp").send()
    );
    assert_refused!(
        server,
        "ClusterNotFoundException",
        server.client.update_cluster_settings().cluster("temp").settings(insights("enabled")).send()
    );
    let recreated = server.client.create_cluster().cluster_name("temp").send().await.expect("create");
    assert_eq!(recreated.cluster().and_then(|c| c.status()), Some("ACTIVE"));
}

#[tokio::test]
async fn a_cluster_holding_instances_cannot_be_deleted() {
    let server = common::start().await;
    server.client.create_cluster().cluster_name("busy").send().await.expect("create");
    // Container instances are registered by agents; write one the way the agent path stores it.
    let key = "/us-east-1/000000000000/container-instance/busy/0123456789abcdef";
    let txn = berth_store::Txn::new().then(berth_store::Op::put(key, b"{}".to_vec()));
    server.store.txn(txn).await.expect("write");
    assert_refused!(
        server,
        "ClusterContainsContainerInstancesException",
        server.client.delete_cluster().cluster("busy").send()
    );
    let described = server.client.describe_clusters().clusters("busy").send().await.expect("describe");
    assert_eq!(described.clusters()[0].registered_container_instances_count(), 1);
}

fn insights(value: &str) -> ClusterSetting {
    ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value(value).build()
}

#[tokio::test]
async fn settings_and_configuration_update_in_place() {
    let server = common::start().await;
    server.client.create_cluster().cluster_name("s").send().await.expect("create");
    let updated = server
        .client
        .update_cluster_settings()
        .cluster("s")
        .settings(insights("enhanced"))
        .send()
        .await
        .expect("update settings");
    assert_eq!(updated.cluster().expect("cluster").settings()[0].value(), Some("enhanced"));
    assert_refused!(
        server,
        "InvalidParameterException",
        server.client.update_cluster_settings().cluster("s").settings(insights("sometimes")).send()
    );
    let configuration = aws_sdk_ecs::types::ClusterConfiguration::builder()
        .execute_command_configuration(
            aws_sdk_ecs::types::ExecuteCommandConfiguration::builder()
                .logging(aws_sdk_ecs::types::ExecuteCommandLogging::Default)
                .build(),
        )
        .build();
    server
        .client
        .update_cluster()
        .cluster("s")
        .configuration(configuration.clone())
        .send()
        .await
        .expect("update");
    let described = server
        .client
        .describe_clusters()
        .clusters("s")
        .include(ClusterField::Configurations)
        .send()
        .await
        .expect("describe");
    assert_eq!(described.clusters()[0].configuration(), Some(&configuration));
}

#[tokio::test]
async fn bad_names_are_refused_and_store_nothing() {
    let server = common::start().await;
    for name in ["has space", "dot.ted", &"x".repeat(256)] {
        assert_refused!(
            server,
            "InvalidParameterException",
            server.client.create_cluster().cluster_name(name).send()
        );
    }
    assert_refused!(
        server,
        "InvalidParameterException",
        server.client.describe_clusters().include(ClusterField::from("EVERYTHING")).send()
    );
}

#[tokio::test]
async fn capacity_provider_strategy_must_use_the_cluster_providers() {
    let server = common::start().await;
    server.client.create_cluster().cluster_name("cp").send().await.expect("create");
    let item = |name: &str, weight: i32, base: i32| {
        aws_sdk_ecs::types::CapacityProviderStrategyItem::builder()
            .capacity_provider(name)
            .weight(weight)
            .base(base)
            .build()
            .expect("item")
    };
    let put = server
        .client
        .put_cluster_capacity_providers()
        .cluster("cp")
        .capacity_providers("FARGATE")
        .capacity_providers("FARGATE_SPOT")
        .default_capacity_provider_strategy(item("FARGATE", 1, 1))
        .default_capacity_provider_strategy(item("FARGATE_SPOT", 4, 0))
        .send()
        .await
        .expect("put");
    assert_eq!(put.cluster().expect("cluster").capacity_providers(), ["FARGATE", "FARGATE_SPOT"]);
    assert_refused!(
        server,
        "InvalidParameterException",
        server
            .client
            .put_cluster_capacity_providers()
            .cluster("cp")
            .capacity_providers("FARGATE")
            .default_capacity_provider_strategy(item("FARGATE_SPOT", 1, 0))
            .send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        server
            .client
            .put_cluster_capacity_providers()
            .cluster("cp")
            .capacity_providers("FARGATE")
            .default_capacity_provider_strategy(item("FARGATE", 1001, 0))
            .send()
    );
}

#[tokio::test]
async fn the_region_of_the_signature_partitions_state() {
    let server = common::start().await;
    let west = common::client(&server.endpoint, "eu-west-1");
    let created = west.create_cluster().cluster_name("regional").send().await.expect("create");
    assert_eq!(
        created.cluster().and_then(|c| c.cluster_arn()),
        Some("arn:aws:ecs:eu-west-1:000000000000:cluster/regional")
    );
    assert!(server.client.list_clusters().send().await.expect("list").cluster_arns().is_empty());
    assert_eq!(west.list_clusters().send().await.expect("list").cluster_arns().len(), 1);
}
