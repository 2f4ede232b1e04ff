//! Evaluating an [`Expression`] against one instance.
//!
//! A subject has zero or more values on an instance: an attribute the instance lacks has none, a
//! value-less attribute has the empty value, `task:group` has one per task. A positive comparison
//! (`==`, `in`, `=~`, the orderings) holds when some value satisfies it. A negative one (`!=`,
//! `!in`, `!~`) holds when the subject has values and none satisfies the positive form: the
//! documentation's `attribute:stack != prod` lists instances that have a `stack` attribute whose
//! value is not `prod`, not instances without one; `not(...)` is how to include those.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::{Argument, Comparison, Expression, Literal, Operator, Subject, Typed, parse::version};
use crate::InstanceView;

/// One value of a subject on an instance.
enum Actual<'a> {
    Text(Cow<'a, str>),
    Bool(bool),
    Count(i64),
    Time(i64),
    Version(Vec<u64>),
}

impl Expression {
    /// Whether `instance` satisfies the expression.
    pub fn matches(&self, instance: &InstanceView) -> bool {
        match self {
            Expression::Compare(comparison) => comparison.matches(instance),
            Expression::Not(inner) => !inner.matches(instance),
            Expression::And(operands) => operands.iter().all(|operand| operand.matches(instance)),
            Expression::Or(operands) => operands.iter().any(|operand| operand.matches(instance)),
        }
    }
}

impl Comparison {
    /// Whether `instance` satisfies this one comparison.
    pub fn matches(&self, instance: &InstanceView) -> bool {
        let (mut exists, mut held) = (false, false);
        each_actual(&self.subject, instance, &mut |actual| {
            exists = true;
            held = held || self.holds(&actual);
        });
        match self.operator {
            Operator::Exists => exists,
            Operator::NotExists => !exists,
            operator if operator.is_negative() => exists && !held,
            _ => held,
        }
    }

    /// The positive form of the comparison for one value.
    fn holds(&self, actual: &Actual<'_>) -> bool {
        match (&self.argument, self.operator) {
            (Argument::Pattern(pattern), _) => pattern.regex.is_match(&text_of(actual)),
            (Argument::List(items), _) => items.iter().any(|item| equal(actual, item)),
            (Argument::Value(literal), Operator::Equals | Operator::NotEquals) => equal(actual, literal),
            (Argument::Value(literal), operator) => {
                order(actual, literal).is_some_and(|ordering| match operator {
                    Operator::GreaterThan => ordering == Ordering::Greater,
                    Operator::GreaterThanEqual => ordering != Ordering::Less,
                    Operator::LessThan => ordering == Ordering::Less,
                    Operator::LessThanEqual => ordering != Ordering::Greater,
                    _ => false,
                })
            }
            (Argument::None, _) => false,
        }
    }
}

/// Calls `visit` with each value `subject` has on `instance` (a callback rather than a list, so
/// evaluating an expression on a thousand instances allocates nothing).
fn each_actual<'a>(subject: &Subject, instance: &'a InstanceView, visit: &mut dyn FnMut(Actual<'a>)) {
    match subject {
        Subject::Attribute(name) => {
            if let Some(value) = instance.attributes.get(name) {
                visit(Actual::Text(Cow::Borrowed(value.as_deref().unwrap_or(""))));
            }
        }
        Subject::Ec2InstanceId => {
            if let Some(id) = instance.ec2_instance_id.as_deref().filter(|id| !id.is_empty()) {
                visit(Actual::Text(Cow::Borrowed(id)));
            }
        }
        Subject::TaskGroup => instance.tasks.iter().for_each(|task| visit(Actual::Text(task.group_name()))),
        Subject::AgentConnected => visit(Actual::Bool(instance.agent_connected)),
        Subject::AgentVersion => {
            if let Some(parts) = instance.agent_version.as_deref().and_then(version) {
                visit(Actual::Version(parts));
            }
        }
        // Instances are compared at whole seconds, the precision of the date formats.
        Subject::RegisteredAt => visit(Actual::Time(instance.registered_at.floor() as i64)),
        Subject::RunningTasksCount => visit(Actual::Count(instance.running_tasks_count())),
    }
}

