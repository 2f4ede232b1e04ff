//! Container instances through the AWS SDK: register, re-register, describe, list, drain,
//! deregister, DiscoverPollEndpoint, and DeleteCluster while instances remain.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_sdk_ecs::types::{
    Attribute, ContainerInstance, ContainerInstanceField, ContainerInstanceStatus, PlatformDevice,
    PlatformDeviceType, Resource, Tag, VersionInfo,
};
use berth_api::arn::Scope;
use berth_api::model::{Task, TaskDefinition};
use berth_server::state::container_instances::{self, ContainerInstanceRecord};
use berth_server::state::keys;
use berth_server::state::records::{self, encode};
use berth_server::state::tasks::{Reservation, TaskRecord};
use berth_store::{Compare, Op, Txn};
use common::TestServer;

const ACCOUNT: &str = "000000000000";

fn scope() -> Scope {
    Scope::new("us-east-1", ACCOUNT)
}

fn integer(name: &str, value: i32) -> Resource {
    Resource::builder().name(name).r#type("INTEGER").integer_value(value).build()
}

fn strings(name: &str, values: &[&str]) -> Resource {
    let mut builder = Resource::builder().name(name).r#type("STRINGSET");
    for value in values {
        builder = builder.string_set_value(*value);
    }
    builder.build()
}

/// What the ECS agent reports for a 2-vCPU, 4 GB machine.
fn machine(memory: i32) -> Vec<Resource> {
    vec![
        integer("CPU", 2048),
        integer("MEMORY", memory),
        strings("PORTS", &["22", "2375", "2376", "51678", "51679"]),
        strings("PORTS_UDP", &[]),
    ]
}

fn attribute(name: &str, value: Option<&str>) -> Attribute {
    Attribute::builder().name(name).set_value(value.map(String::from)).build().expect("attribute")
}

const IDENTITY: &str = r#"{"accountId":"123456789012","architecture":"x86_64","availabilityZone":"us-east-1c",
  "imageId":"ami-0abcdef1234567890","instanceId":"i-0123456789abcdef0","instanceType":"m5.large",
  "pendingTime":"2024-05-01T10:00:00Z","privateIp":"10.0.1.17","region":"us-east-1","version":"2017-09-30"}"#;

async fn create_cluster(server: &TestServer, name: &str) {
    server.client.create_cluster().cluster_name(name).send().await.expect("create cluster");
}

/// Registers a plain instance in `cluster` with the given custom attributes.
async fn register(server: &TestServer, cluster: &str, attributes: &[(&str, &str)]) -> ContainerInstance {
    let mut request =
        server.client.register_container_instance().cluster(cluster).set_total_resources(Some(machine(3943)));
    for (name, value) in attributes {
        request = request.attributes(attribute(name, Some(value)));
    }
    request.send().await.expect("register").container_instance.expect("instance")
}

fn arn_of(instance: &ContainerInstance) -> String {
    instance.container_instance_arn().expect("arn").to_string()
}

fn id_of(instance: &ContainerInstance) -> String {
    arn_of(instance).rsplit('/').next().expect("id").to_string()
}

fn value_of<'a>(instance: &'a ContainerInstance, name: &str) -> Option<&'a str> {
    instance.attributes().iter().find(|a| a.name() == name).and_then(|a| a.value())
}

fn resource<'a>(resources: &'a [Resource], name: &str) -> &'a Resource {
    resources.iter().find(|r| r.name() == Some(name)).unwrap_or_else(|| panic!("no {name} resource"))
}

fn ports(resources: &[Resource], name: &str) -> BTreeSet<String> {
    resource(resources, name).string_set_value().iter().cloned().collect()
}

async fn describe(server: &TestServer, cluster: &str, reference: &str) -> ContainerInstance {
    let described = server
        .client
        .describe_container_instances()
        .cluster(cluster)
        .container_instances(reference)
        .include(ContainerInstanceField::Tags)
        .send()
        .await
        .expect("describe");
    described.container_instances().first().cloned().expect("described")
}

