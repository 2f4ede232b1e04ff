//! Tests of the planner.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

fn service(desired: u32, min: u32, max: u32) -> ServiceView {
    ServiceView {
        name: "web".into(),
        scheduling: Scheduling::Replica,
        desired,
        min_percent: min,
        max_percent: max,
        breaker: None,
        grace_seconds: 0.0,
        deleting: false,
    }
}

fn deployment(id: &str, rollout: Rollout) -> DeploymentView {
    DeploymentView { id: id.into(), rollout, failed_tasks: 0 }
}

fn task(id: &str, deployment: &str, phase: Phase, instance: &str, zone: &str) -> TaskView {
    TaskView {
        id: id.into(),
        deployment: deployment.into(),
        phase,
        stop_wanted: false,
        unhealthy: false,
        instance: Some(instance.into()),
        zone: Some(zone.into()),
        started_at: (phase == Phase::Running).then_some(100.0),
        stopped_at: None,
        failed_start: false,
    }
}

fn instance(id: &str, zone: &str) -> InstanceView {
    InstanceView { id: id.into(), draining: false, zone: Some(zone.into()), eligible: true }
}

fn run(
    service: &ServiceView,
    deployments: &[DeploymentView],
    tasks: &[TaskView],
    instances: &[InstanceView],
) -> Plan {
    let book = Bookkeeping::default();
    plan(&Input {
        service,
        deployments,
        tasks,
        instances,
        now: 1000.0,
        book: &book,
        settings: Settings::default(),
    })
}

#[test]
fn limits_round_the_floor_up_and_the_ceiling_down() {
    assert_eq!(limits(3, 50, 200), (2, 6));
    assert_eq!(limits(3, 34, 150), (2, 4));
    assert_eq!(limits(5, 0, 100), (0, 5));
    assert_eq!(limits(4, 100, 125), (4, 5));
    assert_eq!(limits(0, 100, 200), (0, 0));
}

#[test]
fn a_new_service_starts_its_desired_count_and_no_steady_state_yet() {
    let plan =
        run(&service(3, 100, 200), &[deployment("d1", Rollout::InProgress)], &[], &[instance("i1", "a")]);
    assert_eq!(plan.start, 3);
    assert!(plan.stop.is_empty());
    assert!(!plan.steady);
    assert_eq!(plan.counts[0].pending, 3);
}

#[test]
fn a_full_deployment_completes_then_reports_steady_once() {
    let tasks: Vec<_> = (0..2).map(|n| task(&format!("t{n}"), "d1", Phase::Running, "i1", "a")).collect();
    let svc = service(2, 100, 200);
    let deployments = [deployment("d1", Rollout::InProgress)];
    let plan1 = run(&svc, &deployments, &tasks, &[instance("i1", "a")]);
    assert_eq!(plan1.counts[0].rollout, Rollout::Completed);
    assert!(plan1.steady);
    assert_eq!(plan1.events, vec![events::deployment_completed("web", "d1"), events::steady("web")]);
    let completed = [deployment("d1", Rollout::Completed)];
    let book = plan1.book.clone();
    let again = plan(&Input {
        service: &svc,
        deployments: &completed,
        tasks: &tasks,
        instances: &[instance("i1", "a")],
        now: 2000.0,
        book: &book,
        settings: Settings::default(),
    });
    assert!(again.steady);
    assert!(again.events.is_empty(), "the steady state event is not repeated: {:?}", again.events);
}

#[test]
fn a_stopped_task_is_replaced() {
    let mut tasks: Vec<_> = (0..2).map(|n| task(&format!("t{n}"), "d1", Phase::Running, "i1", "a")).collect();
    tasks[1].phase = Phase::Stopped;
    tasks[1].stopped_at = Some(900.0);
    let plan =
        run(&service(2, 100, 200), &[deployment("d1", Rollout::Completed)], &tasks, &[instance("i1", "a")]);
    assert_eq!(plan.start, 1);
    assert!(!plan.steady);
}