fn text_of<'a>(actual: &'a Actual<'_>) -> Cow<'a, str> {
    match actual {
        Actual::Text(text) => Cow::Borrowed(text.as_ref()),
        Actual::Bool(value) => Cow::Owned(value.to_string()),
        Actual::Count(count) => Cow::Owned(count.to_string()),
        Actual::Time(seconds) => Cow::Owned(seconds.to_string()),
        Actual::Version(parts) => Cow::Owned(parts.iter().map(u64::to_string).collect::<Vec<_>>().join(".")),
    }
}

fn equal(actual: &Actual<'_>, literal: &Literal) -> bool {
    match (actual, &literal.typed) {
        (Actual::Text(text), Typed::Text) => glob(&literal.text, text),
        (Actual::Bool(value), Typed::Bool(expected)) => value == expected,
        (Actual::Count(count), Typed::Count(expected)) => count == expected,
        // A date alone stands for its whole day: `registeredAt == 2018-02-13` is "that day".
        (Actual::Time(seconds), Typed::Time { seconds: start, date_only: true }) => {
            (*start..start.saturating_add(86_400)).contains(seconds)
        }
        (Actual::Time(seconds), Typed::Time { seconds: expected, date_only: false }) => seconds == expected,
        (Actual::Version(parts), Typed::Version(expected)) => {
            compare_versions(parts, expected) == Ordering::Equal
        }
        _ => false,
    }
}

fn order(actual: &Actual<'_>, literal: &Literal) -> Option<Ordering> {
    match (actual, &literal.typed) {
        (Actual::Count(count), Typed::Count(expected)) => Some(count.cmp(expected)),
        (Actual::Time(seconds), Typed::Time { seconds: expected, .. }) => Some(seconds.cmp(expected)),
        (Actual::Version(parts), Typed::Version(expected)) => Some(compare_versions(parts, expected)),
        // Attribute values are strings; two numbers compare as numbers, anything else as text.
        (Actual::Text(text), Typed::Text) => match (text.parse::<f64>(), literal.text.parse::<f64>()) {
            (Ok(left), Ok(right)) => left.partial_cmp(&right),
            _ => Some(text.as_ref().cmp(literal.text.as_str())),
        },
        _ => None,
    }
}

/// Versions compare component by component, a missing component counting as 0 (`1.14` is
/// `1.14.0`).
fn compare_versions(left: &[u64], right: &[u64]) -> Ordering {
    let length = left.len().max(right.len());
    (0..length)
        .map(|index| left.get(index).unwrap_or(&0).cmp(right.get(index).unwrap_or(&0)))
        .find(|ordering| *ordering != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// Equality where `*` in the pattern matches any run of characters (`t2.*` matches `t2.micro`).
/// Attribute values cannot contain `*` (ECS allows letters, digits and `-_.@/\:` and spaces), so
/// reading it as a wildcard takes nothing away.
fn glob(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let pieces: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = (pieces[0], &pieces[1..]);
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let (last, middle) = match rest.split_last() {
        Some((last, middle)) => (*last, middle),
        None => return remaining.is_empty(),
    };
    // Greedy left to right is exact for `*`-only globs: matching each middle piece at its
    // earliest position leaves the most room for the rest.
    for piece in middle {
        match remaining.find(piece) {
            Some(at) => remaining = &remaining[at + piece.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_match_any_run() {
        assert!(glob("t2.*", "t2.micro"));
        assert!(glob("t2.*", "t2."));
        assert!(!glob("t2.*", "t3.micro"));
        assert!(glob("*", ""));
        assert!(glob("*.large", "m5.large"));
        assert!(glob("a*b*c", "aXbYbc"));
        assert!(!glob("a*b*c", "aXcYb"));
        assert!(!glob("ab*ba", "aba"));
        assert!(glob("ab*ba", "abba"));
        assert!(glob("us-*-1a", "us-east-1a"));
        assert!(!glob("plain", "plainer"));
    }
}
