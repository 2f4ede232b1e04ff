//! The placement engine as it was first written, kept for the tests as the specification the
//! faster engine must match: it scans every candidate for every task and counts every task on
//! every instance, so it is plainly what the ECS rules say, one step at a time.
//! `equivalence` checks that [`crate::place`] gives exactly its answers, draws of `random`
//! included, over generated snapshots and requests.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::rng::SplitMix64;
use crate::types::{
    BinpackField, Constraint, Demand, Failure, InstanceView, Placement, Request, SpreadField, Strategy,
    TaskView, reason,
};

// === place ===

/// Places up to `request.count` tasks on `instances`.
///
/// Returns the placements made, in order (an instance appears once per task it takes), and,
/// when fewer than `count` fit, one failure per instance of the request's launch type saying
/// why it refused the first task that did not fit, as RunTask reports `failures`. With no
/// instance of the launch type the failures are empty: the caller says the cluster has no
/// container instances. The caller bounds `count` (RunTask allows 10).
pub(super) fn place(instances: &[InstanceView], request: &Request) -> (Vec<Placement>, Vec<Failure>) {
    let mut working = Working::new(instances, request);
    let mut ranking = Ranking::new(&request.strategies, &working);
    let mut rng = SplitMix64::new(request.seed);
    let mut placements = Vec::with_capacity(request.count.min(1024));
    let mut candidates = Vec::with_capacity(instances.len());
    for _ in 0..request.count {
        candidates.clear();
        candidates
            .extend((0..instances.len()).filter(|&i| working.eligible[i] && working.refusal(i).is_none()));
        let Some(index) = ranking.choose(&working, &mut candidates, &mut rng) else {
            return (placements, failures(&working));
        };
        working.charge(index);
        ranking.record(index);
        placements.push(Placement { instance: index });
    }
    (placements, Vec::new())
}

fn failures(working: &Working<'_>) -> Vec<Failure> {
    (0..working.instances.len())
        .filter(|&index| working.eligible[index])
        .filter_map(|index| {
            let reason = working.refusal(index)?;
            Some(Failure { arn: working.instances[index].arn.clone(), reason: reason.to_string() })
        })
        .collect()
}

// === fit ===

/// The request's view of the cluster while its tasks are placed one by one.
struct Working<'a> {
    instances: &'a [InstanceView],
    request: &'a Request,
    /// The demand with negative amounts read as zero, so no input can add resources.
    demand: Demand,
    /// The group spread and `distinctInstance` count.
    group: Cow<'a, str>,
    /// Whether the instance is of the request's launch type at all (others are not reported).
    eligible: Vec<bool>,
    /// A refusal no placement can change (AGENT, ATTRIBUTE), decided once.
    fixed_refusal: Vec<Option<&'static str>>,
    remaining_cpu: Vec<i64>,
    remaining_memory: Vec<i64>,
    remaining_gpus: Vec<i64>,
    /// Whether a static host port of the demand is taken on the instance.
    ports_taken: Vec<bool>,
    /// Tasks of the group on the instance, this request's included.
    group_tasks: Vec<u64>,
    /// Tasks this request placed on the instance.
    placed: Vec<u32>,
    /// Whether every `memberOf` expression matches the instance.
    member_of: Vec<bool>,
    /// Whether the request has a `distinctInstance` constraint.
    distinct: bool,
    /// Whether the request has a `memberOf` constraint.
    has_member_of: bool,
}

impl<'a> Working<'a> {
    fn new(instances: &'a [InstanceView], request: &'a Request) -> Self {
        let demand = Demand {
            cpu: request.demand.cpu.max(0),
            memory: request.demand.memory.max(0),
            gpus: request.demand.gpus.max(0),
            ..request.demand.clone()
        };
        let group = match &request.group {
            Some(group) => Cow::Borrowed(group.as_str()),
            None => Cow::Owned(format!("family:{}", request.family)),
        };
        let group_tasks = instances
            .iter()
            .map(|instance| instance.tasks.iter().filter(|task| task.group_name() == group).count() as u64)
            .collect();
        Working {
            instances,
            request,
            eligible: instances.iter().map(|instance| launch_type_allows(request, instance)).collect(),
            fixed_refusal: instances.iter().map(|instance| fixed_refusal(request, instance)).collect(),
            remaining_cpu: instances.iter().map(|instance| instance.remaining_cpu).collect(),
            remaining_memory: instances.iter().map(|instance| instance.remaining_memory).collect(),
            remaining_gpus: instances.iter().map(|instance| instance.remaining_gpus).collect(),
            ports_taken: instances.iter().map(|instance| ports_taken(&demand, instance)).collect(),
            group_tasks,
            placed: vec![0; instances.len()],
            member_of: instances.iter().map(|instance| members(request, instance)).collect(),
            distinct: request.constraints.iter().any(|c| matches!(c, Constraint::DistinctInstance)),
            has_member_of: request.constraints.iter().any(|c| matches!(c, Constraint::MemberOf(_))),
            demand,
            group,
        }
    }

