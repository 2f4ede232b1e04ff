//! Text to [`Expression`]: a recursive-descent parser over characters.
//!
//! Grammar (keywords and word operators in any case):
//!
//! ```text
//! or         := and (("or" | "||") and)*
//! and        := unary (("and" | "&&") unary)*
//! unary      := ("not" | "!") unary | "(" or ")" | comparison
//! comparison := subject operator [value | "[" value ("," value)* "]"]
//! value      := 'text' | "text" | bare
//! ```
//!
//! `!` means negation where an expression starts and is part of `!=`, `!~`, `!exists`, `!in`
//! where an operator is expected, so the parser reads tokens according to what it expects next
//! rather than through a separate lexer. A bare value runs up to whitespace, a bracket, a
//! parenthesis, a comma, a quote, `&&` or `||`; the documentation says a single expression holds
//! no parentheses, so a pattern that needs them is written in quotes.

use super::{Argument, Comparison, Expression, Literal, Operator, Pattern, QueryError, Subject, Typed, time};

/// How deeply parentheses and negations may nest. It bounds the parser's recursion, so no input
/// can exhaust the stack; real expressions nest a few levels.
const MAX_DEPTH: usize = 64;

/// The largest compiled regular expression accepted, so that a pattern cannot make the server
/// build an enormous automaton.
const MAX_REGEX_BYTES: usize = 1 << 20;

/// The subjects, as error messages list them.
const SUBJECTS: &str = "agentConnected, agentVersion, attribute:NAME, ec2InstanceId, registeredAt, \
                        runningTasksCount or task:group";

/// Parses a cluster query language expression.
///
/// ```
/// use berth_scheduler::query::parse;
/// let expression = parse("attribute:ecs.instance-type =~ t2.* and not(task:group == database)").unwrap();
/// assert_eq!(expression.to_string(), "attribute:ecs.instance-type =~ t2.* and not (task:group == database)");
/// assert_eq!(parse("(agentConnected == true))").unwrap_err().to_string(), "unexpected ')' at position 25");
/// ```
pub fn parse(text: &str) -> Result<Expression, QueryError> {
    let mut parser = Parser { chars: text.chars().collect(), pos: 0, depth: 0 };
    parser.skip_whitespace();
    if parser.at_end() {
        return Err(parser.error_at(0, "the expression is empty"));
    }
    let expression = parser.or()?;
    parser.skip_whitespace();
    if !parser.at_end() {
        return Err(parser.unexpected());
    }
    Ok(expression)
}

/// Whether `text` can be written as a bare value (and so is printed without quotes).
pub(super) fn is_bare(text: &str) -> bool {
    !text.is_empty()
        && !text.contains("&&")
        && !text.contains("||")
        && text.chars().all(|c| !ends_bare_value(c))
}

fn ends_bare_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | ',' | '\'' | '"')
}

