//! `berth bench placement`: how fast the placement engine decides, in process, with no IO.
//!
//! It measures the engine the way the server calls it: RunTask places at most 10 tasks per call,
//! each call against a fresh snapshot of the cluster's instances. So the benchmark makes a
//! cluster of `--instances` instances in three zones (each with the resources of a 2-vCPU,
//! 4 GiB host), then places `--tasks` tasks in calls of `--count`, and between calls charges the
//! snapshot with what the call placed (remaining CPU and memory, and the task on its instance),
//! as the server's next read would show it. A call's time includes building the engine's working
//! view of every instance, which is most of the cost at this scale. Between calls the benchmark
//! also does the upkeep the server does for each instance that changed: it prepares the
//! instances the call placed on again ([`PreparedCluster::replace`]). That upkeep is timed
//! apart and printed (`upkeep_us_per_call` in the JSON), not counted in the placement rate.
//!
//! Scenarios: `binpack(memory)`; `spread(attribute:ecs.availability-zone)` then
//! `spread(instanceId)`; and a `memberOf` constraint keeping two of the three zones, placed at
//! random as RunTask does by default. `placements_per_sec` in the JSON is the slowest scenario's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use berth_scheduler::{
    BinpackField, Constraint, Demand, InstanceView, PreparedCluster, Request, SpreadField, Strategy,
    TaskView, query,
};
use serde_json::json;

/// Flags of `berth bench placement`.
#[derive(Debug, clap::Args)]
pub struct PlacementArgs {
    /// Container instances in the cluster, spread over three zones.
    #[arg(long, default_value_t = 5_000)]
    instances: usize,
    /// Tasks to place in each scenario.
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
    /// Tasks per placement call (RunTask allows 10).
    #[arg(long, default_value_t = 10)]
    count: usize,
    /// Print one JSON object with the figures as the last line.
    #[arg(long)]
    json: bool,
}

/// The zones the instances are spread over, in turn.
const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];
/// Each instance: a 2-vCPU, 4 GiB host.
const INSTANCE_CPU: i64 = 2048;
const INSTANCE_MEMORY: i64 = 4096;
/// Each task: 1/16 of a vCPU and 128 MiB, so an instance holds 32 and 5,000 instances hold
/// 160,000: room for 100,000 even when `memberOf` keeps only two zones.
const TASK_CPU: i64 = 64;
const TASK_MEMORY: i64 = 128;
const FAMILY: &str = "bench";

/// One way of placing.
struct Scenario {
    /// The name printed and used as the JSON field (`<name>_per_sec`).
    name: &'static str,
    /// How it reads in the output.
    label: &'static str,
    constraints: Vec<Constraint>,
    strategies: Vec<Strategy>,
}

fn scenarios() -> anyhow::Result<Vec<Scenario>> {
    let zone = || SpreadField::Attribute("ecs.availability-zone".to_string());
    let member_of = query::parse("attribute:ecs.availability-zone in [zone-a, zone-b]")
        .map_err(|err| anyhow::anyhow!("the benchmark's memberOf expression does not parse: {err}"))?;
    Ok(vec![
        Scenario {
            name: "binpack_memory",
            label: "binpack(memory)",
            constraints: Vec::new(),
            strategies: vec![Strategy::Binpack(BinpackField::Memory)],
        },
        Scenario {
            name: "spread_zone_instance",
            label: "spread(attribute:ecs.availability-zone), spread(instanceId)",
            constraints: Vec::new(),
            strategies: vec![Strategy::Spread(zone()), Strategy::Spread(SpreadField::Instance)],
        },
        Scenario {
            name: "member_of",
            label: "memberOf(attribute:ecs.availability-zone in [zone-a, zone-b]), random",
            constraints: vec![Constraint::MemberOf(member_of)],
            strategies: vec![Strategy::Random],
        },
    ])
}

/// The cluster as the server's snapshot shows it before any task: `count` instances with ECS's
/// attributes, zones in turn.
fn cluster(count: usize) -> Vec<InstanceView> {
    (0..count)
        .map(|index| {
            let attributes = BTreeMap::from([
                ("ecs.availability-zone".to_string(), Some(ZONES[index % ZONES.len()].to_string())),
                ("ecs.instance-type".to_string(), Some("m5.large".to_string())),
                ("ecs.os-type".to_string(), Some("linux".to_string())),
                ("ecs.cpu-architecture".to_string(), Some("x86_64".to_string())),
            ]);
            InstanceView {
                arn: format!("arn:aws:ecs:us-east-1:000000000000:container-instance/bench/{index:032x}"),
                status: "ACTIVE".to_string(),
                agent_connected: true,
                remaining_cpu: INSTANCE_CPU,
                remaining_memory: INSTANCE_MEMORY,
                used_tcp_ports: [22, 2375, 2376, 51678, 51679].into(),
                attributes,
                registered_at: 1_700_000_000.0 + index as f64,
                agent_version: Some("0.1.0".to_string()),
                ..InstanceView::default()
            }
        })
        .collect()
}

/// What one scenario measured.
struct Measured {
    placed: usize,
    calls: usize,
    elapsed: Duration,
    /// The slowest single call.
    slowest: Duration,
    /// Preparing the instances each call changed again, as the server does.
    upkeep: Duration,
    /// The whole run, the snapshot's upkeep between calls included.
    with_upkeep: Duration,
}

