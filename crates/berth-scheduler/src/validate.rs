//! Placement constraints and strategies as users write them, checked and turned into
//! [`Constraint`]s and [`Strategy`]s. The server reports an `Err` message as an
//! `InvalidParameterException`.

use crate::query;
use crate::types::{BinpackField, Constraint, SpreadField, Strategy};

/// Constraints a task may have, its task definition's and the request's together (RunTask
/// reference: "up to 10 constraints for each task").
pub const MAX_CONSTRAINTS: usize = 10;

/// Strategies a task or service may have (RunTask reference: "a maximum of 5 strategy rules").
pub const MAX_STRATEGIES: usize = 5;

/// The longest `memberOf` expression (PlacementConstraint reference: 2000 characters).
pub const MAX_EXPRESSION_LENGTH: usize = 2000;

/// Checks placement constraints given as `(type, expression)` pairs, the task definition's and
/// the request's together, and parses their expressions.
///
/// ```
/// use berth_scheduler::{Constraint, validate_constraints};
/// let checked = validate_constraints([(Some("distinctInstance"), None)]).unwrap();
/// assert_eq!(checked, vec![Constraint::DistinctInstance]);
/// let refused = validate_constraints([(Some("memberOf"), Some("attribute:x =="))]).unwrap_err();
/// assert_eq!(
///     refused,
///     "Invalid memberOf expression 'attribute:x ==': a value is missing after '==' at position 15."
/// );
/// ```
pub fn validate_constraints<'a>(
    constraints: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Result<Vec<Constraint>, String> {
    let checked = constraints
        .into_iter()
        .map(|(kind, expression)| constraint(kind, expression))
        .collect::<Result<Vec<_>, _>>()?;
    if checked.len() > MAX_CONSTRAINTS {
        return Err(format!(
            "A task can have at most {MAX_CONSTRAINTS} placement constraints, including those of its task \
             definition; {} were given.",
            checked.len()
        ));
    }
    Ok(checked)
}

fn constraint(kind: Option<&str>, expression: Option<&str>) -> Result<Constraint, String> {
    // An empty expression is the same as none: the CLI sends `expression=""` for a bare type.
    let expression = expression.filter(|text| !text.trim().is_empty());
    match (kind, expression) {
        (Some("distinctInstance"), None) => Ok(Constraint::DistinctInstance),
        (Some("distinctInstance"), Some(_)) => {
            Err("A distinctInstance placement constraint cannot have an expression.".to_string())
        }
        (Some("memberOf"), None) => Err("A memberOf placement constraint needs an expression.".to_string()),
        (Some("memberOf"), Some(text)) => {
            let length = text.chars().count();
            if length > MAX_EXPRESSION_LENGTH {
                return Err(format!(
                    "A placement constraint expression can be at most {MAX_EXPRESSION_LENGTH} characters long; \
                     this one has {length}."
                ));
            }
            query::parse(text)
                .map(Constraint::MemberOf)
                .map_err(|error| format!("Invalid memberOf expression '{text}': {error}."))
        }
        (None, _) => Err("A placement constraint needs a type: distinctInstance or memberOf.".to_string()),
        (Some(other), _) => Err(format!(
            "Invalid placement constraint type '{other}'; the types are distinctInstance and memberOf."
        )),
    }
}

/// Checks placement strategies given as `(type, field)` pairs.
///
/// ```
/// use berth_scheduler::{BinpackField, SpreadField, Strategy, validate_strategies};
/// let checked = validate_strategies([
///     (Some("spread"), Some("attribute:ecs.availability-zone")),
///     (Some("binpack"), Some("memory")),
/// ]);
/// assert_eq!(checked, Ok(vec![
///     Strategy::Spread(SpreadField::Attribute("ecs.availability-zone".into())),
///     Strategy::Binpack(BinpackField::Memory),
/// ]));
/// ```
pub fn validate_strategies<'a>(
    strategies: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Result<Vec<Strategy>, String> {
    let checked =
        strategies.into_iter().map(|(kind, field)| strategy(kind, field)).collect::<Result<Vec<_>, _>>()?;
    if checked.len() > MAX_STRATEGIES {
        return Err(format!(
            "A task can have at most {MAX_STRATEGIES} placement strategies; {} were given.",
            checked.len()
        ));
    }
    Ok(checked)
}

fn strategy(kind: Option<&str>, field: Option<&str>) -> Result<Strategy, String> {
    let field = field.filter(|text| !text.is_empty());
    match (kind, field) {
        (Some("random"), None) => Ok(Strategy::Random),
        (Some("random"), Some(field)) => {
            Err(format!("The random placement strategy takes no field; got '{field}'."))
        }
        (Some("binpack"), Some(field)) if field.eq_ignore_ascii_case("cpu") => {
            Ok(Strategy::Binpack(BinpackField::Cpu))
        }
        (Some("binpack"), Some(field)) if field.eq_ignore_ascii_case("memory") => {
            Ok(Strategy::Binpack(BinpackField::Memory))
        }
        (Some("binpack"), Some(field)) => {
            Err(format!("Invalid field '{field}' for the binpack placement strategy; use cpu or memory."))
        }
        (Some("binpack"), None) => {
            Err("The binpack placement strategy needs a field: cpu or memory.".to_string())
        }
        (Some("spread"), Some(field)) => spread_field(field).map(Strategy::Spread),
        (Some("spread"), None) => {
            Err("The spread placement strategy needs a field: instanceId, host or attribute:NAME."
                .to_string())
        }
        (None, _) => Err("A placement strategy needs a type: random, spread or binpack.".to_string()),
        (Some(other), _) => Err(format!(
            "Invalid placement strategy type '{other}'; the types are random, spread and binpack."
        )),
    }
}