/// Characters of subjects and word tokens: attribute names may hold letters, digits, hyphens,
/// underscores, slashes, backslashes and periods; `:` joins `attribute:`/`task:` to the rest.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '\\' | ':')
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    // === connectives ===

    fn or(&mut self) -> Result<Expression, QueryError> {
        let first = self.and()?;
        let mut operands = vec![first];
        while self.eat_connective("||", "or") {
            operands.push(self.and()?);
        }
        Ok(if operands.len() == 1 { operands.remove(0) } else { Expression::Or(operands) })
    }

    fn and(&mut self) -> Result<Expression, QueryError> {
        let first = self.unary()?;
        let mut operands = vec![first];
        while self.eat_connective("&&", "and") {
            operands.push(self.unary()?);
        }
        Ok(if operands.len() == 1 { operands.remove(0) } else { Expression::And(operands) })
    }

    /// Consumes `symbol` or the keyword `word` (as a whole word) after optional whitespace.
    fn eat_connective(&mut self, symbol: &str, word: &str) -> bool {
        self.skip_whitespace();
        if self.starts_with(symbol) {
            self.pos += symbol.len();
            return true;
        }
        if self.keyword_ahead(word) {
            self.pos += word.len();
            return true;
        }
        false
    }

    fn unary(&mut self) -> Result<Expression, QueryError> {
        self.skip_whitespace();
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Err(self.error_at(self.pos, "the expression ends where a condition was expected"));
        };
        if c == '!' || c == '(' || self.keyword_ahead("not") {
            if self.depth >= MAX_DEPTH {
                return Err(
                    self.error_at(start, &format!("the expression nests deeper than {MAX_DEPTH} levels"))
                );
            }
            self.depth += 1;
            let result = self.nested(c);
            self.depth -= 1;
            return result;
        }
        if self.keyword_ahead("and") || self.keyword_ahead("or") || c == ')' || c == '&' || c == '|' {
            return Err(self.unexpected());
        }
        self.comparison().map(Expression::Compare)
    }

    /// A negation or a parenthesized expression, starting at `c`.
    fn nested(&mut self, c: char) -> Result<Expression, QueryError> {
        let open = self.pos;
        if c == '(' {
            self.pos += 1;
            let inner = self.or()?;
            self.skip_whitespace();
            if self.peek() != Some(')') {
                return match self.peek() {
                    None => Err(self.error_at(open, "'(' is never closed")),
                    Some(_) => Err(self.unexpected()),
                };
            }
            self.pos += 1;
            return Ok(inner);
        }
        self.pos += if c == '!' { 1 } else { "not".len() };
        Ok(Expression::Not(Box::new(self.unary()?)))
    }

    // === comparison ===

    fn comparison(&mut self) -> Result<Comparison, QueryError> {
        let start = self.pos;
        let word = self.word();
        if word.is_empty() {
            return Err(self.unexpected());
        }
        let subject = subject(&word).map_err(|message| self.error_at(start, &message))?;
        self.skip_whitespace();
        let operator_start = self.pos;
        let operator = self.operator(&subject)?;
        if !allowed(&subject, operator) {
            let message = format!(
                "operator '{}' cannot be used with {}; it takes {}",
                operator.symbol(),
                subject_kind(&subject),
                allowed_list(&subject)
            );
            return Err(self.error_at(operator_start, &message));
        }
        let argument = self.argument(&subject, operator)?;
        Ok(Comparison { subject, operator, argument })
    }

    fn operator(&mut self, subject: &Subject) -> Result<Operator, QueryError> {
        const SYMBOLS: [(&str, Operator); 8] = [
            ("==", Operator::Equals),
            ("!=", Operator::NotEquals),
            ("=~", Operator::Matches),
            ("!~", Operator::NotMatches),
            (">=", Operator::GreaterThanEqual),
            ("<=", Operator::LessThanEqual),
            (">", Operator::GreaterThan),
            ("<", Operator::LessThan),
        ];
        for (symbol, operator) in SYMBOLS {
            if self.starts_with(symbol) {
                self.pos += symbol.len();
                return Ok(operator);
            }
        }
        let start = self.pos;
        let negated = self.peek() == Some('!');
        if negated {
            self.pos += 1;
        }
        let word = self.word().to_ascii_lowercase();
        let operator = match (negated, word.as_str()) {
            (false, "equals") => Some(Operator::Equals),
            (false, "not_equals") => Some(Operator::NotEquals),
            (false, "greater_than") => Some(Operator::GreaterThan),
            (false, "greater_than_equal") => Some(Operator::GreaterThanEqual),
            (false, "less_than") => Some(Operator::LessThan),
            (false, "less_than_equal") => Some(Operator::LessThanEqual),
            (false, "exists") => Some(Operator::Exists),
            (true, "exists") | (false, "not_exists") => Some(Operator::NotExists),
            (false, "in") => Some(Operator::In),
            (true, "in") | (false, "not_in") => Some(Operator::NotIn),
            (false, "matches") => Some(Operator::Matches),
            (false, "not_matches") => Some(Operator::NotMatches),
            _ => None,
        };
        operator.ok_or_else(|| {
            self.pos = start;
            match self.peek() {
                None => self.error_at(start, &format!("an operator is missing after '{subject}'")),
                Some(_) => {
                    let found: String =
                        self.chars[start..].iter().take_while(|c| !c.is_whitespace()).collect();
                    self.error_at(start, &format!("'{found}' is not an operator"))
                }
            }
        })
    }

    fn argument(&mut self, subject: &Subject, operator: Operator) -> Result<Argument, QueryError> {
        match operator {
            Operator::Exists | Operator::NotExists => Ok(Argument::None),
            Operator::In | Operator::NotIn => self.list(subject, operator),
            Operator::Matches | Operator::NotMatches => {
                let (start, source) = self.value(operator)?;
                let regex = regex::RegexBuilder::new(&format!("^(?:{source})$"))
                    .size_limit(MAX_REGEX_BYTES)
                    .build()
                    .map_err(|_| {
                        self.error_at(start, &format!("'{source}' is not a valid regular expression"))
                    })?;
                Ok(Argument::Pattern(Pattern { source, regex }))
            }
            _ => {
                let (start, text) = self.value(operator)?;
                let typed =
                    typed(subject, operator, &text).map_err(|message| self.error_at(start, &message))?;
                Ok(Argument::Value(Literal { text, typed }))
            }
        }
    }

    fn list(&mut self, subject: &Subject, operator: Operator) -> Result<Argument, QueryError> {
        self.skip_whitespace();
        if self.peek() != Some('[') {
            let message = format!("'{}' needs a list such as [a, b]", operator.symbol());
            return Err(self.error_at(self.pos, &message));
        }
        let open = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_whitespace();
            if self.peek() == Some(']') && items.is_empty() {
                return Err(self.error_at(open, "the list is empty"));
            }
            let (start, text) = self.value(operator)?;
            let typed = typed(subject, operator, &text).map_err(|message| self.error_at(start, &message))?;
            items.push(Literal { text, typed });
            self.skip_whitespace();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    return Ok(Argument::List(items));
                }
                None => return Err(self.error_at(open, "'[' is never closed")),
                Some(_) => return Err(self.unexpected()),
            }
        }
    }

    /// A quoted or bare value, with the position where it starts.
    fn value(&mut self, operator: Operator) -> Result<(usize, String), QueryError> {
        self.skip_whitespace();
        let start = self.pos;
        match self.peek() {
            None => {
                return Err(
                    self.error_at(start, &format!("a value is missing after '{}'", operator.symbol()))
                );
            }
            Some(quote @ ('\'' | '"')) => {
                let body_start = start + 1;
                let Some(length) = self.chars[body_start..].iter().position(|&c| c == quote) else {
                    return Err(self.error_at(start, "the quoted value is never closed"));
                };
                self.pos = body_start + length + 1;
                return Ok((start, self.chars[body_start..body_start + length].iter().collect()));
            }
            Some(_) => {}
        }
        while let Some(c) = self.peek() {
            if ends_bare_value(c) || self.starts_with("&&") || self.starts_with("||") {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.unexpected());
        }
        Ok((start, self.chars[start..self.pos].iter().collect()))
    }

    // === characters ===

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn starts_with(&self, text: &str) -> bool {
        (self.pos..).zip(text.chars()).all(|(index, expected)| self.chars.get(index) == Some(&expected))
    }

    /// Whether the keyword `word` (any case) is next, as a whole word.
    fn keyword_ahead(&self, word: &str) -> bool {
        let mut index = self.pos;
        for expected in word.chars() {
            match self.chars.get(index) {
                Some(c) if c.eq_ignore_ascii_case(&expected) => index += 1,
                _ => return false,
            }
        }
        !self.chars.get(index).copied().is_some_and(is_word_char)
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_word_char) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// The error for whatever token is at the current position.
    fn unexpected(&self) -> QueryError {
        let Some(c) = self.peek() else {
            return self.error_at(self.pos, "the expression ends too early");
        };
        let token: String = if is_word_char(c) {
            self.chars[self.pos..].iter().take_while(|c| is_word_char(**c)).collect()
        } else {
            c.to_string()
        };
        self.error_at(self.pos, &format!("unexpected '{token}'"))
    }

    /// An error at character index `index` (reported from 1).
    fn error_at(&self, index: usize, message: &str) -> QueryError {
        QueryError { position: index + 1, message: message.to_string() }
    }
}

