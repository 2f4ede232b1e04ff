//! Placement through the AWS SDK on simulated capacity: container instances that are real agents
//! (registration, WebSocket session, task engine) over the simulated runtime, hosted in process
//! or by `berth agent --simulate N`, the way a scale test or a laptop demo runs them.
//!
//! Each test checks what a user of RunTask would see: where the tasks went (by the zone
//! DescribeContainerInstances shows for their instance), which failed and why, and that the
//! tasks reach RUNNING, or stop by themselves with `--task-exit-after`.

#[path = "support/simulated.rs"]
mod simulated;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types::{
    PlacementConstraint, PlacementConstraintType, PlacementStrategy, PlacementStrategyType,
};
use berth_scheduler::reason;
use simulated::{SimCluster, SimulateProcess, task_arns};

fn spread_on_zone() -> PlacementStrategy {
    PlacementStrategy::builder()
        .r#type(PlacementStrategyType::Spread)
        .field("attribute:ecs.availability-zone")
        .build()
}

fn binpack_memory() -> PlacementStrategy {
    PlacementStrategy::builder().r#type(PlacementStrategyType::Binpack).field("memory").build()
}

fn member_of(expression: &str) -> PlacementConstraint {
    PlacementConstraint::builder().r#type(PlacementConstraintType::MemberOf).expression(expression).build()
}

fn distinct_instance() -> PlacementConstraint {
    PlacementConstraint::builder().r#type(PlacementConstraintType::DistinctInstance).build()
}