#[test]
fn scale_in_takes_from_the_fullest_zone_then_instance() {
    let tasks = vec![
        task("a1", "d1", Phase::Running, "i1", "a"),
        task("a2", "d1", Phase::Running, "i1", "a"),
        task("a3", "d1", Phase::Running, "i2", "a"),
        task("b1", "d1", Phase::Running, "i3", "b"),
    ];
    let plan = run(&service(2, 100, 200), &[deployment("d1", Rollout::Completed)], &tasks, &[]);
    let stopped: Vec<_> = plan.stop.iter().map(|s| s.task.as_str()).collect();
    assert_eq!(stopped.len(), 2);
    assert!(stopped.contains(&"a1") || stopped.contains(&"a2"), "{stopped:?}");
    assert!(!stopped.contains(&"b1"), "zone b holds one task only: {stopped:?}");
    let left: Vec<&TaskView> = tasks.iter().filter(|t| !stopped.contains(&t.id.as_str())).collect();
    let zones: BTreeSet<_> = left.iter().map(|t| t.zone.clone()).collect();
    let instances: BTreeSet<_> = left.iter().map(|t| t.instance.clone()).collect();
    assert_eq!((zones.len(), instances.len()), (2, 2), "one per zone, each on its own instance: {stopped:?}");
}

#[test]
fn draining_instances_are_replaced_before_their_tasks_stop() {
    let tasks =
        vec![task("t1", "d1", Phase::Running, "i1", "a"), task("t2", "d1", Phase::Running, "i2", "b")];
    let mut drained = instance("i1", "a");
    drained.draining = true;
    let instances = [drained, instance("i2", "b")];
    let deployments = [deployment("d1", Rollout::Completed)];
    let plan1 = run(&service(2, 100, 200), &deployments, &tasks, &instances);
    assert_eq!((plan1.start, plan1.stop.len()), (1, 0));
    let mut replaced = tasks.clone();
    replaced.push(task("t3", "d1", Phase::Running, "i2", "b"));
    let plan2 = run(&service(2, 100, 200), &deployments, &replaced, &instances);
    assert_eq!(plan2.start, 0);
    assert_eq!(plan2.stop, vec![Stop { task: "t1".into(), reason: StopReason::Draining, was_running: true }]);
}

#[test]
fn the_breaker_trips_at_half_the_desired_count_bounded_to_3_and_200() {
    assert_eq!(throttle::breaker_threshold(1), 3);
    assert_eq!(throttle::breaker_threshold(10), 5);
    assert_eq!(throttle::breaker_threshold(11), 6);
    assert_eq!(throttle::breaker_threshold(1000), 200);
    let mut svc = service(2, 100, 200);
    svc.breaker = Some(true);
    let deployments = [deployment("d2", Rollout::InProgress), deployment("d1", Rollout::Completed)];
    let mut tasks: Vec<_> =
        (0..2).map(|n| task(&format!("old{n}"), "d1", Phase::Running, "i1", "a")).collect();
    for n in 0..3 {
        let mut failed = task(&format!("new{n}"), "d2", Phase::Stopped, "i1", "a");
        failed.failed_start = true;
        failed.stopped_at = Some(990.0);
        tasks.push(failed);
    }
    let plan = run(&svc, &deployments, &tasks, &[instance("i1", "a")]);
    assert_eq!(plan.counts[0].rollout, Rollout::Failed);
    assert_eq!(plan.counts[0].failed, 3);
    assert_eq!(plan.rollback_to.as_deref(), Some("d1"));
    assert_eq!(plan.start, 0);
    assert!(plan.events.contains(&events::deployment_failed("web", "d2")));
    tasks.truncate(4);
    let below = run(&svc, &deployments, &tasks, &[instance("i1", "a")]);
    assert_eq!(below.counts[0].rollout, Rollout::InProgress, "2 failures of 3 needed");
}

#[test]
fn the_throttle_grows_and_resets_once_a_task_runs() {
    assert_eq!(throttle::delay(0, 5.0, 1620.0), 0.0);
    assert_eq!(throttle::delay(1, 5.0, 1620.0), 5.0);
    assert_eq!(throttle::delay(3, 5.0, 1620.0), 20.0);
    assert_eq!(throttle::delay(40, 5.0, 1620.0), 1620.0);
    let mut tasks = Vec::new();
    for n in 0..3 {
        let mut failed = task(&format!("f{n}"), "d1", Phase::Stopped, "i1", "a");
        failed.failed_start = true;
        failed.stopped_at = Some(995.0);
        tasks.push(failed);
    }
    let deployments = [deployment("d1", Rollout::InProgress)];
    let plan1 = run(&service(1, 100, 200), &deployments, &tasks, &[instance("i1", "a")]);
    assert_eq!(plan1.start, 0, "3 failures: 20 s from 995 is not over at 1000");
    assert_eq!(plan1.retry_at, Some(1015.0));
    assert!(plan1.events.contains(&events::throttled("web")));
    let mut ran = task("r", "d1", Phase::Stopped, "i1", "a");
    ran.started_at = Some(998.0);
    ran.stopped_at = Some(999.0);
    tasks.push(ran);
    let plan2 = run(&service(1, 100, 200), &deployments, &tasks, &[instance("i1", "a")]);
    assert_eq!(plan2.start, 1, "a task that ran resets the throttle");
}