/// Puts a task on an instance the way placement commits one: the task record, its entry in the
/// instance's index, and the instance with the task's demand reserved, in one transaction under
/// a compare on the instance.
async fn place_task(
    server: &TestServer,
    cluster: &str,
    instance_id: &str,
    task_id: &str,
    group: &str,
) -> String {
    let scope = scope();
    let instance_key = keys::container_instance(&scope, cluster, instance_id);
    let current = records::get::<ContainerInstanceRecord>(&*server.store, &instance_key)
        .await
        .expect("read")
        .expect("instance");
    let mut instance = current.value;
    let reservation = Reservation { cpu: 512, memory: 1024, tcp_ports: vec![8080], ..Reservation::default() };
    container_instances::reserve(&mut instance.instance, &reservation.demand());
    instance.instance.version = Some(instance.instance.version.unwrap_or(0) + 1);
    let task_arn = scope.task_arn(cluster, task_id);
    let task = TaskRecord {
        task: Task {
            task_arn: Some(task_arn.clone()),
            cluster_arn: Some(scope.cluster_arn(cluster)),
            container_instance_arn: instance.instance.container_instance_arn.clone(),
            last_status: Some("PENDING".into()),
            desired_status: Some("RUNNING".into()),
            group: Some(group.into()),
            version: Some(1),
            ..Task::default()
        },
        cluster: cluster.into(),
        instance_id: Some(instance_id.into()),
        task_definition: TaskDefinition { family: Some("web".into()), ..TaskDefinition::default() },
        reservation,
        released: false,
        counted_running: false,
    };
    let index_key = keys::instance_task(&scope, cluster, instance_id, task_id);
    let assignment = task.assignment();
    let txn = Txn::new()
        .when(Compare::unchanged(&instance_key, current.revision))
        .then(Op::put(&instance_key, encode(&instance).expect("encode")))
        .then(Op::put(keys::task(&scope, cluster, task_id), encode(&task).expect("encode")))
        .then(Op::put(index_key, encode(&assignment).expect("encode")));
    assert!(matches!(server.store.txn(txn).await.expect("txn"), berth_store::TxnOutcome::Committed { .. }));
    task_arn
}