fn spread_field(field: &str) -> Result<SpreadField, String> {
    if field.eq_ignore_ascii_case("instanceId") || field.eq_ignore_ascii_case("host") {
        return Ok(SpreadField::Instance);
    }
    match field.strip_prefix("attribute:") {
        Some(name) if !name.is_empty() => Ok(SpreadField::Attribute(name.to_string())),
        _ => Err(format!(
            "Invalid field '{field}' for the spread placement strategy; use instanceId, host or attribute:NAME \
             (for example attribute:ecs.availability-zone)."
        )),
    }
}

/// The strategies ECS applies when a request gives none.
///
/// A service's tasks spread across Availability Zones: "For tasks running as part of an Amazon
/// ECS service, the task placement strategy is spread using the attribute:ecs.availability-zone"
/// (developer guide, task-placement-strategies), and within a zone the service scheduler favours
/// "container instances with the fewest number of running tasks for this service" (developer
/// guide, service scheduler concepts), which is spread on `instanceId`. Standalone tasks are
/// random: "Using RunTask, you can allow the default task placement strategy to distribute tasks
/// randomly across your cluster" (developer guide, scheduling_tasks).
pub fn default_strategies(for_service: bool) -> Vec<Strategy> {
    if for_service {
        vec![
            Strategy::Spread(SpreadField::Attribute("ecs.availability-zone".to_string())),
            Strategy::Spread(SpreadField::Instance),
        ]
    } else {
        vec![Strategy::Random]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_shapes() {
        assert_eq!(
            validate_constraints([(Some("distinctInstance"), Some(""))]),
            Ok(vec![Constraint::DistinctInstance])
        );
        let member = validate_constraints([(Some("memberOf"), Some("attribute:stack == prod"))]);
        assert!(matches!(member.as_deref(), Ok([Constraint::MemberOf(_)])));
        let refusals = [
            (
                (Some("distinctInstance"), Some("attribute:a exists")),
                "A distinctInstance placement constraint cannot have an expression.",
            ),
            ((Some("memberOf"), None), "A memberOf placement constraint needs an expression."),
            ((Some("memberOf"), Some("  ")), "A memberOf placement constraint needs an expression."),
            (
                (None, Some("attribute:a exists")),
                "A placement constraint needs a type: distinctInstance or memberOf.",
            ),
            (
                (Some("MemberOf"), Some("attribute:a exists")),
                "Invalid placement constraint type 'MemberOf'; the types are distinctInstance and memberOf.",
            ),
            (
                (Some("memberOf"), Some("task:group >")),
                "Invalid memberOf expression 'task:group >': operator '>' cannot be used with task:group; it takes ==, !=, exists, !exists, in, !in, =~, !~ at position 12.",
            ),
        ];
        for (input, message) in refusals {
            assert_eq!(validate_constraints([input]), Err(message.to_string()), "{input:?}");
        }
    }

    #[test]
    fn constraint_limits() {
        let ten = vec![(Some("distinctInstance"), None); 10];
        assert_eq!(validate_constraints(ten).map(|c| c.len()), Ok(10));
        let eleven = vec![(Some("distinctInstance"), None); 11];
        assert_eq!(
            validate_constraints(eleven),
            Err("A task can have at most 10 placement constraints, including those of its task definition; 11 were given.".to_string())
        );
        let long = format!("attribute:a == {}", "x".repeat(1990));
        assert!(
            validate_constraints([(Some("memberOf"), Some(long.as_str()))])
                .is_err_and(|m| m.contains("at most 2000 characters"))
        );
    }

    #[test]
    fn strategy_shapes() {
        let accepted = validate_strategies([
            (Some("binpack"), Some("cpu")),
            (Some("binpack"), Some("MEMORY")),
            (Some("spread"), Some("host")),
            (Some("spread"), Some("instanceId")),
            (Some("random"), None),
        ]);
        assert_eq!(
            accepted,
            Ok(vec![
                Strategy::Binpack(BinpackField::Cpu),
                Strategy::Binpack(BinpackField::Memory),
                Strategy::Spread(SpreadField::Instance),
                Strategy::Spread(SpreadField::Instance),
                Strategy::Random,
            ])
        );
        let refusals = [
            (
                (Some("binpack"), Some("disk")),
                "Invalid field 'disk' for the binpack placement strategy; use cpu or memory.",
            ),
            ((Some("binpack"), None), "The binpack placement strategy needs a field: cpu or memory."),
            (
                (Some("spread"), None),
                "The spread placement strategy needs a field: instanceId, host or attribute:NAME.",
            ),
            (
                (Some("spread"), Some("attribute:")),
                "Invalid field 'attribute:' for the spread placement strategy; use instanceId, host or attribute:NAME (for example attribute:ecs.availability-zone).",
            ),
            ((Some("random"), Some("cpu")), "The random placement strategy takes no field; got 'cpu'."),
            (
                (Some("pack"), Some("cpu")),
                "Invalid placement strategy type 'pack'; the types are random, spread and binpack.",
            ),
            ((None, Some("cpu")), "A placement strategy needs a type: random, spread or binpack."),
        ];
        for (input, message) in refusals {
            assert_eq!(validate_strategies([input]), Err(message.to_string()), "{input:?}");
        }
        let six = vec![(Some("random"), None); 6];
        assert_eq!(
            validate_strategies(six),
            Err("A task can have at most 5 placement strategies; 6 were given.".to_string())
        );
    }

    #[test]
    fn defaults_follow_the_developer_guide() {
        assert_eq!(default_strategies(false), vec![Strategy::Random]);
        assert_eq!(
            default_strategies(true),
            vec![
                Strategy::Spread(SpreadField::Attribute("ecs.availability-zone".into())),
                Strategy::Spread(SpreadField::Instance)
            ]
        );
    }
}