/// The subject named by `word`, or why it names none.
fn subject(word: &str) -> Result<Subject, String> {
    if let Some(name) = word.strip_prefix("attribute:") {
        if name.is_empty() {
            return Err(
                "'attribute:' needs an attribute name, such as attribute:ecs.instance-type".to_string()
            );
        }
        if name.contains(':') {
            return Err(format!("'{name}' is not a valid attribute name"));
        }
        return Ok(Subject::Attribute(name.to_string()));
    }
    match word {
        "agentConnected" => Ok(Subject::AgentConnected),
        "agentVersion" => Ok(Subject::AgentVersion),
        "ec2InstanceId" => Ok(Subject::Ec2InstanceId),
        "registeredAt" => Ok(Subject::RegisteredAt),
        "runningTasksCount" => Ok(Subject::RunningTasksCount),
        "task:group" => Ok(Subject::TaskGroup),
        _ => Err(format!("unknown subject '{word}'; the subjects are {SUBJECTS}")),
    }
}

/// The operators each subject takes, as the documentation lists them. Attributes take every
/// operator; the documentation lists none for `task:group`, whose values are group names, so it
/// takes every operator but the orderings.
fn allowed(subject: &Subject, operator: Operator) -> bool {
    use Operator::*;
    match subject {
        Subject::Attribute(_) => true,
        Subject::AgentConnected | Subject::Ec2InstanceId => {
            matches!(operator, Equals | NotEquals | In | NotIn | Matches | NotMatches)
        }
        Subject::AgentVersion | Subject::RegisteredAt | Subject::RunningTasksCount => {
            matches!(operator, Equals | NotEquals | GreaterThan | GreaterThanEqual | LessThan | LessThanEqual)
        }
        Subject::TaskGroup => !matches!(operator, GreaterThan | GreaterThanEqual | LessThan | LessThanEqual),
    }
}