#[tokio::test]
async fn register_then_describe_shows_every_member() {
    let server = common::start().await;
    create_cluster(&server, "prod").await;
    let before = aws_smithy_types_now();
    let registered = server
        .client
        .register_container_instance()
        .cluster("prod")
        .instance_identity_document(IDENTITY)
        .set_total_resources(Some(machine(3943)))
        .version_info(
            VersionInfo::builder()
                .agent_version("1.82.0")
                .agent_hash("4e5c4e6b")
                .docker_version("25.0.3")
                .build(),
        )
        .attributes(attribute("ecs.capability.privileged-container", None))
        .attributes(attribute("stack", Some("prod")))
        .tags(Tag::builder().key("team").value("platform").build())
        .send()
        .await
        .expect("register")
        .container_instance
        .expect("instance");
    let arn = arn_of(&registered);
    let id = id_of(&registered);
    assert_eq!(arn, format!("arn:aws:ecs:us-east-1:{ACCOUNT}:container-instance/prod/{id}"));
    assert_eq!(id.len(), 32, "ECS's long id format");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));

    let described = describe(&server, "prod", &id).await;
    assert_eq!(described, describe(&server, "prod", &arn).await, "by id or by ARN");
    assert_eq!(described.status(), Some("ACTIVE"));
    assert_eq!(described.ec2_instance_id(), Some("i-0123456789abcdef0"));
    assert!(!described.agent_connected(), "no agent session yet");
    assert_eq!((described.running_tasks_count(), described.pending_tasks_count()), (0, 0));
    assert_eq!(described.version(), 1);
    let registered_at = described.registered_at().expect("registeredAt").secs();
    assert!((before - 5..=before + 60).contains(&registered_at), "{registered_at} vs {before}");
    let version = described.version_info().expect("versionInfo");
    assert_eq!(
        (version.agent_version(), version.agent_hash(), version.docker_version()),
        (Some("1.82.0"), Some("4e5c4e6b"), Some("25.0.3"))
    );
    for resources in [described.registered_resources(), described.remaining_resources()] {
        assert_eq!(resource(resources, "CPU").integer_value(), 2048);
        assert_eq!(resource(resources, "MEMORY").integer_value(), 3943);
        assert_eq!(resource(resources, "CPU").r#type(), Some("INTEGER"));
        let reserved: BTreeSet<String> = ["22", "2375", "2376", "51678", "51679"].map(String::from).into();
        assert_eq!(ports(resources, "PORTS"), reserved, "remaining PORTS lists the ports taken");
        assert!(ports(resources, "PORTS_UDP").is_empty());
    }
    assert_eq!(value_of(&described, "stack"), Some("prod"));
    assert!(described.attributes().iter().any(|a| a.name() == "ecs.capability.privileged-container"));
    assert_eq!(value_of(&described, "ecs.os-type"), Some("linux"), "ECS's automatic attribute");
    assert_eq!(value_of(&described, "ecs.availability-zone"), Some("us-east-1c"));
    assert_eq!(value_of(&described, "ecs.instance-type"), Some("m5.large"));
    assert_eq!(value_of(&described, "ecs.ami-id"), Some("ami-0abcdef1234567890"));
    assert_eq!(described.tags(), &[Tag::builder().key("team").value("platform").build()]);

    let plain = server
        .client
        .describe_container_instances()
        .cluster("prod")
        .container_instances(&id)
        .container_instances("0123456789abcdef0123456789abcdef")
        .include(ContainerInstanceField::ContainerInstanceHealth)
        .send()
        .await
        .expect("describe");
    let shown = &plain.container_instances()[0];
    assert!(shown.tags().is_empty(), "tags only when asked for");
    let health = shown.health_status().expect("health asked for");
    assert_eq!(health.overall_status().map(|s| s.as_str()), Some("INSUFFICIENT_DATA"));
    let failure = &plain.failures()[0];
    assert_eq!(failure.reason(), Some("MISSING"));
    assert_eq!(
        failure.arn(),
        Some(
            format!(
                "arn:aws:ecs:us-east-1:{ACCOUNT}:container-instance/prod/0123456789abcdef0123456789abcdef"
            )
            .as_str()
        )
    );
    let clusters = server.client.describe_clusters().clusters("prod").send().await.expect("describe cluster");
    assert_eq!(clusters.clusters()[0].registered_container_instances_count(), 1);
}

