//! Placement scenarios: resources, constraints and strategies as the ECS developer guide
//! describes them, and the failures RunTask reports.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use berth_scheduler::{
    BinpackField, Constraint, Demand, Failure, InstanceView, Placement, Request, SpreadField, Strategy,
    TaskView, default_strategies, place, query, reason,
};

/// An ACTIVE, connected instance `id` in zone `zone` with the given CPU and memory left.
fn instance(id: &str, zone: &str, cpu: i64, memory: i64) -> InstanceView {
    InstanceView {
        arn: format!("arn:aws:ecs:us-east-1:000000000000:container-instance/demo/{id}"),
        status: "ACTIVE".into(),
        agent_connected: true,
        remaining_cpu: cpu,
        remaining_memory: memory,
        used_tcp_ports: BTreeSet::from([22, 2375, 2376, 51678, 51679]),
        attributes: BTreeMap::from([
            ("ecs.availability-zone".into(), Some(zone.into())),
            ("ecs.instance-type".into(), Some("t2.small".into())),
        ]),
        ..InstanceView::default()
    }
}

fn request(count: usize, cpu: i64, memory: i64) -> Request {
    Request {
        count,
        demand: Demand { cpu, memory, ..Demand::default() },
        family: "web".into(),
        ..Request::default()
    }
}

fn on(placements: &[Placement]) -> Vec<usize> {
    placements.iter().map(|placement| placement.instance).collect()
}

fn reasons(failures: &[Failure]) -> Vec<(String, String)> {
    failures
        .iter()
        .map(|failure| {
            let id = failure.arn.rsplit('/').next().unwrap_or_default().to_string();
            (id, failure.reason.clone())
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(id, reason)| (id.to_string(), reason.to_string())).collect()
}

fn member_of(text: &str) -> Constraint {
    Constraint::MemberOf(query::parse(text).expect("the test's expression parses"))
}

fn task(group: &str) -> TaskView {
    TaskView { group: Some(group.into()), family: "web".into() }
}

#[test]
fn each_instance_says_why_it_refused() {
    let mut draining = instance("draining", "a", 4096, 8192);
    draining.status = "DRAINING".into();
    let mut disconnected = instance("disconnected", "a", 4096, 8192);
    disconnected.agent_connected = false;
    let small_cpu = instance("small-cpu", "a", 128, 8192);
    let small_memory = instance("small-memory", "a", 4096, 256);
    let no_gpu = instance("no-gpu", "a", 4096, 8192);
    let mut port_taken = instance("port-taken", "a", 4096, 8192);
    port_taken.remaining_gpus = 1;
    port_taken.used_udp_ports.insert(53);
    let snapshot = [draining, disconnected, small_cpu, small_memory, no_gpu, port_taken];
    let mut wanted = request(1, 256, 512);
    wanted.demand.gpus = 1;
    wanted.demand.tcp_ports = vec![8080];
    wanted.demand.udp_ports = vec![53];
    let (placements, failures) = place(&snapshot, &wanted);
    assert!(placements.is_empty());
    assert_eq!(
        reasons(&failures),
        pairs(&[
            ("draining", reason::AGENT),
            ("disconnected", reason::AGENT),
            ("small-cpu", "RESOURCE:CPU"),
            ("small-memory", "RESOURCE:MEMORY"),
            ("no-gpu", "RESOURCE:GPU"),
            ("port-taken", "RESOURCE:PORTS"),
        ])
    );
}

#[test]
fn each_task_is_charged_before_the_next() {
    let snapshot = [instance("one", "a", 1024, 1024)];
    let (placements, failures) = place(&snapshot, &request(3, 512, 256));
    assert_eq!(on(&placements), vec![0, 0]);
    assert_eq!(reasons(&failures), pairs(&[("one", "RESOURCE:CPU")]));

    let (placements, failures) = place(&snapshot, &request(5, 100, 300));
    assert_eq!(on(&placements), vec![0, 0, 0]);
    assert_eq!(reasons(&failures), pairs(&[("one", "RESOURCE:MEMORY")]));
}

#[test]
fn a_static_host_port_is_taken_by_the_first_copy() {
    let snapshot = [instance("one", "a", 4096, 4096), instance("two", "b", 4096, 4096)];
    let mut wanted = request(3, 10, 10);
    wanted.demand.tcp_ports = vec![80];
    let (placements, failures) = place(&snapshot, &wanted);
    assert_eq!(on(&placements), vec![0, 1]);
    assert_eq!(reasons(&failures), pairs(&[("one", "RESOURCE:PORTS"), ("two", "RESOURCE:PORTS")]));
    // The agent's reserved ports are taken from the start.
    wanted.demand.tcp_ports = vec![51678];
    assert_eq!(reasons(&place(&snapshot, &wanted).1).len(), 2);
    // Without static ports, copies share an instance.
    wanted.demand.tcp_ports = vec![];
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![0, 0, 0]);
}

