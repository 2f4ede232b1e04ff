//! Services through the AWS SDK: CreateService, UpdateService, DeleteService, DescribeServices,
//! ListServices, the deployment history (ListServiceDeployments, DescribeServiceDeployments,
//! DescribeServiceRevisions, StopServiceDeployment), task sets of EXTERNAL services, and tags.
//! Refused requests must write nothing. The service controller may run beside the API and move
//! counts and rollout states, so these tests assert what the API itself decides.

mod common;

use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentConfiguration, DeploymentController, DeploymentControllerType, LaunchType,
    LoadBalancer, PlacementStrategy, PlacementStrategyType, PropagateTags, Scale, ScaleUnit,
    SchedulingStrategy, ServiceField, Tag,
};
use std::sync::Arc;

use berth_server::state::services::{self, ServiceRecord};
use berth_server::state::{keys, records};
use berth_server::{AppState, ServerConfig};
use berth_store::{RedbStore, Store};

const CLUSTER: &str = "prod";

/// The API alone, without the service controller that runs beside it in a full server: these
/// tests check what the API decides and writes, and a controller pass between two reads of the
/// store would make "a refused request writes nothing" unobservable.
struct ApiServer {
    client: aws_sdk_ecs::Client,
    store: Arc<dyn Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl ApiServer {
    async fn revision(&self) -> u64 {
        self.store.revision().await.expect("store revision")
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start_api() -> ApiServer {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store: Arc<dyn Store> =
        Arc::new(RedbStore::open(dir.path().join("berth.redb")).expect("store opens"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let config = ServerConfig { listen: addr, ..ServerConfig::default() };
    let state = AppState { store: store.clone(), config: Arc::new(config), connections: Default::default() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(berth_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    ApiServer {
        client: common::client(&format!("http://{addr}"), "us-east-1"),
        store,
        stop: Some(stop),
        _dir: dir,
    }
}

/// A cluster `prod` and two revisions of the task definition `web`, served by the API alone.
async fn setup() -> ApiServer {
    let server = start_api().await;
    let ecs = &server.client;
    ecs.create_cluster().cluster_name(CLUSTER).send().await.expect("cluster");
    for image in ["nginx:1", "nginx:2"] {
        let app = ContainerDefinition::builder().name("app").image(image).cpu(128).memory(128).build();
        ecs.register_task_definition().family("web").container_definitions(app).send().await.expect("web");
    }
    server
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

async fn create(server: &ApiServer, name: &str, desired: i32) -> aws_sdk_ecs::types::Service {
    server
        .client
        .create_service()
        .cluster(CLUSTER)
        .service_name(name)
        .task_definition("web:1")
        .desired_count(desired)
        .send()
        .await
        .expect("service created")
        .service
        .expect("service")
}

async fn describe(server: &ApiServer, name: &str) -> aws_sdk_ecs::types::Service {
    let out =
        server.client.describe_services().cluster(CLUSTER).services(name).send().await.expect("described");
    out.services().first().cloned().expect("one service")
}

#[tokio::test]
async fn a_created_service_has_every_member_and_ecs_defaults() {
    let server = setup().await;
    let created = server
        .client
        .create_service()
        .cluster(CLUSTER)
        .service_name("web")
        .task_definition("web")
        .desired_count(2)
        .tags(tag("team", "web"))
        .enable_execute_command(true)
        .propagate_tags(PropagateTags::Service)
        .health_check_grace_period_seconds(30)
        .send()
        .await
        .expect("created")
        .service
        .expect("service");
    assert_eq!(created.service_arn(), Some("arn:aws:ecs:us-east-1:000000000000:service/prod/web"));
    assert_eq!(created.cluster_arn(), Some("arn:aws:ecs:us-east-1:000000000000:cluster/prod"));
    assert_eq!(created.status(), Some("ACTIVE"));
    assert_eq!(created.desired_count(), 2);
    assert_eq!(created.launch_type(), Some(&LaunchType::Ec2));
    assert_eq!(created.task_definition(), Some("arn:aws:ecs:us-east-1:000000000000:task-definition/web:2"));
    assert_eq!(created.scheduling_strategy(), Some(&SchedulingStrategy::Replica));
    assert_eq!(created.deployment_controller().map(|c| c.r#type()), Some(&DeploymentControllerType::Ecs));
    let config = created.deployment_configuration().expect("deployment configuration");
    assert_eq!((config.maximum_percent(), config.minimum_healthy_percent()), (Some(200), Some(100)));
    let breaker = config.deployment_circuit_breaker().expect("circuit breaker");
    assert!(!breaker.enable() && !breaker.rollback());
    let strategies: Vec<_> = created
        .placement_strategy()
        .iter()
        .map(|s| (s.r#type().cloned(), s.field().map(String::from)))
        .collect();
    assert_eq!(
        strategies,
        vec![
            (Some(PlacementStrategyType::Spread), Some("attribute:ecs.availability-zone".to_string())),
            (Some(PlacementStrategyType::Spread), Some("instanceId".to_string())),
        ]
    );
    assert_eq!(created.propagate_tags(), Some(&PropagateTags::Service));
    assert!(created.enable_execute_command());
    assert!(!created.enable_ecs_managed_tags());
    assert_eq!(created.health_check_grace_period_seconds(), Some(30));
    assert_eq!(created.created_by(), Some("arn:aws:iam::000000000000:root"));
    assert!(created.created_at().is_some());
    let deployments = created.deployments();
    assert_eq!(deployments.len(), 1);
    let primary = &deployments[0];
    assert_eq!(primary.status(), Some("PRIMARY"));
    assert_eq!(primary.desired_count(), 2);
    let id = primary.id().expect("deployment id");
    assert!(
        id.starts_with("ecs-svc/") && id.len() == 27 && id[8..].bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(primary.rollout_state().map(|s| s.as_str()), Some("IN_PROGRESS"));
    assert_eq!(primary.rollout_state_reason(), Some(format!("ECS deployment {id} in progress.").as_str()));
    assert!(created.current_service_deployment().is_some_and(|arn| {
        arn.starts_with("arn:aws:ecs:us-east-1:000000000000:service-deployment/prod/web/")
    }));
    assert_eq!(created.tags().len(), 1);

    let described = describe(&server, "web").await;
    assert!(described.tags().is_empty(), "tags only come with include TAGS");
    assert_eq!(described.service_arn(), created.service_arn());
    let with_tags = server
        .client
        .describe_services()
        .cluster(CLUSTER)
        .services("arn:aws:ecs:us-east-1:000000000000:service/prod/web")
        .services("nothing")
        .include(ServiceField::Tags)
        .send()
        .await
        .expect("described");
    assert_eq!(with_tags.services().len(), 1);
    assert_eq!(with_tags.services()[0].tags(), &[tag("team", "web")]);
    let failures = with_tags.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].reason(), Some("MISSING"));
    assert_eq!(failures[0].arn(), Some("arn:aws:ecs:us-east-1:000000000000:service/prod/nothing"));

    let listed = server.client.list_services().cluster(CLUSTER).send().await.expect("listed");
    assert_eq!(listed.service_arns(), &["arn:aws:ecs:us-east-1:000000000000:service/prod/web".to_string()]);
    let cluster = server.client.describe_clusters().clusters(CLUSTER).send().await.expect("cluster");
    assert_eq!(cluster.clusters()[0].active_services_count(), 1);
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_with_ecs_codes_and_write_nothing() {
    let server = setup().await;
    let ecs = &server.client;
    create(&server, "web", 1).await;
    let base = || {
        ecs.create_service().cluster(CLUSTER).service_name("other").task_definition("web:1").desired_count(1)
    };
    assert_refused!(server, "ClusterNotFoundException", base().cluster("nope").send());
    assert_refused!(server, "InvalidParameterException", base().service_name("bad name").send());
    assert_refused!(server, "InvalidParameterException", base().desired_count(-1).send());
    assert_refused!(server, "LimitExceededException", base().desired_count(10_001).send());
    assert_refused!(server, "InvalidParameterException", base().service_name("web").send());
    assert_refused!(server, "ClientException", base().task_definition("missing:1").send());
    assert_refused!(server, "UnsupportedFeatureException", base().launch_type(LaunchType::Fargate).send());
    assert_refused!(
        server,
        "UnsupportedFeatureException",
        base()
            .load_balancers(
                LoadBalancer::builder()
                    .target_group_arn("arn:aws:elasticloadbalancing:tg")
                    .container_name("app")
                    .build()
            )
            .send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        base()
            .deployment_configuration(DeploymentConfiguration::builder().maximum_percent(50).build())
            .send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        base()
            .deployment_configuration(DeploymentConfiguration::builder().minimum_healthy_percent(150).build())
            .send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        base().scheduling_strategy(SchedulingStrategy::Daemon).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.create_service()
            .cluster(CLUSTER)
            .service_name("daemon")
            .task_definition("web:1")
            .scheduling_strategy(SchedulingStrategy::Daemon)
            .placement_strategy(PlacementStrategy::builder().r#type(PlacementStrategyType::Random).build())
            .send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        base()
            .placement_strategy(
                PlacementStrategy::builder().r#type(PlacementStrategyType::Binpack).field("disk").build()
            )
            .send()
    );
    assert_refused!(server, "InvalidParameterException", base().platform_version("LATEST").send());
    ecs.deregister_task_definition().task_definition("web:1").send().await.expect("deregistered");
    assert_refused!(server, "InvalidParameterException", base().send());

    assert_refused!(
        server,
        "ServiceNotFoundException",
        ecs.update_service().cluster(CLUSTER).service("nope").desired_count(1).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.update_service().cluster(CLUSTER).service("web").desired_count(-2).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.update_service().cluster(CLUSTER).service("web").task_definition("web:1").send()
    );
    assert_refused!(
        server,
        "ServiceNotFoundException",
        ecs.delete_service().cluster(CLUSTER).service("nope").send()
    );
    assert_refused!(server, "ClusterNotFoundException", ecs.list_services().cluster("nope").send());
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.list_services().cluster(CLUSTER).max_results(101).send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.list_services().cluster(CLUSTER).next_token("garbage").send()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_token_makes_creation_idempotent() {
    let server = setup().await;
    let request = || {
        server
            .client
            .create_service()
            .cluster(CLUSTER)
            .service_name("web")
            .task_definition("web:1")
            .desired_count(1)
    };
    let first = request().client_token("token-1").send().await.expect("created").service.expect("service");
    let before = server.revision().await;
    let again = request().client_token("token-1").send().await.expect("retried").service.expect("service");
    assert_eq!(again.created_at(), first.created_at());
    assert_eq!(again.deployments()[0].id(), first.deployments()[0].id());
    assert_eq!(server.revision().await, before, "a retry writes nothing");
    assert_refused!(
        server,
        "InvalidParameterException",
        request().client_token("token-1").desired_count(3).send()
    );
    assert_refused!(server, "InvalidParameterException", request().client_token("token-2").send());
    assert_refused!(server, "InvalidParameterException", request().send());
    server.stop().await;
}

#[tokio::test]
async fn updates_change_counts_in_place_and_start_deployments_for_new_tasks() {
    let server = setup().await;
    let ecs = &server.client;
    let created = create(&server, "web", 1).await;
    let first_id = created.deployments()[0].id().expect("id").to_string();

    let scaled =
        ecs.update_service().cluster(CLUSTER).service("web").desired_count(3).send().await.expect("scaled");
    let scaled = scaled.service.expect("service");
    assert_eq!(scaled.desired_count(), 3);
    assert_eq!(scaled.deployments().len(), 1, "a desired count alone starts no deployment");
    assert_eq!(scaled.deployments()[0].desired_count(), 3);

    let updated = ecs
        .update_service()
        .cluster(CLUSTER)
        .service("arn:aws:ecs:us-east-1:000000000000:service/prod/web")
        .task_definition("web:2")
        .deployment_configuration(DeploymentConfiguration::builder().maximum_percent(150).build())
        .send()
        .await
        .expect("updated")
        .service
        .expect("service");
    let deployments = updated.deployments();
    assert_eq!(deployments.len(), 2);
    assert_eq!(deployments[0].status(), Some("PRIMARY"));
    assert_eq!(
        deployments[0].task_definition(),
        Some("arn:aws:ecs:us-east-1:000000000000:task-definition/web:2")
    );
    assert_eq!(deployments[0].desired_count(), 3);
    assert_eq!(deployments[1].status(), Some("ACTIVE"));
    assert_eq!(deployments[1].id(), Some(first_id.as_str()));
    let config = updated.deployment_configuration().expect("configuration");
    assert_eq!((config.maximum_percent(), config.minimum_healthy_percent()), (Some(150), Some(100)));
    assert_eq!(updated.task_definition(), Some("arn:aws:ecs:us-east-1:000000000000:task-definition/web:2"));

    // Deregistering the definition does not stop a forced redeployment of the PRIMARY's copy.
    ecs.deregister_task_definition().task_definition("web:2").send().await.expect("deregistered");
    let forced = ecs
        .update_service()
        .cluster(CLUSTER)
        .service("web")
        .force_new_deployment(true)
        .send()
        .await
        .expect("forced")
        .service
        .expect("service");
    let primary = &forced.deployments()[0];
    assert_eq!(primary.status(), Some("PRIMARY"));
    assert_eq!(primary.task_definition(), Some("arn:aws:ecs:us-east-1:000000000000:task-definition/web:2"));
    assert_ne!(primary.id(), deployments[0].id());
    assert!(forced.deployments()[1..].iter().all(|d| d.status() == Some("ACTIVE")));

    // The history: newest first, the superseded ones stopped.
    let history =
        ecs.list_service_deployments().cluster(CLUSTER).service("web").send().await.expect("history");
    let briefs = history.service_deployments();
    assert_eq!(briefs.len(), 3);
    assert_eq!(briefs[0].service_deployment_arn(), forced.current_service_deployment());
    assert!(matches!(briefs[0].status().map(|s| s.as_str()), Some("PENDING" | "IN_PROGRESS")));
    assert!(briefs[1..].iter().all(|b| b.status().map(|s| s.as_str()) == Some("STOPPED")));
    let page = ecs
        .list_service_deployments()
        .cluster(CLUSTER)
        .service("web")
        .max_results(2)
        .send()
        .await
        .expect("page");
    assert_eq!(page.service_deployments().len(), 2);
    let rest = ecs
        .list_service_deployments()
        .cluster(CLUSTER)
        .service("web")
        .next_token(page.next_token().expect("more"))
        .send()
        .await
        .expect("rest");
    assert_eq!(rest.service_deployments().len(), 1);
    assert_eq!(rest.service_deployments()[0].service_deployment_arn(), briefs[2].service_deployment_arn());
    let stopped_only = ecs
        .list_service_deployments()
        .cluster(CLUSTER)
        .service("web")
        .status("STOPPED".into())
        .send()
        .await
        .expect("stopped");
    assert_eq!(stopped_only.service_deployments().len(), 2);

    let current = briefs[0].service_deployment_arn().expect("arn").to_string();
    let described = ecs
        .describe_service_deployments()
        .service_deployment_arns(&current)
        .service_deployment_arns("arn:aws:ecs:us-east-1:000000000000:service-deployment/prod/web/nothing")
        .send()
        .await
        .expect("described");
    let deployment = &described.service_deployments()[0];
    assert_eq!(deployment.service_arn(), forced.service_arn());
    // The revisions that ran before: the controller may already have dropped a drained one.
    assert!(!deployment.source_service_revisions().is_empty());
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));
    let target =
        deployment.target_service_revision().and_then(|t| t.arn()).expect("target revision").to_string();
    assert!(target.starts_with("arn:aws:ecs:us-east-1:000000000000:service-revision/prod/web/"));
    let revisions =
        ecs.describe_service_revisions().service_revision_arns(&target).send().await.expect("revisions");
    let revision = &revisions.service_revisions()[0];
    assert_eq!(revision.task_definition(), Some("arn:aws:ecs:us-east-1:000000000000:task-definition/web:2"));
    assert_eq!(revision.container_images()[0].image(), Some("nginx:2"));

    // Stopping the current deployment rolls back to the revision before it: a new PRIMARY.
    let source = deployment.source_service_revisions()[0].arn().expect("source").to_string();
    let stopped = ecs.stop_service_deployment().service_deployment_arn(&current).send().await.expect("stop");
    assert_eq!(stopped.service_deployment_arn(), Some(current.as_str()));
    let after =
        ecs.describe_service_deployments().service_deployment_arns(&current).send().await.expect("after");
    let rolled = &after.service_deployments()[0];
    assert_eq!(rolled.status().map(|s| s.as_str()), Some("ROLLBACK_IN_PROGRESS"));
    assert_eq!(rolled.rollback().and_then(|r| r.service_revision_arn()), Some(source.as_str()));
    let service = describe(&server, "web").await;
    let rollback_primary = service.deployments()[0].clone();
    assert_eq!(rollback_primary.status(), Some("PRIMARY"));
    assert_ne!(rollback_primary.id(), forced.deployments()[0].id());
    assert_ne!(service.current_service_deployment(), Some(current.as_str()));
    ecs.stop_service_deployment()
        .service_deployment_arn(&current)
        .send()
        .await
        .expect("stopping again is a no-op");

    // When the rollback's rollout completes (the controller's doing; done here as it would), the
    // history reads it.
    let scope = common_scope();
    let (mut record, revision) =
        services::load(&*server.store, &scope, CLUSTER, "web").await.expect("read").expect("stored");
    record.primary_mut().expect("primary").rollout_state = Some("COMPLETED".into());
    let revision = services::save(&*server.store, &scope, &record, revision, None)
        .await
        .expect("saved")
        .expect("no conflict");
    // The controller then drops the drained deployments; the history keeps how they ended.
    if let Some(deployments) = record.service.deployments.as_mut() {
        deployments.retain(|d| d.status.as_deref() == Some("PRIMARY"));
    }
    services::save(&*server.store, &scope, &record, revision, None)
        .await
        .expect("saved")
        .expect("no conflict");
    let after =
        ecs.describe_service_deployments().service_deployment_arns(&current).send().await.expect("after");
    assert_eq!(after.service_deployments()[0].status().map(|s| s.as_str()), Some("ROLLBACK_SUCCESSFUL"));
    let newest = ecs
        .list_service_deployments()
        .cluster(CLUSTER)
        .service("web")
        .max_results(1)
        .send()
        .await
        .expect("newest");
    assert_eq!(newest.service_deployments()[0].status().map(|s| s.as_str()), Some("SUCCESSFUL"));
    let old = briefs[2].service_deployment_arn().expect("arn");
    assert_refused!(
        server,
        "ConflictException",
        ecs.stop_service_deployment().service_deployment_arn(old).send()
    );
    assert_refused!(
        server,
        "ServiceDeploymentNotFoundException",
        ecs.stop_service_deployment()
            .service_deployment_arn("arn:aws:ecs:us-east-1:000000000000:service-deployment/prod/web/nothing")
            .send()
    );
    server.stop().await;
}

#[tokio::test]
async fn deleting_drains_the_service_and_inactive_services_do_not_hold_the_cluster() {
    let server = setup().await;
    let ecs = &server.client;
    create(&server, "web", 2).await;
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.delete_service().cluster(CLUSTER).service("web").send()
    );
    let deleted = ecs
        .delete_service()
        .cluster(CLUSTER)
        .service("web")
        .force(true)
        .send()
        .await
        .expect("deleted")
        .service
        .expect("service");
    assert_eq!(deleted.status(), Some("DRAINING"));
    assert_eq!(deleted.desired_count(), 0);
    assert!(deleted.deployments().iter().all(|d| d.desired_count() == 0));
    let status = describe(&server, "web").await.status().map(String::from);
    assert!(matches!(status.as_deref(), Some("DRAINING" | "INACTIVE")), "{status:?}");
    assert_refused!(
        server,
        "ServiceNotActiveException",
        ecs.update_service().cluster(CLUSTER).service("web").desired_count(1).send()
    );

    // A scaled-to-zero service is deleted without force.
    create(&server, "idle", 0).await;
    ecs.delete_service().cluster(CLUSTER).service("idle").send().await.expect("deleted idle");

    // The controller marks drained services INACTIVE; do it here as it would.
    for name in ["web", "idle"] {
        let key = keys::service(&common_scope(), CLUSTER, name);
        records::update::<ServiceRecord, _>(&*server.store, &key, |record| {
            let mut record = record.expect("stored");
            record.service.status = Some("INACTIVE".into());
            Ok(record)
        })
        .await
        .expect("inactive");
    }
    assert_eq!(describe(&server, "web").await.status(), Some("INACTIVE"));
    assert!(
        server.client.list_services().cluster(CLUSTER).send().await.expect("list").service_arns().is_empty()
    );
    // INACTIVE services no longer count as the cluster's services.
    let cluster = ecs.describe_clusters().clusters(CLUSTER).send().await.expect("cluster");
    assert_eq!(cluster.clusters()[0].active_services_count(), 0);
    // The name of an INACTIVE service may be reused, with a fresh history.
    let again = create(&server, "web", 0).await;
    assert_eq!(again.status(), Some("ACTIVE"));
    let history =
        ecs.list_service_deployments().cluster(CLUSTER).service("web").send().await.expect("history");
    assert_eq!(history.service_deployments().len(), 1);
    assert_refused!(server, "ClusterContainsServicesException", ecs.delete_cluster().cluster(CLUSTER).send());
    ecs.delete_service().cluster(CLUSTER).service("web").send().await.expect("deleted");
    let key = keys::service(&common_scope(), CLUSTER, "web");
    records::update::<ServiceRecord, _>(&*server.store, &key, |record| {
        let mut record = record.expect("stored");
        record.service.status = Some("INACTIVE".into());
        Ok(record)
    })
    .await
    .expect("inactive");
    ecs.delete_cluster()
        .cluster(CLUSTER)
        .send()
        .await
        .expect("a cluster of INACTIVE services can be deleted");
    server.stop().await;
}

fn common_scope() -> berth_api::arn::Scope {
    berth_api::arn::Scope::new("us-east-1", "000000000000")
}

#[tokio::test]
async fn list_services_pages_and_filters() {
    let server = setup().await;
    let ecs = &server.client;
    for name in ["a", "b", "c", "d", "e"] {
        create(&server, name, 0).await;
    }
    ecs.create_service()
        .cluster(CLUSTER)
        .service_name("ext")
        .task_definition("web:1")
        .desired_count(0)
        .launch_type(LaunchType::External)
        .send()
        .await
        .expect("external launch type");
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = ecs
            .list_services()
            .cluster(CLUSTER)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .expect("page");
        assert!(page.service_arns().len() <= 2);
        seen.extend(
            page.service_arns().iter().map(|arn| arn.rsplit('/').next().unwrap_or_default().to_string()),
        );
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e", "ext"]);
    let external = ecs
        .list_services()
        .cluster(CLUSTER)
        .launch_type(LaunchType::External)
        .send()
        .await
        .expect("filtered");
    assert_eq!(external.service_arns().len(), 1);
    let daemons = ecs
        .list_services()
        .cluster(CLUSTER)
        .scheduling_strategy(SchedulingStrategy::Daemon)
        .send()
        .await
        .expect("daemons");
    assert!(daemons.service_arns().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn task_sets_belong_to_external_services() {
    let server = setup().await;
    let ecs = &server.client;
    create(&server, "rolling", 1).await;
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.create_task_set().cluster(CLUSTER).service("rolling").task_definition("web:1").send()
    );
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.update_service_primary_task_set()
            .cluster(CLUSTER)
            .service("rolling")
            .primary_task_set("ecs-svc/1")
            .send()
    );
    let external = ecs
        .create_service()
        .cluster(CLUSTER)
        .service_name("ext")
        .desired_count(4)
        .deployment_controller(
            DeploymentController::builder()
                .r#type(DeploymentControllerType::External)
                .build()
                .expect("controller"),
        )
        .send()
        .await
        .expect("external service")
        .service
        .expect("service");
    assert!(external.deployments().is_empty(), "task sets, not deployments, run an EXTERNAL service");

    let half = Scale::builder().value(50.0).unit(ScaleUnit::Percent).build();
    let created = ecs
        .create_task_set()
        .cluster(CLUSTER)
        .service("ext")
        .task_definition("web:1")
        .scale(half)
        .external_id("blue")
        .client_token("ts-1")
        .tags(tag("color", "blue"))
        .send()
        .await
        .expect("task set")
        .task_set
        .expect("task set");
    let id = created.id().expect("id").to_string();
    assert!(id.starts_with("ecs-svc/"));
    assert_eq!(created.status(), Some("ACTIVE"));
    assert_eq!(created.computed_desired_count(), 2);
    assert_eq!(created.external_id(), Some("blue"));
    let arn = created.task_set_arn().expect("arn").to_string();
    assert_eq!(arn, format!("arn:aws:ecs:us-east-1:000000000000:task-set/prod/ext/{id}"));
    let retried = ecs
        .create_task_set()
        .cluster(CLUSTER)
        .service("ext")
        .task_definition("web:1")
        .client_token("ts-1")
        .send()
        .await
        .expect("retried")
        .task_set
        .expect("task set");
    assert_eq!(retried.id(), Some(id.as_str()));

    let updated = ecs
        .update_task_set()
        .cluster(CLUSTER)
        .service("ext")
        .task_set(&arn)
        .scale(Scale::builder().value(100.0).unit(ScaleUnit::Percent).build())
        .send()
        .await
        .expect("updated")
        .task_set
        .expect("task set");
    assert_eq!(updated.computed_desired_count(), 4);
    let primary = ecs
        .update_service_primary_task_set()
        .cluster(CLUSTER)
        .service("ext")
        .primary_task_set(&id)
        .send()
        .await
        .expect("primary")
        .task_set
        .expect("task set");
    assert_eq!(primary.status(), Some("PRIMARY"));
    let service = describe(&server, "ext").await;
    assert_eq!(service.task_sets().len(), 1);
    assert_eq!(service.task_definition(), Some("arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"));
    let described = ecs
        .describe_task_sets()
        .cluster(CLUSTER)
        .service("ext")
        .task_sets(&id)
        .task_sets("ecs-svc/42")
        .include("TAGS".into())
        .send()
        .await
        .expect("described");
    assert_eq!(described.task_sets()[0].tags(), &[tag("color", "blue")]);
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));

    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.delete_task_set().cluster(CLUSTER).service("ext").task_set(&id).send()
    );
    assert_refused!(
        server,
        "TaskSetNotFoundException",
        ecs.delete_task_set().cluster(CLUSTER).service("ext").task_set("ecs-svc/42").send()
    );
    let deleted = ecs
        .delete_task_set()
        .cluster(CLUSTER)
        .service("ext")
        .task_set(&id)
        .force(true)
        .send()
        .await
        .expect("deleted")
        .task_set
        .expect("task set");
    assert_eq!(deleted.status(), Some("DRAINING"));
    let left = ecs.describe_task_sets().cluster(CLUSTER).service("ext").send().await.expect("described");
    assert!(left.task_sets().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn services_are_tagged_through_the_tagging_operations() {
    let server = setup().await;
    let ecs = &server.client;
    let arn = create(&server, "web", 0).await.service_arn().expect("arn").to_string();
    ecs.tag_resource()
        .resource_arn(&arn)
        .tags(tag("a", "1"))
        .tags(tag("b", "2"))
        .send()
        .await
        .expect("tagged");
    ecs.untag_resource().resource_arn(&arn).tag_keys("a").send().await.expect("untagged");
    let listed = ecs.list_tags_for_resource().resource_arn(&arn).send().await.expect("listed");
    assert_eq!(listed.tags(), &[tag("b", "2")]);
    assert_refused!(
        server,
        "ResourceNotFoundException",
        ecs.list_tags_for_resource()
            .resource_arn("arn:aws:ecs:us-east-1:000000000000:service/prod/none")
            .send()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_full_server_creates_describes_and_deletes_a_service() {
    let server = common::start().await;
    let ecs = &server.client;
    ecs.create_cluster().cluster_name(CLUSTER).send().await.expect("cluster");
    let app = ContainerDefinition::builder().name("app").image("nginx").cpu(64).memory(64).build();
    ecs.register_task_definition().family("web").container_definitions(app).send().await.expect("web");
    let created = ecs
        .create_service()
        .cluster(CLUSTER)
        .service_name("web")
        .task_definition("web")
        .desired_count(0)
        .send()
        .await
        .expect("created")
        .service
        .expect("service");
    assert_eq!(created.status(), Some("ACTIVE"));
    let described = ecs.describe_services().cluster(CLUSTER).services("web").send().await.expect("described");
    assert_eq!(described.services()[0].service_arn(), created.service_arn());
    let deleted = ecs.delete_service().cluster(CLUSTER).service("web").send().await.expect("deleted");
    let status = deleted.service.and_then(|s| s.status).unwrap_or_default();
    assert!(status == "DRAINING" || status == "INACTIVE", "{status}");
    server.stop().await;
}

#[tokio::test]
async fn a_daemon_service_takes_no_count_and_no_strategy() {
    let server = setup().await;
    let ecs = &server.client;
    let daemon = ecs
        .create_service()
        .cluster(CLUSTER)
        .service_name("agent")
        .task_definition("web:1")
        .scheduling_strategy(SchedulingStrategy::Daemon)
        .send()
        .await
        .expect("daemon")
        .service
        .expect("service");
    assert_eq!(daemon.scheduling_strategy(), Some(&SchedulingStrategy::Daemon));
    assert_eq!(daemon.desired_count(), 0);
    assert!(daemon.placement_strategy().is_empty());
    let config = daemon.deployment_configuration().expect("configuration");
    assert_eq!((config.maximum_percent(), config.minimum_healthy_percent()), (Some(100), Some(0)));
    assert_eq!(daemon.availability_zone_rebalancing().map(|r| r.as_str()), Some("DISABLED"));
    assert_refused!(
        server,
        "InvalidParameterException",
        ecs.update_service().cluster(CLUSTER).service("agent").desired_count(2).send()
    );
    // A daemon is deleted without scaling it down first.
    let deleted = ecs.delete_service().cluster(CLUSTER).service("agent").send().await.expect("deleted");
    assert_eq!(deleted.service.and_then(|s| s.status).as_deref(), Some("DRAINING"));
    server.stop().await;
}