    /// Why instance `index` cannot take one more task, or `None` when it can. Resources are
    /// checked before constraints, in the order the ECS developer guide gives for placement.
    fn refusal(&self, index: usize) -> Option<&'static str> {
        if let Some(reason) = self.fixed_refusal[index] {
            return Some(reason);
        }
        if self.remaining_cpu[index] < self.demand.cpu {
            return Some(reason::CPU);
        }
        if self.remaining_memory[index] < self.demand.memory {
            return Some(reason::MEMORY);
        }
        if self.remaining_gpus[index] < self.demand.gpus {
            return Some(reason::GPU);
        }
        if self.ports_taken[index] {
            return Some(reason::PORTS);
        }
        if self.distinct && self.group_tasks[index] > 0 {
            return Some(reason::DISTINCT_INSTANCE);
        }
        if !self.member_of[index] {
            return Some(reason::MEMBER_OF);
        }
        None
    }

    /// Charges one task to instance `index`.
    fn charge(&mut self, index: usize) {
        self.remaining_cpu[index] = self.remaining_cpu[index].saturating_sub(self.demand.cpu);
        self.remaining_memory[index] = self.remaining_memory[index].saturating_sub(self.demand.memory);
        self.remaining_gpus[index] = self.remaining_gpus[index].saturating_sub(self.demand.gpus);
        // The task holds its own static ports now, so a second copy cannot bind them.
        if !self.demand.tcp_ports.is_empty() || !self.demand.udp_ports.is_empty() {
            self.ports_taken[index] = true;
        }
        self.group_tasks[index] += 1;
        self.placed[index] += 1;
        if self.has_member_of {
            // Expressions may test task:group or runningTasksCount, which this task changed:
            // re-evaluate on a copy of this one instance with the request's tasks added.
            let mut updated = self.instances[index].clone();
            let task = TaskView { group: Some(self.group.to_string()), family: self.request.family.clone() };
            updated.tasks.extend(std::iter::repeat_n(task, self.placed[index] as usize));
            self.member_of[index] = members(self.request, &updated);
        }
    }
}

fn launch_type_allows(request: &Request, instance: &InstanceView) -> bool {
    match request.launch_type.as_deref() {
        Some("EC2") => !instance.is_external(),
        Some("EXTERNAL") => instance.is_external(),
        _ => true,
    }
}

fn fixed_refusal(request: &Request, instance: &InstanceView) -> Option<&'static str> {
    if instance.status != "ACTIVE" || !instance.agent_connected {
        return Some(reason::AGENT);
    }
    let has = |(name, value): &(String, Option<String>)| match (instance.attributes.get(name), value) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(actual), Some(expected)) => actual.as_deref() == Some(expected.as_str()),
    };
    if !request.required_attributes.iter().all(has) {
        return Some(reason::ATTRIBUTE);
    }
    None
}

fn ports_taken(demand: &Demand, instance: &InstanceView) -> bool {
    demand.tcp_ports.iter().any(|port| instance.used_tcp_ports.contains(port))
        || demand.udp_ports.iter().any(|port| instance.used_udp_ports.contains(port))
}

fn members(request: &Request, instance: &InstanceView) -> bool {
    request.constraints.iter().all(|constraint| match constraint {
        Constraint::MemberOf(expression) => expression.matches(instance),
        Constraint::DistinctInstance => true,
    })
}

// === rank ===

/// The strategies with the per-value task counts `spread` on an attribute keeps.
struct Ranking<'a> {
    strategies: &'a [Strategy],
    /// For each strategy that spreads on an attribute, the instances' buckets.
    buckets: Vec<Option<Buckets>>,
}

/// Instances grouped by their value of one attribute, with the group's tasks in each bucket.
/// Instances without the attribute share one bucket.
struct Buckets {
    of: Vec<usize>,
    tasks: Vec<u64>,
}

impl<'a> Ranking<'a> {
    fn new(strategies: &'a [Strategy], working: &Working<'_>) -> Self {
        let buckets = strategies
            .iter()
            .map(|strategy| match strategy {
                Strategy::Spread(SpreadField::Attribute(name)) => Some(Buckets::new(name, working)),
                _ => None,
            })
            .collect();
        Ranking { strategies, buckets }
    }