/// Now in epoch seconds.
fn aws_smithy_types_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[tokio::test]
async fn an_agent_that_restarts_re_registers_the_same_instance() {
    let server = common::start().await;
    create_cluster(&server, "prod").await;
    let first = register(&server, "prod", &[("stack", "prod")]).await;
    let (arn, id) = (arn_of(&first), id_of(&first));
    server
        .client
        .put_attributes()
        .cluster("prod")
        .attributes(
            Attribute::builder().name("owner").value("web").target_id(&arn).build().expect("attribute"),
        )
        .send()
        .await
        .expect("put attribute");
    place_task(&server, "prod", &id, "t1", "family:web").await;

    let again = server
        .client
        .register_container_instance()
        .cluster("prod")
        .container_instance_arn(&arn)
        .set_total_resources(Some(machine(7975)))
        .version_info(VersionInfo::builder().agent_version("1.83.0").build())
        .attributes(attribute("ecs.capability.new", None))
        .send()
        .await
        .expect("re-register")
        .container_instance
        .expect("instance");
    assert_eq!(arn_of(&again), arn, "the same instance");
    let described = describe(&server, "prod", &id).await;
    assert_eq!(described.registered_at(), first.registered_at(), "registration time is kept");
    assert!(described.version() > first.version());
    assert_eq!(described.pending_tasks_count(), 1, "its task is still counted");
    assert_eq!(resource(described.registered_resources(), "MEMORY").integer_value(), 7975);
    // Remaining is the new registration minus what the task holds: 7975 - 1024, 2048 - 512.
    assert_eq!(resource(described.remaining_resources(), "MEMORY").integer_value(), 6951);
    assert_eq!(resource(described.remaining_resources(), "CPU").integer_value(), 1536);
    assert!(ports(described.remaining_resources(), "PORTS").contains("8080"), "the task's port stays taken");
    assert_eq!(described.version_info().and_then(|v| v.agent_version()), Some("1.83.0"));
    assert_eq!(value_of(&described, "owner"), Some("web"), "custom attributes survive");
    assert_eq!(value_of(&described, "stack"), Some("prod"), "custom attributes survive");
    assert!(described.attributes().iter().any(|a| a.name() == "ecs.capability.new"));
    let listed = server.client.list_container_instances().cluster("prod").send().await.expect("list");
    assert_eq!(listed.container_instance_arns(), std::slice::from_ref(&arn), "still one instance");

    create_cluster(&server, "other").await;
    assert_refused!(
        server,
        "InvalidParameterException",
        server
            .client
            .register_container_instance()
            .cluster("other")
            .container_instance_arn(&arn)
            .set_total_resources(Some(machine(3943)))
            .send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        server
            .client
            .register_container_instance()
            .cluster("prod")
            .container_instance_arn(format!(
                "arn:aws:ecs:us-east-1:{ACCOUNT}:container-instance/prod/{}",
                "f".repeat(32)
            ))
            .set_total_resources(Some(machine(3943)))
            .send()
    );
    let moved = IDENTITY.replace("i-0123456789abcdef0", "i-0fffffffffffffff0");
    server
        .client
        .register_container_instance()
        .cluster("prod")
        .container_instance_arn(&arn)
        .instance_identity_document(IDENTITY)
        .set_total_resources(Some(machine(3943)))
        .send()
        .await
        .expect("re-register from the same machine");
    assert_refused!(
        server,
        "InvalidParameterException",
        server
            .client
            .register_container_instance()
            .cluster("prod")
            .container_instance_arn(&arn)
            .instance_identity_document(moved)
            .set_total_resources(Some(machine(3943)))
            .send()
    );
}