#[test]
fn required_attributes_refuse_with_attribute() {
    let mut privileged = instance("privileged", "a", 4096, 4096);
    privileged.attributes.insert("ecs.capability.privileged-container".into(), None);
    privileged.attributes.insert("ecs.os-type".into(), Some("linux".into()));
    let plain = instance("plain", "a", 4096, 4096);
    let mut wanted = request(2, 10, 10);
    wanted.required_attributes = vec![
        ("ecs.capability.privileged-container".into(), None),
        ("ecs.os-type".into(), Some("linux".into())),
    ];
    let (placements, _) = place(&[plain.clone(), privileged.clone()], &wanted);
    assert_eq!(on(&placements), vec![1, 1]);
    wanted.required_attributes[1].1 = Some("windows".into());
    let (placements, failures) = place(&[plain, privileged], &wanted);
    assert!(placements.is_empty());
    assert_eq!(reasons(&failures), pairs(&[("plain", "ATTRIBUTE"), ("privileged", "ATTRIBUTE")]));
}

#[test]
fn distinct_instance_puts_each_task_of_the_group_on_its_own_instance() {
    let mut busy = instance("busy", "a", 4096, 4096);
    busy.tasks.push(task("service:web"));
    let snapshot = [busy, instance("two", "a", 4096, 4096), instance("three", "b", 4096, 4096)];
    let mut wanted = request(3, 10, 10);
    wanted.group = Some("service:web".into());
    wanted.constraints = vec![Constraint::DistinctInstance];
    let (placements, failures) = place(&snapshot, &wanted);
    assert_eq!(on(&placements), vec![1, 2]);
    let unsatisfied = "DistinctInstance placement constraint unsatisfied.";
    assert_eq!(
        reasons(&failures),
        pairs(&[("busy", unsatisfied), ("two", unsatisfied), ("three", unsatisfied)])
    );
    // Another group's task does not count.
    wanted.group = Some("service:api".into());
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![0, 1, 2]);
}

#[test]
fn a_task_without_a_group_is_in_its_family_group() {
    let mut busy = instance("busy", "a", 4096, 4096);
    busy.tasks.push(TaskView { group: None, family: "web".into() });
    let snapshot = [busy, instance("free", "a", 4096, 4096)];
    let mut wanted = request(1, 10, 10);
    wanted.constraints = vec![Constraint::DistinctInstance];
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![1]);
    wanted.group = Some("family:web".into());
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![1]);
}

#[test]
fn member_of_keeps_only_matching_instances() {
    let mut large = instance("large", "a", 4096, 4096);
    large.attributes.insert("ecs.instance-type".into(), Some("m5.large".into()));
    let snapshot = [large, instance("small", "b", 4096, 4096)];
    let mut wanted = request(2, 10, 10);
    wanted.constraints = vec![member_of("attribute:ecs.instance-type =~ t2.*")];
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![1, 1]);
    wanted.constraints.push(member_of("attribute:ecs.availability-zone == a"));
    let (placements, failures) = place(&snapshot, &wanted);
    assert!(placements.is_empty());
    let unsatisfied = "MemberOf placement constraint unsatisfied.";
    assert_eq!(reasons(&failures), pairs(&[("large", unsatisfied), ("small", unsatisfied)]));
}