    /// The instance among `candidates` (indices, ascending) the strategies pick, or `None` when
    /// there is no candidate. `candidates` is narrowed in place.
    fn choose(
        &self,
        working: &Working<'_>,
        candidates: &mut Vec<usize>,
        rng: &mut SplitMix64,
    ) -> Option<usize> {
        for (strategy, buckets) in self.strategies.iter().zip(&self.buckets) {
            if candidates.len() <= 1 {
                break;
            }
            match (strategy, buckets) {
                (Strategy::Binpack(BinpackField::Cpu), _) => {
                    keep_least(candidates, |i| working.remaining_cpu[i])
                }
                (Strategy::Binpack(BinpackField::Memory), _) => {
                    keep_least(candidates, |i| working.remaining_memory[i])
                }
                (Strategy::Spread(SpreadField::Instance), _) => {
                    keep_least(candidates, |i| working.group_tasks[i])
                }
                (Strategy::Spread(SpreadField::Attribute(_)), Some(buckets)) => {
                    keep_least(candidates, |i| buckets.tasks[buckets.of[i]])
                }
                (Strategy::Spread(SpreadField::Attribute(_)), None) => {}
                (Strategy::Random, _) => return Some(candidates[rng.below(candidates.len())]),
            }
        }
        candidates.first().copied()
    }

    /// Counts a task of the group placed on instance `index`.
    fn record(&mut self, index: usize) {
        for buckets in self.buckets.iter_mut().flatten() {
            buckets.tasks[buckets.of[index]] += 1;
        }
    }
}

impl Buckets {
    fn new(name: &str, working: &Working<'_>) -> Self {
        // A BTreeMap: a cluster has a handful of zones, so a few comparisons beat hashing each value.
        let mut ids: BTreeMap<Option<&str>, usize> = BTreeMap::new();
        let of: Vec<usize> = working
            .instances
            .iter()
            .map(|instance| {
                let next = ids.len();
                *ids.entry(instance.attribute(name)).or_insert(next)
            })
            .collect();
        let mut tasks = vec![0; ids.len()];
        // Tasks on every instance of the launch type count, even on instances that cannot take
        // this task: a zone holding the group's tasks is not emptier because its hosts are full.
        for (index, bucket) in of.iter().enumerate() {
            if working.eligible[index] {
                tasks[*bucket] += working.group_tasks[index];
            }
        }
        Buckets { of, tasks }
    }
}

/// Keeps the candidates with the smallest key.
fn keep_least<K: Ord>(candidates: &mut Vec<usize>, key: impl Fn(usize) -> K) {
    let Some(least) = candidates.iter().map(|&index| key(index)).min() else {
        return;
    };
    candidates.retain(|&index| key(index) == least);
}

#[cfg(test)]
mod equivalence {
    use std::collections::BTreeSet;

    use proptest::prelude::{
        Just, ProptestConfig, any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
    };
    use proptest::sample::select;
    use proptest::strategy::Strategy as _;

    use super::*;
    use crate::query::parse;

    const ZONES: [&str; 4] = ["a", "b", "c", "d"];
    const GROUPS: [&str; 3] = ["service:web", "service:api", "family:web"];

    fn task() -> impl proptest::strategy::Strategy<Value = TaskView> {
        (prop::option::of(select(GROUPS.to_vec())), select(vec!["web", "api"]))
            .prop_map(|(group, family)| TaskView { group: group.map(str::to_string), family: family.into() })
    }

    fn instance() -> impl proptest::strategy::Strategy<Value = InstanceView> {
        (
            (0i64..=2048, 0i64..=4096, 0i64..=2),
            prop::collection::btree_set(select(vec![80u16, 443, 8080]), 0..=2),
            (select(vec!["ACTIVE", "ACTIVE", "ACTIVE", "DRAINING"]), prop::bool::weighted(0.9)),
            (prop::option::of(select(ZONES.to_vec())), select(vec!["t2.micro", "m5.large"])),
            (prop::bool::weighted(0.1), prop::collection::vec(task(), 0..5)),
        )
            .prop_map(
                |((cpu, memory, gpus), tcp, (status, connected), (zone, kind), (external, tasks))| {
                    let mut attributes =
                        BTreeMap::from([("ecs.instance-type".to_string(), Some(kind.to_string()))]);
                    if let Some(zone) = zone {
                        attributes.insert("ecs.availability-zone".into(), Some(zone.into()));
                    }
                    if external {
                        attributes.insert("ecs.capability.external".into(), None);
                    }
                    InstanceView {
                        status: status.into(),
                        agent_connected: connected,
                        remaining_cpu: cpu,
                        remaining_memory: memory,
                        remaining_gpus: gpus,
                        used_tcp_ports: tcp,
                        used_udp_ports: BTreeSet::new(),
                        attributes,
                        tasks,
                        ..InstanceView::default()
                    }
                },
            )
    }