#[tokio::test]
async fn list_filters_by_status_and_expression_and_pages() {
    let server = common::start().await;
    create_cluster(&server, "prod").await;
    let mut arns = Vec::new();
    for i in 0..6 {
        let stack = if i % 2 == 0 { "prod" } else { "dev" };
        arns.push(arn_of(&register(&server, "prod", &[("stack", stack)]).await));
    }
    arns.sort(); // Listing is in id order, and ids are the end of the ARNs.
    let ecs = &server.client;
    ecs.update_container_instances_state()
        .cluster("prod")
        .container_instances(&arns[1])
        .status(ContainerInstanceStatus::Draining)
        .send()
        .await
        .expect("drain");
    ecs.deregister_container_instance()
        .cluster("prod")
        .container_instance(&arns[2])
        .send()
        .await
        .expect("deregister");

    let list = |status: Option<ContainerInstanceStatus>, filter: Option<&str>| {
        ecs.list_container_instances()
            .cluster("prod")
            .set_status(status)
            .set_filter(filter.map(String::from))
            .send()
    };
    let all = list(None, None).await.expect("list");
    let expected: Vec<_> = arns.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, a)| a.clone()).collect();
    assert_eq!(all.container_instance_arns(), expected, "every instance but the deregistered one");
    let draining = list(Some(ContainerInstanceStatus::Draining), None).await.expect("list draining");
    assert_eq!(draining.container_instance_arns(), &[arns[1].clone()]);
    let inactive = list(Some(ContainerInstanceStatus::from("INACTIVE")), None).await.expect("list inactive");
    assert_eq!(inactive.container_instance_arns(), &[arns[2].clone()]);
    let active = list(Some(ContainerInstanceStatus::Active), None).await.expect("list active");
    assert_eq!(active.container_instance_arns().len(), 4);

    let prod = list(None, Some("attribute:stack == prod")).await.expect("filter");
    let described = ecs
        .describe_container_instances()
        .cluster("prod")
        .set_container_instances(Some(prod.container_instance_arns().to_vec()))
        .send()
        .await
        .expect("describe");
    assert!(!described.container_instances().is_empty());
    assert!(described.container_instances().iter().all(|i| value_of(i, "stack") == Some("prod")));
    assert!(described.container_instances().iter().all(|i| i.status() != Some("INACTIVE")));
    let dev_or_draining =
        list(None, Some("attribute:stack == dev or attribute:ecs.os-type != linux")).await.expect("filter");
    assert_eq!(dev_or_draining.container_instance_arns().len() + prod.container_instance_arns().len(), 5);

    // Expressions about tasks read the instances' tasks.
    let busy = &arns[3];
    let busy_id = busy.rsplit('/').next().expect("id");
    place_task(&server, "prod", busy_id, "t1", "service:api").await;
    let with_tasks = list(None, Some("runningTasksCount > 0")).await.expect("filter on tasks");
    assert_eq!(with_tasks.container_instance_arns(), std::slice::from_ref(busy));
    let by_group = list(None, Some("task:group == service:api")).await.expect("filter on groups");
    assert_eq!(by_group.container_instance_arns(), std::slice::from_ref(busy));

    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = ecs
            .list_container_instances()
            .cluster("prod")
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .expect("page");
        assert!(page.container_instance_arns().len() <= 2);
        paged.extend(page.container_instance_arns().iter().cloned());
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, expected, "pages walk every instance once, in order");

    assert_refused!(server, "InvalidParameterException", list(None, Some("attribute:stack ==")));
    assert_refused!(server, "InvalidParameterException", list(None, Some("color == red")));
    assert_refused!(
        server,
        "InvalidParameterException",
        list(Some(ContainerInstanceStatus::from("GONE")), None)
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.list_container_instances().cluster("prod").next_token("bogus").send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.list_container_instances().cluster("prod").max_results(101).send()
    );
    let first_page =
        ecs.list_container_instances().cluster("prod").max_results(1).send().await.expect("page");
    create_cluster(&server, "other").await;
    let foreign = ecs
        .list_container_instances()
        .cluster("other")
        .set_next_token(first_page.next_token().map(String::from));
    assert_refused!(server, "InvalidParameterException", foreign.send());
    assert_refused!(
        server,
        "ClusterNotFoundException",
        ecs.list_container_instances().cluster("nope").send()
    );
    let empty = ecs.list_container_instances().cluster("other").send().await.expect("list empty");
    assert!(empty.container_instance_arns().is_empty());
}

