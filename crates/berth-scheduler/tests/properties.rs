//! Properties of placement and of the query parser, over generated snapshots and texts.
//!
//! Placement is checked against an oracle written here from the rules alone: replaying the
//! placements on the snapshot must never overbook CPU, memory, GPUs or a port, never use an
//! instance that cannot take tasks, and never break a constraint; and when placement stops short,
//! no instance may still have been able to take the next task.

use std::collections::{BTreeMap, BTreeSet};

use berth_scheduler::query::{Expression, parse};
use berth_scheduler::{
    BinpackField, Constraint, Demand, InstanceView, Placement, Request, SpreadField, Strategy as Placing,
    TaskView, place,
};
use proptest::prelude::*;
use proptest::sample::select;

const ZONES: [&str; 4] = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"];
const GROUPS: [&str; 2] = ["service:web", "service:api"];

fn ports(pool: Vec<u16>) -> impl Strategy<Value = BTreeSet<u16>> {
    prop::collection::btree_set(select(pool), 0..=2)
}

fn task() -> impl Strategy<Value = TaskView> {
    (prop::option::of(select(GROUPS.to_vec())), select(vec!["web", "api"]))
        .prop_map(|(group, family)| TaskView { group: group.map(str::to_string), family: family.to_string() })
}

fn instance() -> impl Strategy<Value = InstanceView> {
    (
        (0i64..=4096, 0i64..=8192, 0i64..=2),
        (ports(vec![80, 443, 8080]), ports(vec![53, 5353])),
        (select(vec!["ACTIVE", "ACTIVE", "ACTIVE", "DRAINING"]), prop::bool::weighted(0.85)),
        (select(ZONES.to_vec()), select(vec!["t2.micro", "t2.small", "m5.large"])),
        prop::collection::vec(task(), 0..4),
    )
        .prop_map(|((cpu, memory, gpus), (tcp, udp), (status, connected), (zone, kind), tasks)| {
            InstanceView {
                status: status.to_string(),
                agent_connected: connected,
                remaining_cpu: cpu,
                remaining_memory: memory,
                remaining_gpus: gpus,
                used_tcp_ports: tcp,
                used_udp_ports: udp,
                attributes: BTreeMap::from([
                    ("ecs.availability-zone".to_string(), Some(zone.to_string())),
                    ("ecs.instance-type".to_string(), Some(kind.to_string())),
                ]),
                tasks,
                ..InstanceView::default()
            }
        })
}

/// A snapshot whose ARNs are distinct, as the server's are.
fn snapshot(size: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<InstanceView>> {
    prop::collection::vec(instance(), size).prop_map(|mut instances| {
        for (index, instance) in instances.iter_mut().enumerate() {
            instance.arn = format!("arn:aws:ecs:us-east-1:000000000000:container-instance/demo/i{index}");
        }
        instances
    })
}

fn constraint() -> impl Strategy<Value = Constraint> {
    let expressions = vec![
        "attribute:ecs.instance-type =~ t2.*",
        "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
        "not(task:group == service:web)",
        "runningTasksCount <= 2",
        "task:group != service:api or runningTasksCount == 0",
    ];
    prop_oneof![
        Just(Constraint::DistinctInstance),
        select(expressions).prop_map(|text| Constraint::MemberOf(parse(text).expect("parses"))),
    ]
}

fn strategy() -> impl Strategy<Value = Placing> {
    select(vec![
        Placing::Binpack(BinpackField::Cpu),
        Placing::Binpack(BinpackField::Memory),
        Placing::Spread(SpreadField::Instance),
        Placing::Spread(SpreadField::Attribute("ecs.availability-zone".into())),
        Placing::Spread(SpreadField::Attribute("ecs.instance-type".into())),
        Placing::Random,
    ])
}

fn request() -> impl Strategy<Value = Request> {
    (
        (0usize..=12, 0i64..=2048, 0i64..=4096, prop::bool::weighted(0.2)),
        (ports(vec![80, 8080, 9000]), ports(vec![53, 9001])),
        prop::collection::vec(constraint(), 0..=2),
        prop::collection::vec(strategy(), 0..=3),
        (prop::option::of(select(GROUPS.to_vec())), any::<u64>()),
    )
        .prop_map(|((count, cpu, memory, gpu), (tcp, udp), constraints, strategies, (group, seed))| {
            Request {
                count,
                demand: Demand {
                    cpu,
                    memory,
                    gpus: i64::from(gpu),
                    tcp_ports: tcp.into_iter().collect(),
                    udp_ports: udp.into_iter().collect(),
                },
                group: group.map(str::to_string),
                family: "web".into(),
                constraints,
                strategies,
                seed,
                ..Request::default()
            }
        })
}

// === the oracle ===

/// The snapshot as the placements so far left it, computed from the rules alone.
struct Replay<'a> {
    snapshot: &'a [InstanceView],
    request: &'a Request,
    views: Vec<InstanceView>,
}