    fn snapshot() -> impl proptest::strategy::Strategy<Value = Vec<InstanceView>> {
        prop::collection::vec(instance(), 0..=40).prop_map(|mut instances| {
            for (index, instance) in instances.iter_mut().enumerate() {
                instance.arn = format!("arn:aws:ecs:us-east-1:000000000000:container-instance/c/i{index}");
            }
            instances
        })
    }

    fn constraint() -> impl proptest::strategy::Strategy<Value = Constraint> {
        let expressions = vec![
            "attribute:ecs.instance-type == t2.micro",
            "attribute:ecs.availability-zone in [a, b]",
            "not(task:group == service:web)",
            "runningTasksCount <= 3",
            "task:group != service:api or runningTasksCount == 0",
        ];
        prop_oneof![
            Just(Constraint::DistinctInstance),
            select(expressions).prop_map(|text| Constraint::MemberOf(parse(text).expect("parses"))),
        ]
    }

    fn strategy() -> impl proptest::strategy::Strategy<Value = Strategy> {
        select(vec![
            Strategy::Binpack(BinpackField::Cpu),
            Strategy::Binpack(BinpackField::Memory),
            Strategy::Spread(SpreadField::Instance),
            Strategy::Spread(SpreadField::Attribute("ecs.availability-zone".into())),
            Strategy::Spread(SpreadField::Attribute("ecs.instance-type".into())),
            Strategy::Random,
        ])
    }

    fn request() -> impl proptest::strategy::Strategy<Value = Request> {
        (
            (prop_oneof![0usize..=12, 0usize..=40], 0i64..=512, 0i64..=1024, 0i64..=1),
            prop::collection::btree_set(select(vec![80u16, 8080]), 0..=1),
            prop::collection::vec(constraint(), 0..=2),
            prop::collection::vec(strategy(), 0..=5),
            (prop::option::of(select(GROUPS.to_vec())), any::<u64>()),
            (prop::option::of(select(vec!["EC2", "EXTERNAL"])), prop::bool::weighted(0.1)),
        )
            .prop_map(
                |(
                    (count, cpu, memory, gpus),
                    tcp,
                    constraints,
                    strategies,
                    (group, seed),
                    (launch, attr),
                )| {
                    Request {
                        count,
                        demand: Demand {
                            cpu,
                            memory,
                            gpus,
                            tcp_ports: tcp.into_iter().collect(),
                            udp_ports: vec![],
                        },
                        group: group.map(str::to_string),
                        family: "web".into(),
                        constraints,
                        strategies,
                        seed,
                        launch_type: launch.map(str::to_string),
                        required_attributes: if attr {
                            vec![("ecs.instance-type".into(), Some("m5.large".into()))]
                        } else {
                            Vec::new()
                        },
                    }
                },
            )
    }

    /// A change to a snapshot; indices are taken modulo the snapshot's length.
    #[derive(Debug, Clone)]
    enum Edit {
        Replace(usize, InstanceView),
        Insert(usize, InstanceView),
        Remove(usize),
    }

    fn edit() -> impl proptest::strategy::Strategy<Value = Edit> {
        prop_oneof![
            (any::<usize>(), instance()).prop_map(|(at, instance)| Edit::Replace(at, instance)),
            (any::<usize>(), instance()).prop_map(|(at, instance)| Edit::Insert(at, instance)),
            any::<usize>().prop_map(Edit::Remove),
        ]
    }