#[tokio::test]
async fn draining_and_reactivating_an_instance() {
    let server = common::start().await;
    create_cluster(&server, "prod").await;
    let instance = register(&server, "prod", &[]).await;
    let gone = register(&server, "prod", &[]).await;
    server
        .client
        .deregister_container_instance()
        .cluster("prod")
        .container_instance(arn_of(&gone))
        .send()
        .await
        .expect("deregister");
    let update = |status: ContainerInstanceStatus, references: &[String]| {
        server
            .client
            .update_container_instances_state()
            .cluster("prod")
            .set_container_instances(Some(references.to_vec()))
            .status(status)
    };
    let missing = "0123456789abcdef0123456789abcdef".to_string();
    let drained =
        update(ContainerInstanceStatus::Draining, &[id_of(&instance), missing.clone(), arn_of(&gone)])
            .send()
            .await
            .expect("drain");
    assert_eq!(drained.container_instances().len(), 1);
    assert_eq!(drained.container_instances()[0].status(), Some("DRAINING"));
    assert_eq!(drained.container_instances()[0].version(), instance.version() + 1);
    let reasons: Vec<_> = drained
        .failures()
        .iter()
        .map(|f| (f.arn().unwrap_or_default(), f.reason().unwrap_or_default()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                format!("arn:aws:ecs:us-east-1:{ACCOUNT}:container-instance/prod/{missing}").as_str(),
                "MISSING"
            ),
            (arn_of(&gone).as_str(), "INACTIVE"),
        ]
    );
    assert_eq!(describe(&server, "prod", &id_of(&instance)).await.status(), Some("DRAINING"));

    let revision = server.revision().await;
    let again =
        update(ContainerInstanceStatus::Draining, &[arn_of(&instance)]).send().await.expect("drain again");
    assert_eq!(again.container_instances()[0].status(), Some("DRAINING"));
    assert_eq!(server.revision().await, revision, "nothing to change, nothing written");

    let active =
        update(ContainerInstanceStatus::Active, &[arn_of(&instance)]).send().await.expect("activate");
    assert_eq!(active.container_instances()[0].status(), Some("ACTIVE"));

    for status in ["INACTIVE", "REGISTERING", "DEREGISTERING", "nonsense"] {
        assert_refused!(
            server,
            "InvalidParameterException",
            update(ContainerInstanceStatus::from(status), &[arn_of(&instance)]).send()
        );
    }
    let eleven: Vec<String> = (0..11).map(|_| arn_of(&instance)).collect();
    assert_refused!(
        server,
        "InvalidParameterException",
        update(ContainerInstanceStatus::Draining, &eleven).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        update(ContainerInstanceStatus::Draining, &[]).send()
    );
    assert_refused!(
        server,
        "ClusterNotFoundException",
        server
            .client
            .update_container_instances_state()
            .cluster("nope")
            .container_instances("x")
            .status(ContainerInstanceStatus::Draining)
            .send()
    );
}

#[tokio::test]
async fn deregistering_is_final_and_needs_force_while_tasks_remain() {
    let server = common::start().await;
    create_cluster(&server, "prod").await;
    let instance = register(&server, "prod", &[]).await;
    let (arn, id) = (arn_of(&instance), id_of(&instance));
    let task_arn = place_task(&server, "prod", &id, "t1", "family:web").await;
    let deregister = |force: Option<bool>| {
        server
            .client
            .deregister_container_instance()
            .cluster("prod")
            .container_instance(&arn)
            .set_force(force)
    };
    assert_refused!(server, "InvalidParameterException", deregister(None).send());
    assert_refused!(server, "InvalidParameterException", deregister(Some(false)).send());
    let forced = deregister(Some(true)).send().await.expect("forced").container_instance.expect("instance");
    assert_eq!(forced.status(), Some("INACTIVE"));

    let described = describe(&server, "prod", &arn).await;
    assert_eq!(described.status(), Some("INACTIVE"), "deregistered instances stay describable");
    let listed = server.client.list_container_instances().cluster("prod").send().await.expect("list");
    assert!(listed.container_instance_arns().is_empty());
    // Its task is orphaned, not stopped.
    let task = records::get::<TaskRecord>(&*server.store, &keys::task(&scope(), "prod", "t1"))
        .await
        .expect("read")
        .expect("task kept");
    assert_eq!(task.value.task.task_arn.as_deref(), Some(task_arn.as_str()));
    assert_eq!(task.value.task.desired_status.as_deref(), Some("RUNNING"));

    let revision = server.revision().await;
    let again =
        deregister(None).send().await.expect("deregister again").container_instance.expect("instance");
    assert_eq!(again.status(), Some("INACTIVE"));
    assert_eq!(server.revision().await, revision, "already deregistered: nothing written");
    assert_refused!(
        server,
        "ClientException",
        server
            .client
            .register_container_instance()
            .cluster("prod")
            .container_instance_arn(&arn)
            .set_total_resources(Some(machine(3943)))
            .send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        server
            .client
            .deregister_container_instance()
            .cluster("prod")
            .container_instance("0123456789abcdef0123456789abcdef")
            .send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        server.client.deregister_container_instance().cluster("prod").container_instance("a/b").send()
    );
    assert_refused!(
        server,
        "ClusterNotFoundException",
        server.client.deregister_container_instance().cluster("nope").container_instance(&id).send()
    );
}