/// How many of `tasks` each instance holds, by instance ARN.
fn per_instance(tasks: &[aws_sdk_ecs::types::Task]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for task in tasks {
        let instance = task.container_instance_arn().expect("a placed task names its instance");
        *counts.entry(instance.to_string()).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spread_over_three_zones_on_instances_of_berth_agent_simulate() {
    let cluster = SimCluster::start("spread").await;
    let agents = SimulateProcess::start(
        &cluster.endpoint,
        &cluster.name,
        &["--simulate", "6", "--availability-zones", "zone-a,zone-b,zone-c"],
    )
    .await;
    assert!(agents.ready_line.contains("6 simulated container instances connected"), "{}", agents.ready_line);
    let zones = cluster.zones().await;
    let mut instances_per_zone: BTreeMap<&str, usize> = BTreeMap::new();
    for zone in zones.values() {
        *instances_per_zone.entry(zone.as_str()).or_default() += 1;
    }
    assert_eq!(
        instances_per_zone,
        BTreeMap::from([("zone-a", 2), ("zone-b", 2), ("zone-c", 2)]),
        "zones are given round-robin"
    );

    let definition = cluster.register("spread", 256).await;
    let output = cluster.run(&definition, 9, Vec::new(), vec![spread_on_zone()]).await;
    assert!(output.failures().is_empty(), "{:?}", output.failures());
    let mut tasks_per_zone: BTreeMap<&str, usize> = BTreeMap::new();
    for (instance, count) in per_instance(output.tasks()) {
        *tasks_per_zone.entry(zones[&instance].as_str()).or_default() += count;
    }
    assert_eq!(tasks_per_zone, BTreeMap::from([("zone-a", 3), ("zone-b", 3), ("zone-c", 3)]));

    // The simulated runtime runs nothing, yet the tasks go through the real agent's lifecycle.
    let running = cluster
        .wait_tasks(&task_arns(&output), |t| {
            t.last_status() == Some("RUNNING")
                && t.containers().iter().all(|c| c.last_status() == Some("RUNNING"))
        })
        .await;
    assert!(running.iter().all(|t| t.started_at().is_some()), "RUNNING tasks have a start time");
    let described =
        cluster.client.describe_clusters().clusters(&cluster.name).send().await.expect("describe");
    assert_eq!(described.clusters()[0].running_tasks_count(), 9);
    assert_eq!(described.clusters()[0].registered_container_instances_count(), 6);
    // Each instance counts the tasks running on it as running, none as pending.
    let placed = per_instance(output.tasks());
    let instances = cluster
        .client
        .describe_container_instances()
        .cluster(&cluster.name)
        .set_container_instances(Some(zones.keys().cloned().collect()))
        .send()
        .await
        .expect("describe instances");
    for instance in instances.container_instances() {
        let arn = instance.container_instance_arn().unwrap_or_default();
        let expected = placed.get(arn).copied().unwrap_or(0) as i32;
        assert_eq!((instance.running_tasks_count(), instance.pending_tasks_count()), (expected, 0), "{arn}");
    }

    // Ctrl-C ends every session: the instances show as disconnected.
    let (status, stderr) = agents.interrupt().await;
    assert!(status.success(), "berth agent --simulate exits cleanly on Ctrl-C: {status:?} {stderr}");
    let arns: Vec<String> = zones.keys().cloned().collect();
    let deadline = std::time::Instant::now() + simulated::PATIENCE;
    loop {
        let described = cluster
            .client
            .describe_container_instances()
            .cluster(&cluster.name)
            .set_container_instances(Some(arns.clone()))
            .send()
            .await
            .expect("describe container instances");
        let connected = described.container_instances().iter().filter(|i| i.agent_connected()).count();
        if connected == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{connected} instances still show a session");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_of_a_zone_places_every_task_in_that_zone() {
    let mut cluster = SimCluster::start("member-of").await;
    cluster.add_instances(&["zone-a", "zone-b", "zone-c", "zone-a", "zone-b", "zone-c"], 4096).await;
    let zones = cluster.zones().await;
    let definition = cluster.register("member-of", 256).await;

    let output = cluster
        .run(&definition, 7, vec![member_of("attribute:ecs.availability-zone == zone-b")], Vec::new())
        .await;
    assert!(output.failures().is_empty(), "{:?}", output.failures());
    assert_eq!(output.tasks().len(), 7);
    let used: BTreeSet<&str> = per_instance(output.tasks()).keys().map(|arn| zones[arn].as_str()).collect();
    assert_eq!(used, BTreeSet::from(["zone-b"]));

    // Once the cluster is quiet (the agents have reported their tasks RUNNING), a zone no
    // instance is in: nothing placed, every instance refuses with memberOf's reason, and nothing
    // is written.
    cluster.wait_tasks(&task_arns(&output), |t| t.last_status() == Some("RUNNING")).await;
    let before = cluster.store.revision().await.expect("revision");
    let output = cluster
        .run(&definition, 1, vec![member_of("attribute:ecs.availability-zone == zone-z")], Vec::new())
        .await;
    assert!(output.tasks().is_empty());
    assert_eq!(output.failures().len(), 6, "{:?}", output.failures());
    assert!(
        output.failures().iter().all(|f| f.reason() == Some(reason::MEMBER_OF)),
        "{:?}",
        output.failures()
    );
    assert_eq!(
        cluster.store.revision().await.expect("revision"),
        before,
        "a refused placement writes nothing"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_instance_places_one_task_per_instance_and_reports_the_rest() {
    let mut cluster = SimCluster::start("distinct").await;
    let instances = cluster.add_instances(&["zone-a", "zone-b", "zone-c"], 4096).await;
    let definition = cluster.register("distinct", 256).await;

    let output = cluster.run(&definition, 5, vec![distinct_instance()], Vec::new()).await;
    let first = task_arns(&output);
    let placed = per_instance(output.tasks());
    assert_eq!(placed.len(), 3, "one task on each of the three instances: {placed:?}");
    assert!(placed.values().all(|&count| count == 1), "{placed:?}");
    assert!(!output.failures().is_empty(), "the tasks that did not fit are reported");
    for failure in output.failures() {
        assert_eq!(failure.reason(), Some(reason::DISTINCT_INSTANCE), "{failure:?}");
        assert!(instances.iter().any(|arn| Some(arn.as_str()) == failure.arn()), "{failure:?}");
    }

    // The group already has a task on every instance: a later call places nothing.
    let output = cluster.run(&definition, 1, vec![distinct_instance()], Vec::new()).await;
    assert!(output.tasks().is_empty());
    assert_eq!(output.failures().len(), 3, "{:?}", output.failures());
    cluster.wait_tasks(&first, |t| t.last_status() == Some("RUNNING")).await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binpack_on_memory_fills_one_instance_before_the_next() {
    let mut cluster = SimCluster::start("binpack").await;
    cluster.add_instances(&["zone-a", "zone-b", "zone-c"], 4096).await;
    // Four of these fill an instance.
    let definition = cluster.register("binpack", 1024).await;

    let first = cluster.run(&definition, 3, Vec::new(), vec![binpack_memory()]).await;
    let first_placed = per_instance(first.tasks());
    assert_eq!(first_placed.len(), 1, "all three on one instance: {first_placed:?}");
    let (full, _) = first_placed.iter().next().map(|(arn, n)| (arn.clone(), *n)).expect("placed");

    // The next call tops up that instance before it opens another.
    let second = cluster.run(&definition, 3, Vec::new(), vec![binpack_memory()]).await;
    let second_placed = per_instance(second.tasks());
    assert_eq!(second_placed.get(&full), Some(&1), "{second_placed:?}");
    assert_eq!(second_placed.len(), 2, "{second_placed:?}");
    let (next, _) = second_placed.iter().find(|(arn, _)| **arn != full).expect("a second instance");

    let listed = cluster.client.list_container_instances().cluster(&cluster.name).send().await.expect("list");
    let described = cluster
        .client
        .describe_container_instances()
        .cluster(&cluster.name)
        .set_container_instances(Some(listed.container_instance_arns().to_vec()))
        .send()
        .await
        .expect("describe");
    let remaining: BTreeMap<String, i32> = described
        .container_instances()
        .iter()
        .map(|instance| {
            let memory = instance
                .remaining_resources()
                .iter()
                .find(|r| r.name() == Some("MEMORY"))
                .map_or(-1, |r| r.integer_value());
            (instance.container_instance_arn().unwrap_or_default().to_string(), memory)
        })
        .collect();
    assert_eq!(remaining[&full], 0);
    assert_eq!(remaining[next], 4096 - 2 * 1024);
    assert_eq!(
        remaining.values().filter(|&&m| m == 4096).count(),
        1,
        "the third is untouched: {remaining:?}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_on_instances_with_task_exit_after_stop_by_themselves() {
    let cluster = SimCluster::start("exit-after").await;
    let _agents = SimulateProcess::start(
        &cluster.endpoint,
        &cluster.name,
        &["--simulate", "2", "--task-exit-after", "300ms"],
    )
    .await;
    let definition = cluster.register("batch", 256).await;
    let output = cluster.run(&definition, 4, Vec::new(), Vec::new()).await;
    assert_eq!(output.tasks().len(), 4, "{:?}", output.failures());

    let stopped = cluster.wait_tasks(&task_arns(&output), |t| t.last_status() == Some("STOPPED")).await;
    for task in &stopped {
        assert_eq!(task.stop_code(), Some(&aws_sdk_ecs::types::TaskStopCode::EssentialContainerExited));
        assert!(task.started_at().is_some(), "the task ran before it stopped: {task:#?}");
        assert!(task.containers().iter().all(|c| c.exit_code() == Some(0)), "{task:#?}");
    }
    // Their resources came back: the instances are as empty as when they registered.
    let listed = cluster.client.list_container_instances().cluster(&cluster.name).send().await.expect("list");
    let deadline = std::time::Instant::now() + simulated::PATIENCE;
    loop {
        let described = cluster
            .client
            .describe_container_instances()
            .cluster(&cluster.name)
            .set_container_instances(Some(listed.container_instance_arns().to_vec()))
            .send()
            .await
            .expect("describe");
        let idle = described.container_instances().iter().all(|i| {
            i.running_tasks_count() == 0
                && i.pending_tasks_count() == 0
                && i.remaining_resources()
                    .iter()
                    .any(|r| r.name() == Some("MEMORY") && r.integer_value() == 4096)
        });
        if idle {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{:#?}", described.container_instances());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulating_into_a_cluster_that_does_not_exist_fails_with_the_reason() {
    let cluster = SimCluster::start("present").await;
    let (status, stderr) = simulated::run_to_end(&cluster.endpoint, "absent", &["--simulate", "3"]).await;
    assert!(!status.success());
    assert!(stderr.contains("did not start"), "{stderr}");
    assert!(stderr.contains("ClusterNotFoundException"), "{stderr}");
    let listed = cluster.client.list_container_instances().cluster(&cluster.name).send().await.expect("list");
    assert!(listed.container_instance_arns().is_empty());
    cluster.stop().await;
}

/// Runs `berth bench ARGS --json` to its end and returns the JSON object it printed last.
async fn bench(args: &[&str]) -> serde_json::Value {
    let output = tokio::time::timeout(
        simulated::PATIENCE * 3,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("bench")
            .args(args)
            .arg("--json")
            .env("RUST_LOG", "warn")
            .env("RUST_BACKTRACE", "0")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the benchmark ends")
    .expect("the benchmark runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|err| panic!("the last line is not JSON ({err}): {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_placement_reports_every_scenario() {
    let figures = bench(&["placement", "--instances", "60", "--tasks", "600"]).await;
    for field in ["binpack_memory_per_sec", "spread_zone_instance_per_sec", "member_of_per_sec"] {
        assert!(figures[field].as_f64().is_some_and(|rate| rate > 0.0), "{field}: {figures}");
    }
    let slowest = ["binpack_memory_per_sec", "spread_zone_instance_per_sec", "member_of_per_sec"]
        .iter()
        .filter_map(|field| figures[*field].as_f64())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(figures["placements_per_sec"].as_f64(), Some(slowest), "{figures}");
    assert_eq!(figures["tasks"], 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_cluster_runs_every_task_on_simulated_instances() {
    let figures = bench(&["cluster", "--instances", "6", "--tasks", "120", "--callers", "4"]).await;
    assert_eq!(figures["tasks"], 120, "{figures}");
    for field in ["tasks_per_sec", "server_rss_mib", "api_p99_ms"] {
        assert!(figures[field].as_f64().is_some_and(|value| value > 0.0), "{field}: {figures}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_cluster_refuses_more_tasks_than_the_instances_hold() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["bench", "cluster", "--instances", "2", "--tasks", "1000"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .await
        .expect("the benchmark runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("do not fit on 2 instances"), "{stderr}");
}