#[test]
fn daemon_runs_one_task_per_eligible_active_instance() {
    let mut svc = service(0, 0, 100);
    svc.scheduling = Scheduling::Daemon;
    let mut ineligible = instance("i3", "a");
    ineligible.eligible = false;
    let mut draining = instance("i4", "b");
    draining.draining = true;
    let instances = [instance("i1", "a"), instance("i2", "b"), ineligible, draining];
    let tasks =
        vec![task("t1", "d1", Phase::Running, "i1", "a"), task("t4", "d1", Phase::Running, "i4", "b")];
    let plan = run(&svc, &[deployment("d1", Rollout::Completed)], &tasks, &instances);
    assert_eq!(plan.desired, 2);
    assert_eq!(plan.start, 1, "i2 lacks its task");
    assert_eq!(plan.stop.len(), 1);
    assert_eq!((plan.stop[0].task.as_str(), &plan.stop[0].reason), ("t4", &StopReason::Draining));
}

#[test]
fn a_deleted_service_stops_everything_then_goes_inactive() {
    let mut svc = service(0, 100, 200);
    svc.deleting = true;
    let tasks = vec![task("t1", "d1", Phase::Running, "i1", "a")];
    let deployments = [deployment("d1", Rollout::Completed)];
    let plan1 = run(&svc, &deployments, &tasks, &[]);
    assert_eq!(plan1.stop.len(), 1);
    assert!(!plan1.inactive);
    let mut gone = tasks.clone();
    gone[0].phase = Phase::Stopped;
    assert!(run(&svc, &deployments, &gone, &[]).inactive);
}

fn phase_strategy() -> impl Strategy<Value = Phase> {
    prop_oneof![Just(Phase::Pending), Just(Phase::Running), Just(Phase::Stopping), Just(Phase::Stopped)]
}

proptest! {
    /// Whatever the tasks, a pass never stops below the healthy floor (unless already below,
    /// when it stops no healthy task) and never starts above the ceiling.
    #[test]
    fn a_rollout_never_breaks_the_floor_or_the_ceiling(
        desired in 0u32..12,
        min in 0u32..=100,
        max in 100u32..=200,
        raw in proptest::collection::vec((0usize..2, phase_strategy(), any::<bool>(), 0usize..3), 0..30),
    ) {
        let svc = service(desired, min, max);
        let deployments = [deployment("new", Rollout::InProgress), deployment("old", Rollout::Completed)];
        let tasks: Vec<TaskView> = raw
            .iter()
            .enumerate()
            .map(|(n, (dep, phase, stop_wanted, inst))| {
                let mut t = task(&format!("t{n}"), ["new", "old"][*dep], *phase, &format!("i{inst}"), "a");
                t.stop_wanted = *stop_wanted;
                t
            })
            .collect();
        let instances: Vec<_> = (0..3).map(|n| instance(&format!("i{n}"), "a")).collect();
        let plan = run(&svc, &deployments, &tasks, &instances);
        let (floor, ceiling) = limits(desired, min, max);
        let healthy_before = tasks.iter().filter(|t| t.live() && t.phase == Phase::Running).count();
        let stopped_healthy = plan
            .stop
            .iter()
            .filter(|s| tasks.iter().any(|t| t.id == s.task && t.phase == Phase::Running))
            .count();
        let after = healthy_before - stopped_healthy;
        prop_assert!(after >= (floor as usize).min(healthy_before), "healthy {healthy_before} -> {after}, floor {floor}");
        let not_stopped = tasks.iter().filter(|t| t.phase != Phase::Stopped).count();
        if plan.start > 0 {
            prop_assert!(not_stopped + plan.start as usize <= ceiling as usize,
                "{not_stopped} + {} over {ceiling}", plan.start);
        }
    }
}