#[tokio::test]
async fn a_cluster_is_deleted_only_once_its_instances_deregister() {
    let server = common::start().await;
    create_cluster(&server, "prod").await;
    let instance = register(&server, "prod", &[]).await;
    assert_refused!(
        server,
        "ClusterContainsContainerInstancesException",
        server.client.delete_cluster().cluster("prod").send()
    );
    server
        .client
        .update_container_instances_state()
        .cluster("prod")
        .container_instances(arn_of(&instance))
        .status(ContainerInstanceStatus::Draining)
        .send()
        .await
        .expect("drain");
    assert_refused!(
        server,
        "ClusterContainsContainerInstancesException",
        server.client.delete_cluster().cluster("prod").send()
    );
    server
        .client
        .deregister_container_instance()
        .cluster("prod")
        .container_instance(arn_of(&instance))
        .send()
        .await
        .expect("deregister");
    let deleted = server.client.delete_cluster().cluster("prod").send().await.expect("delete");
    assert_eq!(deleted.cluster().and_then(|c| c.status()), Some("INACTIVE"));
    assert_refused!(
        server,
        "ClusterNotFoundException",
        server
            .client
            .register_container_instance()
            .cluster("prod")
            .set_total_resources(Some(machine(3943)))
            .send()
    );
}

/// Registrations racing a DeleteCluster: whichever wins, a deleted cluster never ends up with a
/// registered instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registration_never_lands_in_a_deleted_cluster() {
    let server = Arc::new(common::start().await);
    for round in 0..12 {
        let cluster = format!("race{round}");
        create_cluster(&server, &cluster).await;
        let mut racers = Vec::new();
        for _ in 0..4 {
            let server = server.clone();
            let cluster = cluster.clone();
            racers.push(tokio::spawn(async move {
                let _ = server
                    .client
                    .register_container_instance()
                    .cluster(&cluster)
                    .set_total_resources(Some(machine(3943)))
                    .send()
                    .await;
            }));
        }
        let deleted = server.client.delete_cluster().cluster(&cluster).send().await.is_ok();
        for racer in racers {
            racer.await.expect("racer");
        }
        let registered =
            container_instances::registered_count(&*server.store, &scope(), &cluster).await.expect("count");
        let status =
            server.client.describe_clusters().clusters(&cluster).send().await.expect("describe").clusters()
                [0]
            .status()
            .map(String::from);
        assert_eq!(deleted, status.as_deref() == Some("INACTIVE"));
        if deleted {
            assert_eq!(registered, 0, "round {round}: an instance registered in a deleted cluster");
        }
    }
}