impl<'a> Replay<'a> {
    fn new(snapshot: &'a [InstanceView], request: &'a Request) -> Self {
        Replay { snapshot, request, views: snapshot.to_vec() }
    }

    fn group(&self) -> String {
        self.request.group.clone().unwrap_or_else(|| format!("family:{}", self.request.family))
    }

    /// Whether instance `index` can take one more task now, by the rules.
    fn fits(&self, index: usize) -> bool {
        let view = &self.views[index];
        let demand = &self.request.demand;
        let group = self.group();
        view.status == "ACTIVE"
            && view.agent_connected
            && view.remaining_cpu >= demand.cpu
            && view.remaining_memory >= demand.memory
            && view.remaining_gpus >= demand.gpus
            && demand.tcp_ports.iter().all(|port| !view.used_tcp_ports.contains(port))
            && demand.udp_ports.iter().all(|port| !view.used_udp_ports.contains(port))
            && self.request.constraints.iter().all(|constraint| match constraint {
                Constraint::DistinctInstance => view.tasks.iter().all(|task| task.group_name() != group),
                Constraint::MemberOf(expression) => expression.matches(view),
            })
    }

    fn apply(&mut self, index: usize) {
        let demand = &self.request.demand;
        let group = self.group();
        let view = &mut self.views[index];
        view.remaining_cpu -= demand.cpu;
        view.remaining_memory -= demand.memory;
        view.remaining_gpus -= demand.gpus;
        view.used_tcp_ports.extend(demand.tcp_ports.iter().copied());
        view.used_udp_ports.extend(demand.udp_ports.iter().copied());
        view.tasks.push(TaskView { group: Some(group), family: self.request.family.clone() });
    }

    fn any_fits(&self) -> bool {
        (0..self.snapshot.len()).any(|index| self.fits(index))
    }
}

/// Replays `placements`, checking each against the rules; returns the replayed snapshot.
fn replay<'a>(
    snapshot: &'a [InstanceView],
    request: &'a Request,
    placements: &[Placement],
) -> Result<Replay<'a>, TestCaseError> {
    let mut replay = Replay::new(snapshot, request);
    for (step, placement) in placements.iter().enumerate() {
        prop_assert!(placement.instance < snapshot.len());
        prop_assert!(
            replay.fits(placement.instance),
            "task {step} on instance {} does not fit",
            placement.instance
        );
        replay.apply(placement.instance);
    }
    Ok(replay)
}

fn web_task() -> TaskView {
    TaskView { group: Some("service:web".into()), family: "web".into() }
}

