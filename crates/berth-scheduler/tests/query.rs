//! The cluster query language against the ECS documentation's examples, and its refusals.

use std::collections::BTreeMap;

use berth_scheduler::query::{Expression, parse};
use berth_scheduler::{InstanceView, TaskView};

/// An ACTIVE, connected t2.small in us-east-1a, registered 2018-02-01, agent 1.14.4, hosting one
/// task of group `service:production`, with custom attribute `stack=prod`.
fn t2_small() -> InstanceView {
    InstanceView {
        arn: "arn:aws:ecs:us-east-1:000000000000:container-instance/demo/a1".into(),
        status: "ACTIVE".into(),
        agent_connected: true,
        attributes: BTreeMap::from([
            ("ecs.instance-type".into(), Some("t2.small".into())),
            ("ecs.availability-zone".into(), Some("us-east-1a".into())),
            ("ecs.ami-id".into(), Some("ami-1234abcd".into())),
            ("ecs.capability.privileged-container".into(), None),
            ("stack".into(), Some("prod".into())),
        ]),
        registered_at: 1_517_443_200.5, // 2018-02-01T00:00:00.5Z
        agent_version: Some("1.14.4".into()),
        ec2_instance_id: Some("i-abcd1234".into()),
        tasks: vec![TaskView { group: Some("service:production".into()), family: "web".into() }],
        ..InstanceView::default()
    }
}

/// A g2.2xlarge in us-east-1d, registered 2018-03-01, agent 1.20.0, no tasks, no `stack`.
fn g2_large() -> InstanceView {
    InstanceView {
        arn: "arn:aws:ecs:us-east-1:000000000000:container-instance/demo/b2".into(),
        status: "ACTIVE".into(),
        agent_connected: false,
        attributes: BTreeMap::from([
            ("ecs.instance-type".into(), Some("g2.2xlarge".into())),
            ("ecs.availability-zone".into(), Some("us-east-1d".into())),
        ]),
        registered_at: 1_519_862_400.0, // 2018-03-01T00:00:00Z
        agent_version: Some("1.20.0".into()),
        ec2_instance_id: Some("i-wxyx7890".into()),
        tasks: vec![
            TaskView { group: Some("database".into()), family: "db".into() },
            TaskView { group: None, family: "batch".into() },
        ],
        ..InstanceView::default()
    }
}

fn matching(text: &str) -> (bool, bool) {
    let expression = parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
    (expression.matches(&t2_small()), expression.matches(&g2_large()))
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(expression) => panic!("{text} parsed as {expression:?}"),
        Err(error) => error.to_string(),
    }
}

/// Every example expression of the developer guide's "Cluster query language" page
/// (cluster-query-language.md, "Example expressions"), with what each selects.
#[test]
fn the_cluster_query_language_page_examples() {
    // String equality: instances of the given type.
    assert_eq!(matching("attribute:ecs.instance-type == t2.small"), (true, false));
    // Argument list: instances in us-east-1a or us-east-1b.
    assert_eq!(matching("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"), (true, false));
    // Compound expression: G2 instances not in us-east-1d.
    assert_eq!(
        matching("attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d"),
        (false, false)
    );
    assert_eq!(
        matching("attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1a"),
        (false, true)
    );
    // Task affinity: instances hosting tasks of group service:production.
    assert_eq!(matching("task:group == service:production"), (true, false));
    // Task anti-affinity: instances not hosting tasks of group database.
    assert_eq!(matching("not(task:group == database)"), (true, false));
    // Running task count: instances running exactly one task.
    assert_eq!(matching("runningTasksCount == 1"), (true, false));
    // Agent version below 1.14.5.
    assert_eq!(matching("agentVersion < 1.14.5"), (true, false));
    // Registered before February 13, 2018.
    assert_eq!(matching("registeredAt < 2018-02-13"), (true, false));
    // EC2 instance ids, quoted.
    assert_eq!(matching("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']"), (true, true));
    // The page's precedence illustration, with concrete comparisons.
    assert_eq!(
        matching("(agentConnected == false or runningTasksCount == 1) and attribute:ecs.ami-id exists"),
        (true, false)
    );
}

/// The filter and constraint examples of the "task placement constraints" page
/// (task-placement-constraints.md, "Filtering by attribute" and "Example constraints").
#[test]
fn the_task_placement_constraints_page_examples() {
    assert_eq!(matching("attribute:ecs.instance-type == g2.2xlarge"), (false, true));
    assert_eq!(matching("attribute:stack == prod"), (true, false));
    // "lists the instances with the custom attribute stack unless the value is prod": an
    // instance without the attribute is not listed.
    assert_eq!(matching("attribute:stack != prod"), (false, false));
    assert_eq!(matching("attribute:ecs.instance-type in [t2.small, t2.medium]"), (true, false));
    assert_eq!(
        matching("attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a"),
        (true, false)
    );
    assert_eq!(matching("attribute:ecs.instance-type =~ t2.*"), (true, false));
    assert_eq!(matching("task:group == databases"), (false, false));
}