#[tokio::test]
async fn bad_registrations_are_refused_and_write_nothing() {
    let server = common::start().await;
    create_cluster(&server, "prod").await;
    let register = || {
        server.client.register_container_instance().cluster("prod").set_total_resources(Some(machine(3943)))
    };
    let with = |resources: Vec<Resource>| {
        server.client.register_container_instance().cluster("prod").set_total_resources(Some(resources))
    };
    assert_refused!(server, "ClusterNotFoundException", register().cluster("nope").send());
    assert_refused!(
        server,
        "ClusterNotFoundException",
        register().cluster("arn:aws:ecs:eu-west-1:000000000000:cluster/prod").send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        register().instance_identity_document("{not json").send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        register().instance_identity_document(r#"{"instanceId": 7}"#).send()
    );
    assert_refused!(server, "InvalidParameterException", with(vec![integer("CPU", 1024)]).send());
    assert_refused!(
        server,
        "InvalidParameterException",
        with(vec![integer("CPU", 1024), integer("MEMORY", -5)]).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        with(vec![integer("CPU", 1024), integer("MEMORY", 512), strings("PORTS", &["ssh"])]).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        with(vec![integer("CPU", 1024), integer("MEMORY", 512), integer("CPU", 2)]).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        register().attributes(attribute("bad name", None)).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        register().attributes(attribute("stack", Some(" padded"))).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        register().attributes(attribute("stack", Some("a"))).attributes(attribute("stack", Some("b"))).send()
    );
    let mut crowded = register();
    for i in 0..11 {
        crowded = crowded.attributes(attribute(&format!("custom{i}"), Some("x")));
    }
    assert_refused!(server, "InvalidParameterException", crowded.send());
    assert_refused!(
        server,
        "InvalidParameterException",
        register().tags(Tag::builder().key("aws:owner").value("x").build()).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        register().container_instance_arn("arn:aws:ecs:us-east-1:000000000000:task/prod/x").send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        register()
            .platform_devices(
                PlatformDevice::builder()
                    .id("gpu0")
                    .r#type(PlatformDeviceType::from("FPGA"))
                    .build()
                    .expect("device")
            )
            .send()
    );
    let with_gpu = register()
        .platform_devices(
            PlatformDevice::builder().id("GPU-abc").r#type(PlatformDeviceType::Gpu).build().expect("device"),
        )
        .send()
        .await
        .expect("register with a GPU")
        .container_instance
        .expect("instance");
    assert_eq!(resource(with_gpu.registered_resources(), "GPU").string_set_value(), &["GPU-abc".to_string()]);
}

#[tokio::test]
async fn describe_refuses_bad_requests() {
    let server = common::start().await;
    create_cluster(&server, "prod").await;
    let describe = || server.client.describe_container_instances().cluster("prod");
    let many: Vec<String> = (0..101).map(|i| format!("{i:032x}")).collect();
    assert_refused!(
        server,
        "InvalidParameterException",
        describe().set_container_instances(Some(many)).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        describe().set_container_instances(Some(Vec::new())).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        describe().container_instances("x").include(ContainerInstanceField::from("EVERYTHING")).send()
    );
    assert_refused!(
        server,
        "ClusterNotFoundException",
        describe().cluster("nope").container_instances("x").send()
    );
    let odd = describe()
        .container_instances("a/b")
        .container_instances("arn:aws:ecs:us-east-1:000000000000:container-instance/other/abc")
        .send()
        .await
        .expect("describe");
    assert_eq!(odd.failures().len(), 2);
    assert!(odd.failures().iter().all(|f| f.reason() == Some("MISSING")));
}

#[tokio::test]
async fn discover_poll_endpoint_names_the_control_plane() {
    // A server on a port known before it starts, since the endpoint is its configured address.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("probe").local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn berth_store::Store> =
        Arc::new(berth_store::RedbStore::open(dir.path().join("berth.redb")).expect("store"));
    let config = berth_server::ServerConfig {
        listen: format!("127.0.0.1:{port}").parse().expect("address"),
        ..berth_server::ServerConfig::default()
    };
    let running = berth_server::start_with_store(config, store).await.expect("server starts");
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = common::client(&endpoint, "us-east-1");
    let found = client.discover_poll_endpoint().send().await.expect("discover");
    assert_eq!(found.endpoint(), Some(endpoint.as_str()));
    assert_eq!(found.telemetry_endpoint(), Some(endpoint.as_str()));
    assert_eq!(found.service_connect_endpoint(), Some(endpoint.as_str()));
    let refused = client.discover_poll_endpoint().cluster("arn:nonsense").send().await;
    assert_eq!(common::code(refused), "InvalidParameterException");
    running.shutdown().await.expect("shutdown");
}
