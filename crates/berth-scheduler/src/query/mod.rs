//! The ECS cluster query language: the expressions of `memberOf` placement constraints and of
//! ListContainerInstances `--filter`.
//!
//! An expression is `subject operator [argument]` (for example
//! `attribute:ecs.instance-type =~ t2.*`), combined with `and`/`&&`, `or`/`||`, `not`/`!` and
//! parentheses, as the ECS developer guide's "cluster query language" page describes it.
//! [`parse`] turns text into an [`Expression`] once, checking everything that can be checked
//! without an instance (subjects, which operators each subject takes, dates, numbers, versions,
//! regular expressions), so a bad expression is refused with a [`QueryError`] that says what and
//! where; [`Expression::matches`] then evaluates it against an [`InstanceView`] without failing.
//! `Display` prints an expression back in a form [`parse`] reads to the same value.
//!
//! [`InstanceView`]: crate::InstanceView

mod eval;
mod parse;
mod time;

use std::fmt;

pub use parse::parse;

/// A parsed cluster query.
///
/// `And` and `Or` hold their operands in a list rather than nesting pairs, so a long chain of
/// `and`s is a flat node: evaluating, printing and dropping it never recurse once per operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    /// `subject operator [argument]`.
    Compare(Comparison),
    /// `not expression` / `!expression`.
    Not(Box<Expression>),
    /// All operands hold (two or more).
    And(Vec<Expression>),
    /// At least one operand holds (two or more).
    Or(Vec<Expression>),
}

/// One `subject operator [argument]` test.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// What is tested.
    pub subject: Subject,
    /// How.
    pub operator: Operator,
    /// Against what.
    pub argument: Argument,
}

/// The fields an expression can test, as the ECS documentation lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `agentConnected`: whether the agent holds a session (`true`/`false`).
    AgentConnected,
    /// `agentVersion`: the agent's version, compared as a dotted version number.
    AgentVersion,
    /// `attribute:NAME`: a container instance attribute, built in (`ecs.instance-type`,
    /// `ecs.availability-zone`, `ecs.ami-id`, `ecs.os-type`, ...) or custom.
    Attribute(String),
    /// `ec2InstanceId`.
    Ec2InstanceId,
    /// `registeredAt`: when the instance registered.
    RegisteredAt,
    /// `runningTasksCount`.
    RunningTasksCount,
    /// `task:group`: the groups of the tasks on the instance.
    TaskGroup,
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `==`, `equals`.
    Equals,
    /// `!=`, `not_equals`.
    NotEquals,
    /// `>`, `greater_than`.
    GreaterThan,
    /// `>=`, `greater_than_equal`.
    GreaterThanEqual,
    /// `<`, `less_than`.
    LessThan,
    /// `<=`, `less_than_equal`.
    LessThanEqual,
    /// `exists`.
    Exists,
    /// `!exists`, `not_exists`.
    NotExists,
    /// `in`.
    In,
    /// `!in`, `not_in`.
    NotIn,
    /// `=~`, `matches`.
    Matches,
    /// `!~`, `not_matches`.
    NotMatches,
}

/// What a comparison compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Argument {
    /// `exists` and `!exists` take none.
    None,
    /// A single value.
    Value(Literal),
    /// `[a, b, ...]` for `in` and `!in`.
    List(Vec<Literal>),
    /// A regular expression for `=~` and `!~`.
    Pattern(Pattern),
}

/// A value as written, with the typed form its subject reads it as.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    /// The value as written (quotes removed).
    pub text: String,
    pub(crate) typed: Typed,
}

/// A literal read for its subject, once, at parse time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Typed {
    /// Attribute values, instance ids, task groups: text, where `*` matches any run of characters.
    Text,
    /// `agentConnected`.
    Bool(bool),
    /// `runningTasksCount`.
    Count(i64),
    /// `registeredAt`: epoch seconds; a date without a time stands for that whole (UTC) day.
    Time { seconds: i64, date_only: bool },
    /// `agentVersion`: the dotted components.
    Version(Vec<u64>),
}

/// A compiled regular expression for `=~`/`!~`. It must match the whole value, as Java's
/// `Pattern.matches` does (the documentation points to `java.util.regex.Pattern`).
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern as written.
    pub source: String,
    pub(crate) regex: regex::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// Why a text is not a valid expression, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// The character (counted from 1) where the problem is.
    pub position: usize,
    /// What is wrong there, in words.
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

impl std::error::Error for QueryError {}

// === impl Operator ===

impl Operator {
    /// The symbol this operator prints as.
    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Equals => "==",
            Operator::NotEquals => "!=",
            Operator::GreaterThan => ">",
            Operator::GreaterThanEqual => ">=",
            Operator::LessThan => "<",
            Operator::LessThanEqual => "<=",
            Operator::Exists => "exists",
            Operator::NotExists => "!exists",
            Operator::In => "in",
            Operator::NotIn => "!in",
            Operator::Matches => "=~",
            Operator::NotMatches => "!~",
        }
    }

    /// Whether the operator is the negation of another (`!=`, `!in`, `!~`): those need the
    /// subject to exist, and hold when no value of it satisfies the positive form.
    pub(crate) fn is_negative(self) -> bool {
        matches!(self, Operator::NotEquals | Operator::NotIn | Operator::NotMatches)
    }
}

// === impl Display ===

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expression::Compare(comparison) => comparison.fmt(f),
            Expression::Not(inner) => write!(f, "not ({inner})"),
            Expression::And(operands) => join(f, operands, " and "),
            Expression::Or(operands) => join(f, operands, " or "),
        }
    }
}

/// Prints operands joined by a connective, parenthesizing nested `and`/`or` so that parsing the
/// output gives back the same tree.
fn join(f: &mut fmt::Formatter<'_>, operands: &[Expression], connective: &str) -> fmt::Result {
    for (index, operand) in operands.iter().enumerate() {
        if index > 0 {
            f.write_str(connective)?;
        }
        match operand {
            Expression::And(_) | Expression::Or(_) => write!(f, "({operand})")?,
            _ => write!(f, "{operand}")?,
        }
    }
    Ok(())
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.subject, self.operator.symbol())?;
        match &self.argument {
            Argument::None => Ok(()),
            Argument::Value(literal) => write!(f, " {}", quoted(&literal.text)),
            Argument::Pattern(pattern) => write!(f, " {}", quoted(&pattern.source)),
            Argument::List(items) => {
                f.write_str(" [")?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&quoted(&item.text))?;
                }
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::AgentConnected => f.write_str("agentConnected"),
            Subject::AgentVersion => f.write_str("agentVersion"),
            Subject::Attribute(name) => write!(f, "attribute:{name}"),
            Subject::Ec2InstanceId => f.write_str("ec2InstanceId"),
            Subject::RegisteredAt => f.write_str("registeredAt"),
            Subject::RunningTasksCount => f.write_str("runningTasksCount"),
            Subject::TaskGroup => f.write_str("task:group"),
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A value as the parser reads it back: bare when it can be, else in single quotes, else (it
/// holds a single quote) in double quotes. The parser cannot produce a value holding both.
fn quoted(text: &str) -> String {
    if parse::is_bare(text) {
        text.to_string()
    } else if !text.contains('\'') {
        format!("'{text}'")
    } else {
        format!("\"{text}\"")
    }
}