#[test]
fn member_of_sees_the_tasks_this_request_placed() {
    // Anti-affinity with the request's own group: each task lands where none of the group is.
    let snapshot = [instance("one", "a", 4096, 4096), instance("two", "a", 4096, 4096)];
    let mut wanted = request(3, 10, 10);
    wanted.group = Some("service:web".into());
    wanted.constraints = vec![member_of("not(task:group == service:web)")];
    let (placements, failures) = place(&snapshot, &wanted);
    assert_eq!(on(&placements), vec![0, 1]);
    assert_eq!(failures.len(), 2);
    // runningTasksCount counts them too.
    wanted.constraints = vec![member_of("runningTasksCount < 2")];
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![0, 0, 1]);
}

#[test]
fn binpack_picks_the_instance_with_least_left() {
    let snapshot = [
        instance("roomy", "a", 4096, 8192),
        instance("tight", "a", 4096, 1024),
        instance("tightest-cpu", "a", 512, 4096),
        instance("too-small", "a", 4096, 100),
    ];
    let mut wanted = request(1, 256, 512);
    wanted.strategies = vec![Strategy::Binpack(BinpackField::Memory)];
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![1]);
    wanted.strategies = vec![Strategy::Binpack(BinpackField::Cpu)];
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![2]);
    // Packing fills one instance before the next: tight takes two (1024 MiB), then roomy's
    // neighbour tightest-cpu (4096 MiB) comes before roomy (8192 MiB).
    wanted.count = 4;
    wanted.strategies = vec![Strategy::Binpack(BinpackField::Memory)];
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![1, 1, 2, 2]);
}

#[test]
fn spread_balances_zones_counting_the_groups_tasks() {
    let mut a1 = instance("a1", "us-east-1a", 8192, 8192);
    a1.tasks = vec![task("service:web"), task("service:web"), task("service:other")];
    let snapshot = [
        a1,
        instance("a2", "us-east-1a", 8192, 8192),
        instance("b1", "us-east-1b", 8192, 8192),
        instance("c1", "us-east-1c", 8192, 8192),
        instance("c2", "us-east-1c", 8192, 8192),
    ];
    let mut wanted = request(7, 10, 10);
    wanted.group = Some("service:web".into());
    wanted.strategies = default_strategies(true);
    let (placements, failures) = place(&snapshot, &wanted);
    assert!(failures.is_empty());
    let zone_of = |index: usize| snapshot[index].availability_zone().unwrap_or_default().to_string();
    let mut per_zone =
        BTreeMap::from([("us-east-1a".to_string(), 2), ("us-east-1b".into(), 0), ("us-east-1c".into(), 0)]);
    for index in on(&placements) {
        *per_zone.entry(zone_of(index)).or_default() += 1;
    }
    assert_eq!(per_zone.values().copied().collect::<Vec<_>>(), vec![3, 3, 3]);
    // Within a zone, spread on instanceId alternates instances: c1, c2, c1 ...
    let in_c: Vec<usize> = on(&placements).into_iter().filter(|i| zone_of(*i) == "us-east-1c").collect();
    assert_eq!(in_c, vec![3, 4, 3]);
    // The one task in zone a went to a2, which held none of the group.
    assert!(on(&placements).contains(&1) && !on(&placements).contains(&0));
}

#[test]
fn spread_then_binpack_packs_within_the_zone() {
    let snapshot = [
        instance("a-roomy", "a", 4096, 8192),
        instance("a-tight", "a", 4096, 2048),
        instance("b-roomy", "b", 4096, 8192),
        instance("b-tight", "b", 4096, 1024),
    ];
    let mut wanted = request(4, 10, 512);
    wanted.strategies = vec![
        Strategy::Spread(SpreadField::Attribute("ecs.availability-zone".into())),
        Strategy::Binpack(BinpackField::Memory),
    ];
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![3, 1, 3, 1]);
}

