//! CreateCapacityProvider, DescribeCapacityProviders, UpdateCapacityProvider and
//! DeleteCapacityProvider through the AWS SDK for Rust, against a server on a loopback port.
//!
//! Every refusal is checked for its exact ECS error code and for having stored nothing. Clusters
//! belong to another module, so the tests that need one write its record directly, in the shape the
//! cluster operations store (`model::Cluster` at `keys::cluster`), and `check_usable` is called the
//! way those operations call it.

mod common;

use aws_sdk_ecs::operation::create_capacity_provider::builders::CreateCapacityProviderFluentBuilder;
use aws_sdk_ecs::types::builders::ManagedScalingBuilder;
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProvider, CapacityProviderField,
    CreateManagedInstancesProviderConfiguration, InstanceLaunchTemplate, ManagedDraining,
    ManagedInstancesNetworkConfiguration, ManagedScaling, ManagedScalingStatus, ManagedTerminationProtection,
    Tag, UpdateManagedInstancesProviderConfiguration,
};
use berth_api::arn::Scope;
use berth_api::model::Cluster;
use berth_server::Ctx;
use berth_server::ops::capacity_providers::check_usable;
use berth_server::state::{keys, records};
use common::{TestServer, code, start};

/// The region and account the harness's client acts in.
fn scope() -> Scope {
    Scope::new("us-east-1", "000000000000")
}

fn asg_arn(group: &str) -> String {
    format!("arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:5d1c:autoScalingGroupName/{group}")
}

fn asg(group: &str) -> AutoScalingGroupProvider {
    AutoScalingGroupProvider::builder()
        .auto_scaling_group_arn(asg_arn(group))
        .build()
        .expect("an ASG provider")
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn create(server: &TestServer, name: &str, group: &str) -> CreateCapacityProviderFluentBuilder {
    server.client.create_capacity_provider().name(name).auto_scaling_group_provider(asg(group))
}

/// The names of every provider, walking all pages.
async fn all_names(server: &TestServer) -> Vec<String> {
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = server
            .client
            .describe_capacity_providers()
            .set_next_token(token)
            .send()
            .await
            .expect("describe all");
        names.extend(page.capacity_providers().iter().filter_map(|p| p.name().map(str::to_string)));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return names;
        }
    }
}

async fn describe_one(server: &TestServer, name: &str) -> CapacityProvider {
    let out = server
        .client
        .describe_capacity_providers()
        .capacity_providers(name)
        .include(CapacityProviderField::Tags)
        .send()
        .await
        .expect("describe");
    assert!(out.failures().is_empty(), "{:?}", out.failures());
    out.capacity_providers().first().cloned().expect("one provider")
}

async fn seed_cluster(server: &TestServer, name: &str, providers: &[&str]) {
    let cluster = Cluster {
        cluster_arn: Some(scope().cluster_arn(name)),
        cluster_name: Some(name.to_string()),
        status: Some("ACTIVE".to_string()),
        capacity_providers: Some(providers.iter().map(|p| p.to_string()).collect()),
        ..Cluster::default()
    };
    records::put(&*server.store, &keys::cluster(&scope(), name), &cluster).await.expect("seed a cluster");
}