fn allowed_list(subject: &Subject) -> String {
    const ALL: [Operator; 12] = [
        Operator::Equals,
        Operator::NotEquals,
        Operator::GreaterThan,
        Operator::GreaterThanEqual,
        Operator::LessThan,
        Operator::LessThanEqual,
        Operator::Exists,
        Operator::NotExists,
        Operator::In,
        Operator::NotIn,
        Operator::Matches,
        Operator::NotMatches,
    ];
    let symbols: Vec<&str> = ALL
        .iter()
        .filter(|operator| allowed(subject, **operator))
        .map(|operator| operator.symbol())
        .collect();
    symbols.join(", ")
}

fn subject_kind(subject: &Subject) -> String {
    match subject {
        Subject::Attribute(_) => "attributes".to_string(),
        other => other.to_string(),
    }
}

/// Reads `text` as the kind of value `subject` holds.
fn typed(subject: &Subject, operator: Operator, text: &str) -> Result<Typed, String> {
    match subject {
        Subject::Attribute(_) | Subject::Ec2InstanceId | Subject::TaskGroup => Ok(Typed::Text),
        Subject::AgentConnected => match text.to_ascii_lowercase().as_str() {
            "true" => Ok(Typed::Bool(true)),
            "false" => Ok(Typed::Bool(false)),
            _ => Err(format!("agentConnected is true or false, not '{text}'")),
        },
        Subject::RunningTasksCount => match text.parse::<i64>() {
            Ok(count) if count >= 0 => Ok(Typed::Count(count)),
            _ => Err(format!("runningTasksCount is compared with a whole number, not '{text}'")),
        },
        Subject::AgentVersion => version(text).map(Typed::Version).ok_or_else(|| {
            format!("agentVersion {} a version such as 1.14.5, not '{text}'", comparison_verb(operator))
        }),
        Subject::RegisteredAt => time::parse(text)
            .map(|(seconds, date_only)| Typed::Time { seconds, date_only })
            .ok_or_else(|| {
                format!(
                    "'{text}' is not a date; registeredAt takes 2018-06-18T22:28:28+00:00, \
                     2018-06-18T22:28:28Z, 2018-06-18T22:28:28 or 2018-06-18"
                )
            }),
    }
}

fn comparison_verb(operator: Operator) -> &'static str {
    if matches!(operator, Operator::Equals | Operator::NotEquals) { "equals" } else { "is compared with" }
}

/// A dotted version (`1.14.5`, with an optional leading `v`) as its numeric components.
pub(super) fn version(text: &str) -> Option<Vec<u64>> {
    let text = text.strip_prefix('v').unwrap_or(text);
    text.split('.')
        .map(|part| if part.bytes().all(|b| b.is_ascii_digit()) { part.parse().ok() } else { None })
        .collect()
}