#[test]
fn random_is_reproducible_and_only_picks_instances_that_fit() {
    let mut snapshot: Vec<InstanceView> =
        (0..20).map(|i| instance(&format!("i{i}"), "a", 4096, 4096)).collect();
    for full in snapshot.iter_mut().step_by(2) {
        full.remaining_memory = 0;
    }
    let mut wanted = request(5, 10, 10);
    wanted.strategies = default_strategies(false);
    let mut seen = BTreeSet::new();
    for seed in 0..50 {
        wanted.seed = seed;
        let first = place(&snapshot, &wanted);
        assert_eq!(first, place(&snapshot, &wanted), "seed {seed} gives one answer");
        for index in on(&first.0) {
            assert_eq!(index % 2, 1, "instance {index} has no memory");
            seen.insert(index);
        }
    }
    assert_eq!(seen.len(), 10, "every instance that fits gets picked by some seed");
}

#[test]
fn no_strategy_means_first_fit_in_snapshot_order() {
    let snapshot = [
        instance("full", "a", 0, 0),
        instance("second", "a", 4096, 4096),
        instance("third", "a", 4096, 4096),
    ];
    assert_eq!(on(&place(&snapshot, &request(2, 10, 10)).0), vec![1, 1]);
}

#[test]
fn launch_type_selects_external_or_ec2_instances() {
    let mut external = instance("external", "a", 4096, 4096);
    external.attributes.insert("ecs.capability.external".into(), None);
    let snapshot = [instance("ec2", "a", 4096, 4096), external];
    let mut wanted = request(1, 10, 10);
    wanted.launch_type = Some("EXTERNAL".into());
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![1]);
    wanted.launch_type = Some("EC2".into());
    assert_eq!(on(&place(&snapshot, &wanted).0), vec![0]);
    // An instance of the other launch type is not a candidate, so it is not a failure either.
    wanted.demand.cpu = 10_000;
    assert_eq!(reasons(&place(&snapshot, &wanted).1), pairs(&[("ec2", "RESOURCE:CPU")]));
}

#[test]
fn nothing_to_place_or_nowhere_to_place() {
    let snapshot = [instance("one", "a", 4096, 4096)];
    assert_eq!(place(&snapshot, &request(0, 10, 10)), (vec![], vec![]));
    assert_eq!(place(&[], &request(3, 10, 10)), (vec![], vec![]));
    // Negative demands (the server never sends them) cannot add resources.
    let (placements, _) = place(&snapshot, &request(2, -5000, -5000));
    assert_eq!(on(&placements), vec![0, 0]);
}

#[test]
fn one_task_on_a_thousand_instances_is_fast() {
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    let snapshot: Vec<InstanceView> = (0..1000)
        .map(|i| {
            let mut view = instance(&format!("i{i}"), zones[i % 3], 4096, 8192);
            view.tasks = vec![task("service:web"); i % 4];
            view
        })
        .collect();
    let mut wanted = request(1, 256, 512);
    wanted.group = Some("service:web".into());
    wanted.strategies = default_strategies(true);
    wanted.constraints = vec![member_of("attribute:ecs.instance-type =~ t2.* and agentConnected == true")];
    let runs = 50;
    let started = Instant::now();
    for _ in 0..runs {
        assert_eq!(place(&snapshot, &wanted).0.len(), 1);
    }
    let each = started.elapsed() / runs;
    // Release builds take well under 1 ms; unoptimized test builds get ten times the room.
    let budget = if cfg!(debug_assertions) { 10_000 } else { 1_000 };
    eprintln!("placing one task on 1000 instances: {each:?}");
    assert!(each.as_micros() < budget, "placing one task on 1000 instances took {each:?}");
}