#[tokio::test]
async fn fargate_and_fargate_spot_always_exist_and_cannot_change() {
    let server = start().await;
    assert_eq!(all_names(&server).await, ["FARGATE", "FARGATE_SPOT"]);
    for name in ["FARGATE", "FARGATE_SPOT"] {
        let provider = describe_one(&server, name).await;
        assert_eq!(provider.capacity_provider_arn(), Some(scope().capacity_provider_arn(name).as_str()));
        assert_eq!(provider.status().map(|s| s.as_str()), Some("ACTIVE"));
        assert_eq!(provider.r#type().map(|t| t.as_str()), Some(name));
        assert!(provider.auto_scaling_group_provider().is_none());
        assert_refused!(server, "ClientException", create(&server, name, "g").send());
        let update = server
            .client
            .update_capacity_provider()
            .name(name)
            .auto_scaling_group_provider(AutoScalingGroupProviderUpdate::builder().build());
        assert_refused!(server, "ClientException", update.send());
        assert_refused!(
            server,
            "ClientException",
            server.client.delete_capacity_provider().capacity_provider(name).send()
        );
    }
    assert_eq!(all_names(&server).await, ["FARGATE", "FARGATE_SPOT"]);
    server.stop().await;
}

#[tokio::test]
async fn create_describe_update_delete_round_trip() {
    let server = start().await;
    let scaling = ManagedScaling::builder()
        .status(ManagedScalingStatus::Enabled)
        .target_capacity(90)
        .minimum_scaling_step_size(2)
        .maximum_scaling_step_size(50)
        .instance_warmup_period(120)
        .build();
    let group = AutoScalingGroupProvider::builder()
        .auto_scaling_group_arn(asg_arn("web"))
        .managed_scaling(scaling.clone())
        .managed_termination_protection(ManagedTerminationProtection::Enabled)
        .managed_draining(ManagedDraining::Disabled)
        .build()
        .expect("an ASG provider");
    let created = server
        .client
        .create_capacity_provider()
        .name("web-cp")
        .auto_scaling_group_provider(group.clone())
        .tags(tag("team", "platform"))
        .send()
        .await
        .expect("create")
        .capacity_provider
        .expect("a provider");
    let arn = scope().capacity_provider_arn("web-cp");
    assert_eq!(created.capacity_provider_arn(), Some(arn.as_str()));
    assert_eq!(created.name(), Some("web-cp"));
    assert_eq!(created.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(created.r#type().map(|t| t.as_str()), Some("EC2_AUTOSCALING"));
    assert_eq!(created.auto_scaling_group_provider(), Some(&group));
    assert_eq!(created.tags(), [tag("team", "platform")]);
    assert!(created.cluster().is_none() && created.update_status().is_none());

    // Described by name with tags, it is what was created; without `include`, tags are left out.
    assert_eq!(describe_one(&server, "web-cp").await, created);
    let by_arn =
        server.client.describe_capacity_providers().capacity_providers(&arn).send().await.expect("describe");
    assert!(by_arn.capacity_providers()[0].tags.is_none());

    // A partial update changes only what it names.
    let update = AutoScalingGroupProviderUpdate::builder()
        .managed_scaling(ManagedScaling::builder().target_capacity(75).build())
        .managed_draining(ManagedDraining::Enabled)
        .build();
    let updated = server
        .client
        .update_capacity_provider()
        .name("web-cp")
        .auto_scaling_group_provider(update)
        .send()
        .await
        .expect("update")
        .capacity_provider
        .expect("a provider");
    let asg = updated.auto_scaling_group_provider().expect("ASG settings");
    let merged = asg.managed_scaling().expect("scaling");
    assert_eq!(merged.target_capacity(), Some(75));
    assert_eq!(merged.maximum_scaling_step_size(), Some(50));
    assert_eq!(merged.status(), Some(&ManagedScalingStatus::Enabled));
    assert_eq!(asg.managed_draining(), Some(&ManagedDraining::Enabled));
    assert_eq!(asg.managed_termination_protection(), Some(&ManagedTerminationProtection::Enabled));
    assert_eq!(updated.update_status().map(|s| s.as_str()), Some("UPDATE_COMPLETE"));
    assert_eq!(describe_one(&server, "web-cp").await, updated);

    // Deleted, it answers INACTIVE once and is then gone; its name and group are free again.
    let deleted = server
        .client
        .delete_capacity_provider()
        .capacity_provider(&arn)
        .send()
        .await
        .expect("delete")
        .capacity_provider
        .expect("a provider");
    assert_eq!(deleted.status().map(|s| s.as_str()), Some("INACTIVE"));
    assert_eq!(deleted.update_status().map(|s| s.as_str()), Some("DELETE_COMPLETE"));
    let after = server
        .client
        .describe_capacity_providers()
        .capacity_providers("web-cp")
        .send()
        .await
        .expect("describe");
    assert!(after.capacity_providers().is_empty());
    assert_eq!(after.failures()[0].arn(), Some(arn.as_str()));
    assert_eq!(after.failures()[0].reason(), Some("MISSING"));
    create(&server, "web-cp", "web").send().await.expect("the name and group are free again");
    server.stop().await;
}

#[tokio::test]
async fn ecs_defaults_are_filled_in() {
    let server = start().await;
    let created = create(&server, "plain", "plain")
        .send()
        .await
        .expect("create")
        .capacity_provider
        .expect("a provider");
    let asg = created.auto_scaling_group_provider().expect("ASG settings");
    let scaling = asg.managed_scaling().expect("scaling");
    assert_eq!(scaling.status(), Some(&ManagedScalingStatus::Disabled));
    assert_eq!(scaling.target_capacity(), Some(100));
    assert_eq!(scaling.minimum_scaling_step_size(), Some(1));
    assert_eq!(scaling.maximum_scaling_step_size(), Some(10_000));
    assert_eq!(scaling.instance_warmup_period(), Some(300));
    assert_eq!(asg.managed_termination_protection(), Some(&ManagedTerminationProtection::Disabled));
    assert_eq!(asg.managed_draining(), Some(&ManagedDraining::Enabled));
    assert!(created.tags().is_empty());
    server.stop().await;
}

fn scaling_with(
    change: impl FnOnce(ManagedScalingBuilder) -> ManagedScalingBuilder,
) -> AutoScalingGroupProvider {
    AutoScalingGroupProvider::builder()
        .auto_scaling_group_arn(asg_arn("bad"))
        .managed_scaling(change(ManagedScaling::builder()).build())
        .build()
        .expect("an ASG provider")
}

#[tokio::test]
async fn invalid_creates_are_refused_and_store_nothing() {
    let server = start().await;
    let c = &server.client;
    let with_asg = |provider: AutoScalingGroupProvider| {
        c.create_capacity_provider().name("bad").auto_scaling_group_provider(provider)
    };
    let cases: Vec<(&str, CreateCapacityProviderFluentBuilder, &str)> = vec![
        ("name with a space", create(&server, "has space", "g1"), "ClientException"),
        ("name too long", create(&server, &"a".repeat(256), "g1"), "ClientException"),
        ("name prefixed aws", create(&server, "AwsThing", "g1"), "ClientException"),
        ("name prefixed ecs", create(&server, "ecs-cp", "g1"), "ClientException"),
        ("name prefixed fargate", create(&server, "fargate2", "g1"), "ClientException"),
        (
            "no name",
            c.create_capacity_provider().auto_scaling_group_provider(asg("g1")),
            "InvalidParameterException",
        ),
        ("no provider", c.create_capacity_provider().name("bad"), "InvalidParameterException"),
        (
            "empty group",
            with_asg(AutoScalingGroupProvider::builder().auto_scaling_group_arn("").build().expect("built")),
            "InvalidParameterException",
        ),
        ("target 0", with_asg(scaling_with(|s| s.target_capacity(0))), "InvalidParameterException"),
        ("target 101", with_asg(scaling_with(|s| s.target_capacity(101))), "InvalidParameterException"),
        (
            "min step 0",
            with_asg(scaling_with(|s| s.minimum_scaling_step_size(0))),
            "InvalidParameterException",
        ),
        (
            "max step 10001",
            with_asg(scaling_with(|s| s.maximum_scaling_step_size(10_001))),
            "InvalidParameterException",
        ),
        (
            "min over max",
            with_asg(scaling_with(|s| s.minimum_scaling_step_size(9).maximum_scaling_step_size(8))),
            "InvalidParameterException",
        ),
        ("warm-up -1", with_asg(scaling_with(|s| s.instance_warmup_period(-1))), "InvalidParameterException"),
        (
            "warm-up 10001",
            with_asg(scaling_with(|s| s.instance_warmup_period(10_001))),
            "InvalidParameterException",
        ),
        (
            "scaling status",
            with_asg(scaling_with(|s| s.status(ManagedScalingStatus::from("MAYBE")))),
            "InvalidParameterException",
        ),
        (
            "termination protection",
            with_asg(
                AutoScalingGroupProvider::builder()
                    .auto_scaling_group_arn(asg_arn("g1"))
                    .managed_termination_protection(ManagedTerminationProtection::from("ON"))
                    .build()
                    .expect("built"),
            ),
            "InvalidParameterException",
        ),
        (
            "draining",
            with_asg(
                AutoScalingGroupProvider::builder()
                    .auto_scaling_group_arn(asg_arn("g1"))
                    .managed_draining(ManagedDraining::from("ON"))
                    .build()
                    .expect("built"),
            ),
            "InvalidParameterException",
        ),
        (
            "reserved tag",
            create(&server, "bad", "g1").tags(tag("aws:owner", "me")),
            "InvalidParameterException",
        ),
        (
            "cluster on an ASG provider",
            create(&server, "bad", "g1").cluster("prod"),
            "InvalidParameterException",
        ),
        (
            "both kinds",
            create(&server, "bad", "g1").managed_instances_provider(managed_instances("sub-1")),
            "InvalidParameterException",
        ),
        (
            "managed instances without cluster",
            c.create_capacity_provider().name("bad").managed_instances_provider(managed_instances("sub-1")),
            "InvalidParameterException",
        ),
        (
            "managed instances, unknown cluster",
            c.create_capacity_provider()
                .name("bad")
                .cluster("nope")
                .managed_instances_provider(managed_instances("sub-1")),
            "ClusterNotFoundException",
        ),
    ];
    let before = server.revision().await;
    for (case, request, expected) in cases {
        assert_eq!(code(request.send().await), expected, "{case}");
        assert_eq!(server.revision().await, before, "{case} wrote to the store");
    }
    assert_eq!(all_names(&server).await, ["FARGATE", "FARGATE_SPOT"]);
    server.stop().await;
}

#[tokio::test]
async fn names_and_auto_scaling_groups_are_unique() {
    let server = start().await;
    create(&server, "first", "shared").send().await.expect("create");
    assert_refused!(server, "ClientException", create(&server, "first", "other").send());
    assert_refused!(server, "ClientException", create(&server, "second", "shared").send());
    // The group's bare name is the same group as its ARN.
    let by_name =
        AutoScalingGroupProvider::builder().auto_scaling_group_arn("shared").build().expect("built");
    let third = server.client.create_capacity_provider().name("third").auto_scaling_group_provider(by_name);
    assert_refused!(server, "ClientException", third.send());
    assert_eq!(all_names(&server).await, ["FARGATE", "FARGATE_SPOT", "first"]);
    server.stop().await;
}

#[tokio::test]
async fn pagination_walks_every_provider_exactly_once() {
    let server = start().await;
    for i in 0..13 {
        create(&server, &format!("cp-{i:02}"), &format!("g{i}")).send().await.expect("create");
    }
    let mut expected: Vec<String> = (0..13).map(|i| format!("cp-{i:02}")).collect();
    expected.extend(["FARGATE".to_string(), "FARGATE_SPOT".to_string()]);
    expected.sort();

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = server
            .client
            .describe_capacity_providers()
            .max_results(4)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("a page");
        assert!(page.capacity_providers().len() <= 4);
        seen.extend(page.capacity_providers().iter().filter_map(|p| p.name().map(str::to_string)));
        pages += 1;
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 4);

    // Without maxResults, pages hold 10.
    let first = server.client.describe_capacity_providers().send().await.expect("a page");
    assert_eq!(first.capacity_providers().len(), 10);
    assert!(first.next_token().is_some());

    for bad in [0, 11] {
        assert_refused!(
            server,
            "InvalidParameterException",
            server.client.describe_capacity_providers().max_results(bad).send()
        );
    }
    assert_refused!(
        server,
        "InvalidParameterException",
        server.client.describe_capacity_providers().next_token("garbage").send()
    );
    server.stop().await;
}

#[tokio::test]
async fn named_describes_report_unknown_names_as_missing() {
    let server = start().await;
    create(&server, "known", "g").send().await.expect("create");
    let other_region = Scope::new("eu-west-1", "000000000000").capacity_provider_arn("known");
    let out = server
        .client
        .describe_capacity_providers()
        .capacity_providers("known")
        .capacity_providers("FARGATE")
        .capacity_providers("nope")
        .capacity_providers(&other_region)
        .capacity_providers("known")
        .send()
        .await
        .expect("describe");
    let names: Vec<_> = out.capacity_providers().iter().filter_map(|p| p.name()).collect();
    assert_eq!(names, ["known", "FARGATE"]);
    let failures: Vec<_> = out
        .failures()
        .iter()
        .map(|f| (f.arn().unwrap_or_default(), f.reason().unwrap_or_default()))
        .collect();
    let nope = scope().capacity_provider_arn("nope");
    assert_eq!(failures, [(nope.as_str(), "MISSING"), (other_region.as_str(), "MISSING")]);

    let bad_include =
        server.client.describe_capacity_providers().include(CapacityProviderField::from("STATS"));
    assert_refused!(server, "InvalidParameterException", bad_include.send());
    server.stop().await;
}

#[tokio::test]
async fn invalid_updates_change_nothing() {
    let server = start().await;
    let created =
        create(&server, "steady", "g").send().await.expect("create").capacity_provider.expect("a provider");
    let update = |name: &str| server.client.update_capacity_provider().name(name);
    let bad_scaling = AutoScalingGroupProviderUpdate::builder()
        .managed_scaling(ManagedScaling::builder().minimum_scaling_step_size(20_000).build())
        .build();
    let wrong_kind = UpdateManagedInstancesProviderConfiguration::builder()
        .infrastructure_role_arn("arn:aws:iam::000000000000:role/r")
        .build()
        .expect("built");
    let cases = vec![
        (
            "unknown",
            update("nope").auto_scaling_group_provider(AutoScalingGroupProviderUpdate::builder().build()),
            "ClientException",
        ),
        ("no settings", update("steady"), "InvalidParameterException"),
        (
            "out of range",
            update("steady").auto_scaling_group_provider(bad_scaling),
            "InvalidParameterException",
        ),
        ("wrong kind", update("steady").managed_instances_provider(wrong_kind), "InvalidParameterException"),
        (
            "unknown cluster",
            update("steady")
                .cluster("nope")
                .auto_scaling_group_provider(AutoScalingGroupProviderUpdate::builder().build()),
            "ClusterNotFoundException",
        ),
    ];
    let before = server.revision().await;
    for (case, request, expected) in cases {
        assert_eq!(code(request.send().await), expected, "{case}");
        assert_eq!(server.revision().await, before, "{case} wrote to the store");
    }
    assert_eq!(describe_one(&server, "steady").await, created);
    assert_refused!(
        server,
        "ClientException",
        server.client.delete_capacity_provider().capacity_provider("nope").send()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_provider_in_use_by_a_cluster_fails_to_delete_as_ecs_reports_it() {
    let server = start().await;
    create(&server, "busy", "g").send().await.expect("create");
    seed_cluster(&server, "prod", &["busy", "FARGATE"]).await;
    let answer = server
        .client
        .delete_capacity_provider()
        .capacity_provider("busy")
        .send()
        .await
        .expect("ECS answers a refused delete with a status, not an error")
        .capacity_provider
        .expect("a provider");
    assert_eq!(answer.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(answer.update_status().map(|s| s.as_str()), Some("DELETE_FAILED"));
    assert!(answer.update_status_reason().unwrap_or_default().contains("prod"));
    assert_eq!(
        describe_one(&server, "busy").await.update_status().map(|s| s.as_str()),
        Some("DELETE_FAILED")
    );

    // Once the cluster lets go of it, it deletes.
    seed_cluster(&server, "prod", &["FARGATE"]).await;
    let deleted =
        server.client.delete_capacity_provider().capacity_provider("busy").send().await.expect("delete");
    assert_eq!(deleted.capacity_provider().and_then(|p| p.status()).map(|s| s.as_str()), Some("INACTIVE"));
    server.stop().await;
}

#[tokio::test]
async fn describe_filters_by_cluster() {
    let server = start().await;
    create(&server, "a", "ga").send().await.expect("create");
    create(&server, "b", "gb").send().await.expect("create");
    seed_cluster(&server, "prod", &["a", "FARGATE"]).await;
    let out = server.client.describe_capacity_providers().cluster("prod").send().await.expect("describe");
    let names: Vec<_> = out.capacity_providers().iter().filter_map(|p| p.name()).collect();
    assert_eq!(names, ["FARGATE", "a"]);
    assert_refused!(
        server,
        "ClusterNotFoundException",
        server.client.describe_capacity_providers().cluster("nope").send()
    );
    server.stop().await;
}

#[tokio::test]
async fn check_usable_enforces_what_clusters_may_use() {
    let server = start().await;
    let ctx = Ctx::new(server.store.clone(), scope().clone());
    create(&server, "mine", "g1").send().await.expect("create");
    create(&server, "theirs", "g2").send().await.expect("create");
    seed_cluster(&server, "other", &["theirs"]).await;
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(check_usable(&ctx, "prod", &names(&["FARGATE", "FARGATE_SPOT", "mine"])).await.is_ok());
    assert!(check_usable(&ctx, "other", &names(&["theirs"])).await.is_ok());
    let by_arn = [scope().capacity_provider_arn("FARGATE"), scope().capacity_provider_arn("mine")];
    assert!(check_usable(&ctx, "prod", &by_arn).await.is_ok());
    for refused in ["theirs", "nope"] {
        let err = check_usable(&ctx, "prod", &names(&[refused])).await.expect_err(refused);
        assert_eq!(err.code, berth_api::ErrorCode::InvalidParameterException);
        assert!(err.message.contains(refused), "{}", err.message);
    }
    server.stop().await;
}

fn managed_instances(subnet: &str) -> CreateManagedInstancesProviderConfiguration {
    let template = InstanceLaunchTemplate::builder()
        .ec2_instance_profile_arn("arn:aws:iam::000000000000:instance-profile/ecs")
        .network_configuration(ManagedInstancesNetworkConfiguration::builder().subnets(subnet).build())
        .build()
        .expect("a launch template");
    CreateManagedInstancesProviderConfiguration::builder()
        .infrastructure_role_arn("arn:aws:iam::000000000000:role/ecs-infra")
        .instance_launch_template(template)
        .build()
        .expect("a managed instances provider")
}

#[tokio::test]
async fn managed_instances_providers_belong_to_their_cluster() {
    let server = start().await;
    let ctx = Ctx::new(server.store.clone(), scope().clone());
    seed_cluster(&server, "prod", &[]).await;
    let created = server
        .client
        .create_capacity_provider()
        .name("mi")
        .cluster("prod")
        .managed_instances_provider(managed_instances("subnet-1"))
        .send()
        .await
        .expect("create")
        .capacity_provider
        .expect("a provider");
    assert_eq!(created.r#type().map(|t| t.as_str()), Some("MANAGED_INSTANCES"));
    assert_eq!(created.cluster(), Some("prod"));
    let template =
        created.managed_instances_provider().and_then(|m| m.instance_launch_template()).expect("a template");
    assert_eq!(template.network_configuration().map(|n| n.subnets()), Some(&["subnet-1".to_string()][..]));

    let in_prod = server.client.describe_capacity_providers().cluster("prod").send().await.expect("describe");
    assert_eq!(in_prod.capacity_providers().iter().filter_map(|p| p.name()).collect::<Vec<_>>(), ["mi"]);
    assert!(check_usable(&ctx, "prod", &["mi".to_string()]).await.is_ok());
    assert!(check_usable(&ctx, "dev", &["mi".to_string()]).await.is_err());

    let change = UpdateManagedInstancesProviderConfiguration::builder()
        .infrastructure_role_arn("arn:aws:iam::000000000000:role/new")
        .build()
        .expect("built");
    let updated = server
        .client
        .update_capacity_provider()
        .name("mi")
        .cluster("prod")
        .managed_instances_provider(change)
        .send()
        .await
        .expect("update")
        .capacity_provider
        .expect("a provider");
    let managed = updated.managed_instances_provider().expect("settings");
    assert_eq!(managed.infrastructure_role_arn(), Some("arn:aws:iam::000000000000:role/new"));
    assert_eq!(managed.instance_launch_template(), Some(template));

    // The cluster cannot go while its own provider is attached.
    let before = server.revision().await;
    let refused = server.client.delete_cluster().cluster("prod").send().await;
    assert_eq!(code(refused), "ClusterContainsCapacityProviderException");
    assert_eq!(server.revision().await, before);
    server
        .client
        .delete_capacity_provider()
        .capacity_provider("mi")
        .cluster("prod")
        .send()
        .await
        .expect("delete");
    server.client.delete_cluster().cluster("prod").send().await.expect("the cluster is free to go");
    server.stop().await;
}

#[tokio::test]
async fn clusters_associate_providers_through_the_sdk() {
    let server = start().await;
    let ecs = &server.client;
    create(&server, "asg-cp", "g").send().await.expect("create");
    ecs.create_cluster()
        .cluster_name("prod")
        .capacity_providers("asg-cp")
        .capacity_providers("FARGATE")
        .send()
        .await
        .expect("a cluster using the provider");
    // A group-backed provider serves one cluster; an unknown one serves none.
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.create_cluster().cluster_name("dev").capacity_providers("asg-cp").send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.create_cluster().cluster_name("dev").capacity_providers("nope").send()
    );

    let refused = ecs.delete_capacity_provider().capacity_provider("asg-cp").send().await.expect("answered");
    assert_eq!(
        refused.capacity_provider().and_then(|p| p.update_status()).map(|s| s.as_str()),
        Some("DELETE_FAILED")
    );
    ecs.put_cluster_capacity_providers()
        .cluster("prod")
        .capacity_providers("FARGATE")
        .set_default_capacity_provider_strategy(Some(Vec::new()))
        .send()
        .await
        .expect("the cluster lets go of the provider");
    let deleted = ecs.delete_capacity_provider().capacity_provider("asg-cp").send().await.expect("delete");
    assert_eq!(deleted.capacity_provider().and_then(|p| p.status()).map(|s| s.as_str()), Some("INACTIVE"));
    server.stop().await;
}