fn zone(instance: &InstanceView) -> String {
    instance.availability_zone().unwrap_or_default().to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// No placement overbooks a resource or a port, lands on an instance that cannot take tasks,
    /// or breaks a constraint; placement stops only when nothing fits, and then every instance
    /// says why.
    #[test]
    fn placements_fit_and_stop_only_when_nothing_fits(snapshot in snapshot(0..=8), request in request()) {
        let (placements, failures) = place(&snapshot, &request);
        prop_assert!(placements.len() <= request.count);
        let replayed = replay(&snapshot, &request, &placements)?;
        if placements.len() == request.count {
            prop_assert!(failures.is_empty());
        } else {
            let (placed, count) = (placements.len(), request.count);
            prop_assert!(!replayed.any_fits(), "stopped at {} of {} while an instance fits", placed, count);
            let arns: Vec<&str> = failures.iter().map(|failure| failure.arn.as_str()).collect();
            let expected: Vec<&str> = snapshot.iter().map(|instance| instance.arn.as_str()).collect();
            prop_assert_eq!(arns, expected);
        }
        prop_assert_eq!(place(&snapshot, &request), (placements, failures), "placement is deterministic");
    }

    /// Spreading across zones with room everywhere keeps zones within one task of each other,
    /// and each task goes to a zone that had the fewest of the group.
    #[test]
    fn spread_balances_zones(
        zones in 2usize..=4,
        per_zone in prop::collection::vec(1usize..=3, 4),
        existing in prop::collection::vec(0usize..=3, 4),
        count in 1usize..=20,
        then_binpack in any::<bool>(),
    ) {
        let mut snapshot = Vec::new();
        for zone in 0..zones {
            for n in 0..per_zone[zone] {
                snapshot.push(InstanceView {
                    arn: format!("arn:aws:ecs:us-east-1:000000000000:container-instance/demo/{zone}-{n}"),
                    status: "ACTIVE".into(),
                    agent_connected: true,
                    remaining_cpu: 100_000,
                    remaining_memory: 100_000 - n as i64,
                    attributes: BTreeMap::from([("ecs.availability-zone".into(), Some(ZONES[zone].into()))]),
                    tasks: if n == 0 { vec![web_task(); existing[zone]] } else { vec![] },
                    ..InstanceView::default()
                });
            }
        }
        let mut strategies = vec![Placing::Spread(SpreadField::Attribute("ecs.availability-zone".into()))];
        if then_binpack {
            strategies.push(Placing::Binpack(BinpackField::Memory));
        }
        let request = Request {
            count,
            demand: Demand { cpu: 10, memory: 10, ..Demand::default() },
            group: Some("service:web".into()),
            family: "web".into(),
            strategies,
            ..Request::default()
        };
        let (placements, failures) = place(&snapshot, &request);
        prop_assert_eq!(placements.len(), count);
        prop_assert!(failures.is_empty());
        let mut counts: BTreeMap<String, usize> =
            (0..zones).map(|z| (ZONES[z].to_string(), existing[z])).collect();
        for placement in &placements {
            let least = counts.values().copied().min().unwrap_or_default();
            let chosen = zone(&snapshot[placement.instance]);
            prop_assert_eq!(counts[&chosen], least, "a task went to {} while another zone had fewer", chosen);
            *counts.entry(chosen).or_default() += 1;
        }
        if existing.iter().take(zones).all(|n| *n == 0) {
            let (least, most) = (counts.values().min().copied(), counts.values().max().copied());
            prop_assert!(most.unwrap_or_default() - least.unwrap_or_default() <= 1, "{:?}", counts);
        }
    }

    /// Binpack takes, among the instances that fit, one with the least of its resource left.
    #[test]
    fn binpack_takes_the_least_remaining(
        snapshot in snapshot(1..=10),
        mut request in request(),
        memory in any::<bool>(),
    ) {
        request.count = 1;
        let field = if memory { BinpackField::Memory } else { BinpackField::Cpu };
        request.strategies = vec![Placing::Binpack(field)];
        let remaining =
            |instance: &InstanceView| if memory { instance.remaining_memory } else { instance.remaining_cpu };
        let oracle = Replay::new(&snapshot, &request);
        let least = (0..snapshot.len()).filter(|i| oracle.fits(*i)).map(|i| remaining(&snapshot[i])).min();
        let (placements, _) = place(&snapshot, &request);
        prop_assert_eq!(placements.first().map(|p| remaining(&snapshot[p.instance])), least);
    }

    /// Random only picks instances that fit, and the same seed picks the same ones.
    #[test]
    fn random_picks_only_instances_that_fit(snapshot in snapshot(1..=10), mut request in request()) {
        request.strategies = vec![Placing::Random];
        let (placements, _) = place(&snapshot, &request);
        replay(&snapshot, &request, &placements)?;
        prop_assert_eq!(place(&snapshot, &request).0, placements);
    }

    /// No text makes the parser panic, and whatever it accepts prints back to the same value.
    #[test]
    fn parse_never_panics(text in "\\PC{0,80}") {
        if let Ok(expression) = parse(&text) {
            prop_assert_eq!(parse(&expression.to_string()), Ok(expression));
        }
    }

    /// The same over texts made of the language's own tokens, which reach deeper into it.
    #[test]
    fn parse_never_panics_on_token_soup(tokens in prop::collection::vec(select(TOKENS.to_vec()), 0..16)) {
        let text = tokens.join(" ");
        if let Ok(expression) = parse(&text) {
            prop_assert_eq!(parse(&expression.to_string()), Ok(expression));
        }
        let squeezed = tokens.concat();
        if let Ok(expression) = parse(&squeezed) {
            prop_assert_eq!(parse(&expression.to_string()), Ok(expression));
        }
    }

    /// Generated expressions print to text that parses back to them.
    #[test]
    fn display_round_trips(expression in expression()) {
        let printed = expression.to_string();
        prop_assert_eq!(parse(&printed), Ok(expression), "{}", printed);
    }
}