#[test]
fn every_operator_spelling_and_connective() {
    let equivalent = [
        ("attribute:stack == prod", "attribute:stack equals prod"),
        ("attribute:stack != dev", "attribute:stack not_equals dev"),
        ("runningTasksCount > 0", "runningTasksCount greater_than 0"),
        ("runningTasksCount >= 1", "runningTasksCount greater_than_equal 1"),
        ("runningTasksCount < 2", "runningTasksCount less_than 2"),
        ("runningTasksCount <= 1", "runningTasksCount less_than_equal 1"),
        ("attribute:stack exists", "attribute:stack EXISTS"),
        ("attribute:stack !exists", "attribute:stack not_exists"),
        ("attribute:stack in [prod]", "attribute:stack in['prod']"),
        ("attribute:stack !in [dev, test]", "attribute:stack not_in [dev,test]"),
        ("attribute:stack =~ pr.d", "attribute:stack matches \"pr.d\""),
        ("attribute:stack !~ dev.*", "attribute:stack not_matches dev.*"),
        (
            "agentConnected == true && runningTasksCount == 1",
            "agentConnected == true and runningTasksCount == 1",
        ),
        (
            "agentConnected == true || runningTasksCount == 1",
            "agentConnected == true OR runningTasksCount == 1",
        ),
        ("!(agentConnected == true)", "not agentConnected == true"),
        ("attribute:stack==prod&&runningTasksCount==1", "attribute:stack == prod and runningTasksCount == 1"),
    ];
    for (left, right) in equivalent {
        let (left_parsed, right_parsed) = (parse(left), parse(right));
        assert_eq!(left_parsed, right_parsed, "{left} vs {right}");
        for instance in [t2_small(), g2_large()] {
            let left = left_parsed.as_ref().map(|e| e.matches(&instance));
            assert_eq!(left, right_parsed.as_ref().map(|e| e.matches(&instance)));
        }
    }
    assert_eq!(matching("attribute:stack == prod"), (true, false));
    assert_eq!(matching("attribute:stack !exists"), (false, true));
    assert_eq!(matching("runningTasksCount >= 2"), (false, true));
    assert_eq!(matching("attribute:stack !in [dev, test]"), (true, false));
    assert_eq!(matching("agentConnected != true"), (false, true));
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_override() {
    // true or (false and false) = true, whereas (true or false) and false = false.
    let loose = "runningTasksCount == 1 or agentConnected == false and attribute:stack exists";
    assert_eq!(matching(loose), (true, false));
    let grouped = "(runningTasksCount == 1 or agentConnected == false) and attribute:stack !exists";
    assert_eq!(matching(grouped), (false, true));
    assert_eq!(matching("not not attribute:stack exists"), (true, false));
}

#[test]
fn values_as_ecs_writes_them() {
    // A value-less attribute exists and equals nothing but the empty value.
    assert_eq!(matching("attribute:ecs.capability.privileged-container exists"), (true, false));
    assert_eq!(matching("attribute:ecs.capability.privileged-container == ''"), (true, false));
    // Wildcards in equality and lists.
    assert_eq!(matching("attribute:ecs.instance-type == t2.*"), (true, false));
    assert_eq!(matching("attribute:ecs.availability-zone in [us-east-*, eu-*]"), (true, true));
    // A pattern must match the whole value, as Java's Pattern.matches does.
    assert_eq!(matching("attribute:ecs.instance-type =~ t2"), (false, false));
    assert_eq!(matching("attribute:ecs.instance-type =~ '(t2|g2)\\..*'"), (true, true));
    // A quoted value may hold spaces and colons.
    assert_eq!(matching("attribute:stack != 'blue green: v2'"), (true, false));
    // A task started without a group is in family:FAMILY.
    assert_eq!(matching("task:group == family:batch"), (false, true));
    // !~ on task:group: hosts tasks, none of whose groups match.
    assert_eq!(matching("task:group !~ service:.*"), (false, true));
    // Versions compare numerically, not as text.
    assert_eq!(matching("agentVersion >= 1.9"), (true, true));
    assert_eq!(matching("agentVersion == 1.20"), (false, true));
    // Numbers in attributes compare as numbers.
    let numbered = InstanceView {
        attributes: BTreeMap::from([("generation".into(), Some("10".into()))]),
        ..InstanceView::default()
    };
    assert!(parse("attribute:generation > 9").is_ok_and(|e| e.matches(&numbered)));
}

#[test]
fn registration_dates_in_every_documented_format() {
    // t2_small registered 2018-02-01T00:00:00.5Z; g2_large 2018-03-01T00:00:00Z.
    assert_eq!(matching("registeredAt == 2018-02-01"), (true, false));
    assert_eq!(matching("registeredAt != 2018-02-01"), (false, true));
    assert_eq!(matching("registeredAt == 2018-02-01T00:00:00Z"), (true, false));
    assert_eq!(matching("registeredAt == 2018-02-01T01:00:00+01:00"), (true, false));
    assert_eq!(matching("registeredAt >= 2018-03-01T00:00:00"), (false, true));
    assert_eq!(matching("registeredAt > 2018-02-28T23:59:59+00:00"), (false, true));
    assert_eq!(matching("registeredAt <= 2018-02-01"), (true, false));
}

#[test]
fn malformed_expressions_say_what_and_where() {
    let cases = [
        ("", "the expression is empty at position 1"),
        ("   ", "the expression is empty at position 1"),
        ("(agentConnected == true))", "unexpected ')' at position 25"),
        ("(agentConnected == true", "'(' is never closed at position 1"),
        ("attribute:stack == prod and", "the expression ends where a condition was expected at position 28"),
        ("attribute:stack == prod or or x", "unexpected 'or' at position 28"),
        ("and attribute:stack exists", "unexpected 'and' at position 1"),
        ("attribute:stack ==", "a value is missing after '==' at position 19"),
        ("attribute:stack", "an operator is missing after 'attribute:stack' at position 16"),
        ("attribute:stack = prod", "'=' is not an operator at position 17"),
        ("attribute:stack likes prod", "'likes' is not an operator at position 17"),
        (
            "attribute: == prod",
            "'attribute:' needs an attribute name, such as attribute:ecs.instance-type at position 1",
        ),
        (
            "instanceType == t2.small",
            "unknown subject 'instanceType'; the subjects are agentConnected, agentVersion, attribute:NAME, \
             ec2InstanceId, registeredAt, runningTasksCount or task:group at position 1",
        ),
        (
            "agentConnected > false",
            "operator '>' cannot be used with agentConnected; it takes ==, !=, in, !in, =~, !~ at position 16",
        ),
        (
            "runningTasksCount exists",
            "operator 'exists' cannot be used with runningTasksCount; it takes ==, !=, >, >=, <, <= at position 19",
        ),
        ("agentConnected == yes", "agentConnected is true or false, not 'yes' at position 19"),
        (
            "runningTasksCount < lots",
            "runningTasksCount is compared with a whole number, not 'lots' at position 21",
        ),
        (
            "agentVersion < latest",
            "agentVersion is compared with a version such as 1.14.5, not 'latest' at position 16",
        ),
        (
            "registeredAt < 2018-02-30",
            "'2018-02-30' is not a date; registeredAt takes 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, \
             2018-06-18T22:28:28 or 2018-06-18 at position 16",
        ),
        ("attribute:x in a, b", "'in' needs a list such as [a, b] at position 16"),
        ("attribute:x in [a, b", "'[' is never closed at position 16"),
        ("attribute:x in []", "the list is empty at position 16"),
        ("attribute:x in [a,, b]", "unexpected ',' at position 19"),
        ("attribute:x in [a b]", "unexpected 'b' at position 19"),
        ("attribute:x == 'open", "the quoted value is never closed at position 16"),
        ("attribute:x =~ '(unclosed'", "'(unclosed' is not a valid regular expression at position 16"),
        ("attribute:x == t2.(small)", "unexpected '(' at position 19"),
        ("attribute:x == a b", "unexpected 'b' at position 18"),
        ("attribute:x exists prod", "unexpected 'prod' at position 20"),
    ];
    for (text, message) in cases {
        assert_eq!(error(text), message, "for {text:?}");
    }
}

#[test]
fn positions_count_characters_not_bytes() {
    assert_eq!(error("attribute:zone == 'zürich' )"), "unexpected ')' at position 28");
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}attribute:x exists{}", "(".repeat(65), ")".repeat(65));
    assert_eq!(error(&deep), "the expression nests deeper than 64 levels at position 65");
    let fine = format!("{}attribute:x exists{}", "(".repeat(64), ")".repeat(64));
    assert!(parse(&fine).is_ok());
    // A long flat chain is not nesting.
    let chain = vec!["attribute:x exists"; 5000].join(" and ");
    assert!(matches!(parse(&chain), Ok(Expression::And(operands)) if operands.len() == 5000));
}

#[test]
fn display_prints_what_parse_reads_back() {
    let text = "attribute:ecs.instance-type =~ t2.* and (agentConnected == true or not(task:group in ['service:a b', x]))";
    let parsed = parse(text).expect("parses");
    let printed = parsed.to_string();
    assert_eq!(
        printed,
        "attribute:ecs.instance-type =~ t2.* and (agentConnected == true or not (task:group in ['service:a b', x]))"
    );
    assert_eq!(parse(&printed), Ok(parsed));
}