impl Measured {
    fn per_sec(&self) -> f64 {
        self.placed as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn upkeep_per_call_us(&self) -> f64 {
        self.upkeep.as_secs_f64() * 1e6 / self.calls.max(1) as f64
    }
}

/// Places `tasks` tasks, `count` per call, charging the snapshot between calls as the server's
/// next read would show it.
fn measure(scenario: &Scenario, instances: usize, tasks: usize, count: usize) -> anyhow::Result<Measured> {
    let mut snapshot = cluster(instances);
    // What the engine works out about each instance before any request, kept beside the
    // snapshot as the server keeps it, and worked out again for the instances a call changed.
    let mut prepared = PreparedCluster::new(&snapshot);
    let mut request = Request {
        count,
        demand: Demand { cpu: TASK_CPU, memory: TASK_MEMORY, ..Demand::default() },
        family: FAMILY.to_string(),
        constraints: scenario.constraints.clone(),
        strategies: scenario.strategies.clone(),
        launch_type: Some("EC2".to_string()),
        ..Request::default()
    };
    let (mut placed, mut calls, mut slowest, mut elapsed) = (0, 0, Duration::ZERO, Duration::ZERO);
    let mut upkeep = Duration::ZERO;
    let mut changed: Vec<usize> = Vec::with_capacity(count);
    let began = Instant::now();
    while placed < tasks {
        request.count = count.min(tasks - placed);
        request.seed = calls as u64;
        let started = Instant::now();
        let (placements, failures) = berth_scheduler::place_in(&snapshot, &prepared, &[], &request);
        let took = started.elapsed();
        elapsed += took;
        slowest = slowest.max(took);
        calls += 1;
        if placements.len() < request.count {
            bail!(
                "{}: the cluster ran out of room after {placed} tasks ({} failures)",
                scenario.label,
                failures.len()
            );
        }
        for placement in &placements {
            let instance = &mut snapshot[placement.instance];
            instance.remaining_cpu -= TASK_CPU;
            instance.remaining_memory -= TASK_MEMORY;
            instance.tasks.push(TaskView { group: None, family: FAMILY.to_string() });
        }
        // The server prepares each instance that changed once, whatever number of tasks it took.
        changed.clear();
        changed.extend(placements.iter().map(|placement| placement.instance));
        changed.sort_unstable();
        changed.dedup();
        let started = Instant::now();
        for &index in &changed {
            prepared.replace(index, &snapshot[index]);
        }
        upkeep += started.elapsed();
        placed += placements.len();
    }
    let with_upkeep = began.elapsed();
    check_no_overbooking(&snapshot)?;
    Ok(Measured { placed, calls, elapsed, slowest, upkeep, with_upkeep })
}

/// The benchmark is also a check: whatever was placed fits.
fn check_no_overbooking(snapshot: &[InstanceView]) -> anyhow::Result<()> {
    let overbooked = snapshot.iter().filter(|i| i.remaining_cpu < 0 || i.remaining_memory < 0).count();
    ensure!(overbooked == 0, "{overbooked} instances were overbooked: the engine is wrong");
    Ok(())
}

/// Runs the benchmark.
pub async fn run(args: PlacementArgs) -> anyhow::Result<()> {
    ensure!(args.instances > 0, "--instances must be at least 1");
    ensure!((1..=1000).contains(&args.count), "--count must be between 1 and 1000");
    println!(
        "placing {} tasks on {} instances in {} zones, {} per call against a snapshot charged between calls \
         (as RunTask does); time is the engine's alone",
        args.tasks,
        args.instances,
        ZONES.len(),
        args.count
    );
    // The engine is synchronous CPU work: run it off the async runtime's worker.
    let figures = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<(Scenario, Measured)>> {
        scenarios()?
            .into_iter()
            .map(|scenario| {
                let measured = measure(&scenario, args.instances, args.tasks, args.count)?;
                Ok((scenario, measured))
            })
            .collect()
    })
    .await??;
    let mut fields = serde_json::Map::new();
    let mut slowest = f64::INFINITY;
    for (scenario, measured) in &figures {
        let per_sec = measured.per_sec();
        slowest = slowest.min(per_sec);
        println!(
            "{}: {} placements in {} calls, {:.2} s = {:.0} placements/s; mean call {:.1} µs, slowest {:.1} µs; \
             upkeep {:.1} µs per call ({:.2} s with the snapshot's upkeep)",
            scenario.label,
            measured.placed,
            measured.calls,
            measured.elapsed.as_secs_f64(),
            per_sec,
            measured.elapsed.as_secs_f64() * 1e6 / measured.calls as f64,
            measured.slowest.as_secs_f64() * 1e6,
            measured.upkeep_per_call_us(),
            measured.with_upkeep.as_secs_f64()
        );
        fields.insert(format!("{}_per_sec", scenario.name), json!(per_sec.round()));
        fields.insert(
            format!("{}_upkeep_us_per_call", scenario.name),
            json!((measured.upkeep_per_call_us() * 10.0).round() / 10.0),
        );
    }
    println!("slowest scenario: {slowest:.0} placements/s");
    if args.json {
        fields.insert("placements_per_sec".into(), json!(slowest.round()));
        fields.insert("instances".into(), json!(args.instances));
        fields.insert("tasks".into(), json!(args.tasks));
        fields.insert("tasks_per_call".into(), json!(args.count));
        println!("{}", serde_json::Value::Object(fields));
    }
    Ok(())
}