const TOKENS: [&str; 40] = [
    "(",
    ")",
    "[",
    "]",
    ",",
    "!",
    "not",
    "and",
    "or",
    "&&",
    "||",
    "==",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "=~",
    "!~",
    "exists",
    "!exists",
    "in",
    "!in",
    "not_in",
    "matches",
    "'",
    "\"",
    "attribute:ecs.instance-type",
    "attribute:",
    "task:group",
    "agentConnected",
    "agentVersion",
    "registeredAt",
    "runningTasksCount",
    "ec2InstanceId",
    "t2.*",
    "2018-02-13",
    "1.14.5",
    "true",
    "'a b'",
];

/// One comparison, as text the parser accepts.
fn comparison() -> impl Strategy<Value = Expression> {
    let value = "[a-z0-9.*:/@_-]{1,8}|'[a-z :]{0,6}'|\"[a-z' ]{1,6}\"";
    let text = prop_oneof![
        ("[a-z][a-z0-9._/-]{0,10}", select(vec!["==", "!=", ">", ">=", "<", "<="]), value)
            .prop_map(|(name, op, value)| format!("attribute:{name} {op} {value}")),
        (
            "[a-z][a-z0-9._/-]{0,10}",
            select(vec!["=~", "!~"]),
            "[a-z0-9]{1,4}(\\.\\*)?|'[a-z]{1,3}(\\|[a-z]{1,3})+'"
        )
            .prop_map(|(name, op, pattern)| format!("attribute:{name} {op} {pattern}")),
        ("[a-z][a-z0-9._-]{0,10}", select(vec!["exists", "!exists"]))
            .prop_map(|(name, op)| format!("attribute:{name} {op}")),
        (
            select(vec!["task:group", "ec2InstanceId", "attribute:stack"]),
            select(vec!["in", "!in"]),
            prop::collection::vec(value, 1..4)
        )
            .prop_map(|(subject, op, items)| format!("{subject} {op} [{}]", items.join(", "))),
        (select(vec!["==", "!=", ">", ">=", "<", "<="]), 0u32..100)
            .prop_map(|(op, n)| format!("runningTasksCount {op} {n}")),
        (select(vec!["==", "<", ">="]), 0u32..3, 0u32..30, 0u32..10)
            .prop_map(|(op, a, b, c)| format!("agentVersion {op} {a}.{b}.{c}")),
        (
            select(vec!["==", "!=", "<", ">"]),
            select(vec![
                "2018-02-13",
                "2018-06-18T22:28:28Z",
                "2018-06-18T22:28:28+02:00",
                "2018-06-18T22:28:28"
            ])
        )
            .prop_map(|(op, date)| format!("registeredAt {op} {date}")),
        (select(vec!["==", "!="]), any::<bool>())
            .prop_map(|(op, value)| format!("agentConnected {op} {value}")),
    ];
    text.prop_map(|text| parse(&text).unwrap_or_else(|error| panic!("generated {text:?}: {error}")))
}

fn expression() -> impl Strategy<Value = Expression> {
    comparison().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expression::Not(Box::new(e))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expression::And),
            prop::collection::vec(inner, 2..4).prop_map(Expression::Or),
        ]
    })
}