    /// Whether placing tasks on `placements`, in order, fits each one, by the reference's rules.
    fn fits_in_order(snapshot: &[InstanceView], request: &Request, placements: &[crate::Placement]) -> bool {
        let mut working = Working::new(snapshot, request);
        placements.iter().all(|placement| {
            let fits = working.eligible[placement.instance] && working.refusal(placement.instance).is_none();
            if fits {
                working.charge(placement.instance);
            }
            fits
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Steering `random` away from busy instances places as many tasks as placing without
        /// it, never on a busy instance while a task still fits elsewhere, and leaves every
        /// other strategy's choice as it was.
        #[test]
        fn busy_instances_are_avoided_while_others_fit(
            snapshot in snapshot(),
            mut request in request(),
            busy in prop::collection::vec(any::<bool>(), 40),
            random in any::<bool>(),
        ) {
            if random {
                request.strategies = vec![Strategy::Random];
            }
            let prepared: Vec<_> = snapshot.iter().map(crate::Prepared::of).collect();
            let plain = crate::place_prepared(&snapshot, &prepared, &request);
            let (placements, failures) = crate::place_avoiding(&snapshot, &prepared, &busy, &request);
            prop_assert_eq!(placements.len(), plain.0.len());
            prop_assert_eq!(&failures, &plain.1);
            let steered = matches!(request.strategies.first(), Some(Strategy::Random));
            if !steered {
                prop_assert_eq!(&placements, &plain.0, "only random is steered");
            }
            // Replaying with the reference: a busy pick means no idle instance fitted then.
            let mut replay = request.clone();
            for (step, placement) in placements.iter().enumerate() {
                if busy[placement.instance] && steered {
                    replay.count = step + 1;
                    let before: Vec<_> = placements[..step].to_vec();
                    let idle_fits = (0..snapshot.len()).filter(|i| !busy[*i]).any(|i| {
                        let mut probe = before.clone();
                        probe.push(crate::Placement { instance: i });
                        fits_in_order(&snapshot, &replay, &probe)
                    });
                    prop_assert!(!idle_fits, "task {} went to busy instance {} while an idle one fitted", step, placement.instance);
                }
            }
        }

        /// The engine places exactly as the reference does: the same instances in the same order,
        /// the same failures with the same reasons.
        #[test]
        fn the_engine_matches_the_reference(snapshot in snapshot(), request in request()) {
            let expected = place(&snapshot, &request);
            prop_assert_eq!(&crate::place(&snapshot, &request), &expected);
            let prepared: Vec<_> = snapshot.iter().map(crate::Prepared::of).collect();
            prop_assert_eq!(&crate::place_prepared(&snapshot, &prepared, &request), &expected);
            prop_assert_eq!(&crate::place_prepared(&snapshot, &prepared[..prepared.len() / 2], &request), &expected);
            let idle = vec![false; snapshot.len()];
            prop_assert_eq!(&crate::place_avoiding(&snapshot, &prepared, &idle, &request), &expected);
            // A kept cluster answers the same, the first time and with its kept answers after.
            let cluster = crate::PreparedCluster::new(&snapshot);
            prop_assert_eq!(&crate::place_in(&snapshot, &cluster, &idle, &request), &expected);
            prop_assert_eq!(&crate::place_in(&snapshot, &cluster, &[], &request), &expected);
        }

        /// A cluster told of every change to its snapshot answers as the reference does on the
        /// changed snapshot: its numbers, copied resources and kept `memberOf` answers follow
        /// the changes, each kept answer is the expression's answer on the instance now, and no
        /// string outlives the instances that had it.
        #[test]
        fn a_kept_cluster_follows_every_change(
            mut snapshot in snapshot(),
            requests in prop::collection::vec(request(), 1..=4),
            edits in prop::collection::vec(edit(), 0..=12),
        ) {
            let mut cluster = crate::PreparedCluster::new(&snapshot);
            for request in &requests {
                crate::place_in(&snapshot, &cluster, &[], request);
            }
            for edit in edits {
                match edit {
                    Edit::Replace(at, instance) if !snapshot.is_empty() => {
                        let at = at % snapshot.len();
                        snapshot[at] = instance;
                        cluster.replace(at, &snapshot[at]);
                    }
                    Edit::Insert(at, instance) => {
                        let at = at % (snapshot.len() + 1);
                        snapshot.insert(at, instance);
                        cluster.insert(at, &snapshot[at]);
                    }
                    Edit::Remove(at) if !snapshot.is_empty() => {
                        let at = at % snapshot.len();
                        snapshot.remove(at);
                        cluster.remove(at);
                    }
                    _ => {}
                }
            }
            for request in &requests {
                prop_assert_eq!(&crate::place_in(&snapshot, &cluster, &[], request), &place(&snapshot, request));
            }
            let kept = cluster.lock_member_of();
            for answers in &kept.expressions {
                prop_assert_eq!(answers.of.len(), snapshot.len());
                for (instance, answer) in snapshot.iter().zip(&answers.of) {
                    if let Some(answer) = answer {
                        prop_assert_eq!(*answer, answers.expression.matches(instance));
                    }
                }
            }
            prop_assert_eq!(cluster.strings_in_use(), crate::PreparedCluster::new(&snapshot).strings_in_use());
            prop_assert!(cluster.postings_agree());
        }
    }
}
