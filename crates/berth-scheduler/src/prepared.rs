//! What placement works out about a cluster's instances before it sees a request, kept by a
//! caller between placements ([`PreparedCluster`]) and worked out again only for the instances
//! that change.
//!
//! A placement looks at every instance, and at 5,000 instances and 10 tasks a call its budget
//! is a few nanoseconds per instance: too little to look an attribute up by name, compare task
//! groups by name or evaluate a `memberOf` expression on each. So the strings an instance has
//! (attribute names and values, the groups of its tasks) are numbered once, when it is
//! prepared, by an interner the cluster shares; a request looks up the few numbers it needs
//! when it starts. For each attribute name and each task group the cluster keeps the list of
//! instances that have it (posting lists, in instance order), so the pass over the cluster walks
//! the one list a request needs beside the instances instead of searching each instance's
//! strings. The numbers a placement reads most (resources left, whether the instance takes
//! tasks) are copied into one small record per instance, so the pass reads that rather than the
//! instance's whole view.
//!
//! Two caches are kept too, each filled by the requests that need it and each invisible in the
//! answers: the answers of `memberOf` expressions that do not look at tasks (they depend only on
//! what makes an instance re-prepared, so an answer holds until its instance is prepared again,
//! which forgets it), for the most recently used expressions; and, for the attributes `spread`
//! used lately, each instance's value as a small number (the `columns` module).
//!
//! Upkeep per changed instance: its strings are looked up by name (a hash each), and the posting
//! lists change only where its attributes or groups did. An instance added or removed renumbers
//! the instances after it in every list.

use std::sync::{Mutex, PoisonError};

use crate::columns::SpreadColumns;
use crate::interner::Interner;
use crate::query::Expression;
use crate::types::{InstanceView, Prepared};

/// The value number of an attribute that has no value.
pub(crate) const NO_VALUE: u32 = u32::MAX;

/// How many `memberOf` expressions keep their answers. Requests of a cluster use a handful (one
/// per service with a constraint); each costs a byte per instance.
const CACHED_EXPRESSIONS: usize = 32;

/// What placement knows of each instance of a snapshot before any request, indexed like the
/// snapshot, for [`crate::place_in`].
///
/// The caller keeps it beside its snapshot and tells it of every change to the snapshot:
/// [`replace`](Self::replace) when an instance changes in any way (resources, status,
/// attributes, tasks), [`insert`](Self::insert) and [`remove`](Self::remove) as instances come
/// and go. Placement answers as [`crate::place`] does whenever it was told of every change.
#[derive(Debug, Default)]
pub struct PreparedCluster {
    strings: Interner,
    /// By instance: what every placement reads, kept small so the pass over them is quick.
    facts: Vec<Facts>,
    /// By instance: its strings, by number.
    numbered: Vec<Numbered>,
    /// By attribute name: the instances that have it, with its value there.
    attributes: Postings<u32>,
    /// By task group: the instances with tasks of it, with how many.
    groups: Postings<u64>,
    member_of: Mutex<MemberOfAnswers>,
    spread_columns: Mutex<SpreadColumns>,
}

/// What placement reads of every instance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts {
    /// Whether it is an external (ECS Anywhere) instance.
    pub(crate) external: bool,
    /// Whether it takes tasks at all: ACTIVE, agent connected.
    pub(crate) available: bool,
    pub(crate) remaining_cpu: i64,
    pub(crate) remaining_memory: i64,
    pub(crate) remaining_gpus: i64,
}

/// The strings of one instance, by number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Numbered {
    /// `(name, value)` of its attributes; [`NO_VALUE`] for a value-less one.
    attributes: Box<[(u32, u32)]>,
    /// `(group, tasks)`: its tasks by group.
    groups: Box<[(u32, u64)]>,
}

/// For each string number, the instances (ascending) it is posted for, with a value each. A
/// pass over the cluster walks the list of the number it needs beside the instances
/// ([`Walk`]), rather than looking each instance's strings up: an instance's attributes and
/// groups are then read only when they matter to the request.
#[derive(Debug, Clone)]
struct Postings<T> {
    by_number: Vec<Vec<(u32, T)>>,
}

/// A walk along one posting list, asked about instances in ascending order.
pub(crate) struct Walk<'a, T> {
    rest: &'a [(u32, T)],
}

/// The answers of the `memberOf` expressions that do not look at tasks, by instance.
#[derive(Debug, Default)]
pub(crate) struct MemberOfAnswers {
    pub(crate) expressions: Vec<Answers>,
    /// Counts lookups, to tell which expression was used least recently.
    clock: u64,
}

/// One expression's answers.
#[derive(Debug)]
pub(crate) struct Answers {
    pub(crate) expression: Expression,
    /// By instance: `None` until evaluated since the instance was last prepared.
    pub(crate) of: Vec<Option<bool>>,
    used: u64,
}

// === impl PreparedCluster ===

impl PreparedCluster {
    /// Prepares every instance of `instances`.
    pub fn new(instances: &[InstanceView]) -> Self {
        Self::with_known(instances, &[])
    }

    /// Prepares `instances`, taking what `known[i]` says of `instances[i]` as true.
    pub(crate) fn with_known(instances: &[InstanceView], known: &[Prepared]) -> Self {
        let mut cluster = PreparedCluster::default();
        for (index, instance) in instances.iter().enumerate() {
            let (facts, numbered) = prepare(&mut cluster.strings, instance, known.get(index));
            post(&mut cluster.attributes, index, &[], &numbered.attributes);
            post(&mut cluster.groups, index, &[], &numbered.groups);
            cluster.facts.push(facts);
            cluster.numbered.push(numbered);
        }
        cluster
    }

    /// How many instances it holds.
    pub fn len(&self) -> usize {
        self.facts.len()
    }

    /// Whether it holds no instance.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// Prepares instance `index` again after it changed. An index past the end adds the
    /// instance at the end.
    ///
    /// Cost: the instance's strings looked up by name; the lists of which instances have which
    /// attribute or group change only where the instance's attributes or groups did (a task
    /// started or stopped changes a count in place; a group it is the first or last of is a
    /// sorted insert or removal).
    pub fn replace(&mut self, index: usize, instance: &InstanceView) {
        if index >= self.facts.len() {
            self.insert(index, instance);
            return;
        }
        let (facts, numbered) = prepare(&mut self.strings, instance, None);
        let old = std::mem::replace(&mut self.numbered[index], numbered);
        post(&mut self.attributes, index, &old.attributes, &self.numbered[index].attributes);
        post(&mut self.groups, index, &old.groups, &self.numbered[index].groups);
        self.facts[index] = facts;
        old.release(&mut self.strings);
        for answers in &mut self.member_of_answers().expressions {
            answers.of[index] = None;
        }
        let instances = self.facts.len();
        self.columns().replace(index, instance, instances);
    }

    /// Prepares an instance that is now at `index`, the instances from there on moving up one.
    /// An index past the end adds it at the end.
    ///
    /// Cost: every instance after `index` is renumbered in the lists of which instances have
    /// which attribute or group (instances join a cluster far less often than they change).
    pub fn insert(&mut self, index: usize, instance: &InstanceView) {
        let index = index.min(self.facts.len());
        let (facts, numbered) = prepare(&mut self.strings, instance, None);
        self.attributes.shift(index, true);
        self.groups.shift(index, true);
        post(&mut self.attributes, index, &[], &numbered.attributes);
        post(&mut self.groups, index, &[], &numbered.groups);
        self.facts.insert(index, facts);
        self.numbered.insert(index, numbered);
        for answers in &mut self.member_of_answers().expressions {
            answers.of.insert(index, None);
        }
        let instances = self.facts.len();
        self.columns().insert(index, instance, instances);
    }

    /// Forgets instance `index`, the instances after it moving down one. An index past the end
    /// changes nothing. Costs as [`insert`](Self::insert) does.
    pub fn remove(&mut self, index: usize) {
        if index >= self.facts.len() {
            return;
        }
        self.facts.remove(index);
        let old = self.numbered.remove(index);
        post(&mut self.attributes, index, &old.attributes, &[]);
        post(&mut self.groups, index, &old.groups, &[]);
        self.attributes.shift(index + 1, false);
        self.groups.shift(index + 1, false);
        old.release(&mut self.strings);
        for answers in &mut self.member_of_answers().expressions {
            answers.of.remove(index);
        }
        self.columns().remove(index);
    }

    pub(crate) fn facts(&self) -> &[Facts] {
        &self.facts
    }

    /// A walk along the instances that have the attribute named by number `name`, with the
    /// number of its value there ([`NO_VALUE`] for none).
    pub(crate) fn with_attribute(&self, name: Option<u32>) -> Walk<'_, u32> {
        self.attributes.walk(name)
    }

    /// A walk along the instances with tasks of the group numbered `group`, with how many.
    pub(crate) fn with_group(&self, group: Option<u32>) -> Walk<'_, u64> {
        self.groups.walk(group)
    }

    /// The number of a string some instance has (an attribute name or value, a task group).
    pub(crate) fn number(&self, text: &str) -> Option<u32> {
        self.strings.get(text)
    }

    /// The kept `memberOf` answers, for one placement to read and fill in.
    pub(crate) fn lock_member_of(&self) -> std::sync::MutexGuard<'_, MemberOfAnswers> {
        // Answers are written one at a time and each is true when written: a panic while the
        // lock was held leaves nothing half done.
        self.member_of.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many strings have numbers now.
    #[cfg(test)]
    pub(crate) fn strings_in_use(&self) -> usize {
        self.strings.len()
    }

    /// Whether the posting lists say exactly what each instance's strings say, in order.
    #[cfg(test)]
    pub(crate) fn postings_agree(&self) -> bool {
        fn agree<T: Copy + PartialEq>(
            postings: &Postings<T>,
            of: impl Fn(&Numbered) -> &[(u32, T)],
            all: &[Numbered],
        ) -> bool {
            let posted: usize = postings.by_number.iter().map(Vec::len).sum();
            let held: usize = all.iter().map(|numbered| of(numbered).len()).sum();
            let ordered =
                postings.by_number.iter().all(|list| list.windows(2).all(|pair| pair[0].0 < pair[1].0));
            let found = all.iter().enumerate().all(|(index, numbered)| {
                of(numbered).iter().all(|&(number, value)| {
                    postings
                        .by_number
                        .get(number as usize)
                        .is_some_and(|list| list.contains(&(index as u32, value)))
                })
            });
            posted == held && ordered && found
        }
        agree(&self.attributes, |n| &n.attributes, &self.numbered)
            && agree(&self.groups, |n| &n.groups, &self.numbered)
    }

    /// Each instance's value of attribute `name` as a small number (`0`: none), and how many
    /// numbers there are, for `spread`; `instances` is the snapshot this cluster was told of.
    pub(crate) fn spread_column(&self, name: &str, instances: &[InstanceView]) -> (Vec<u32>, usize) {
        // Columns are changed one instance at a time, each change whole: a panic while the lock
        // was held leaves nothing half done.
        self.spread_columns.lock().unwrap_or_else(PoisonError::into_inner).column(name, instances)
    }

    fn columns(&mut self) -> &mut SpreadColumns {
        self.spread_columns.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    fn member_of_answers(&mut self) -> &mut MemberOfAnswers {
        self.member_of.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clone for PreparedCluster {
    fn clone(&self) -> Self {
        // The kept answers are only a cache: a copy starts without them.
        PreparedCluster {
            strings: self.strings.clone(),
            facts: self.facts.clone(),
            numbered: self.numbered.clone(),
            attributes: self.attributes.clone(),
            groups: self.groups.clone(),
            member_of: Mutex::default(),
            spread_columns: Mutex::default(),
        }
    }
}

// === preparing one instance ===

/// What placement knows of `instance`, taking `known` as true of it when given.
fn prepare(strings: &mut Interner, instance: &InstanceView, known: Option<&Prepared>) -> (Facts, Numbered) {
    let worked_out;
    let prepared = match known {
        Some(prepared) => prepared,
        None => {
            worked_out = Prepared::of(instance);
            &worked_out
        }
    };
    let attributes = instance
        .attributes
        .iter()
        .map(|(name, value)| {
            let value = value.as_deref().map_or(NO_VALUE, |value| strings.acquire(value));
            (strings.acquire(name), value)
        })
        .collect();
    let groups = prepared.groups().map(|(group, tasks)| (strings.acquire(group), tasks)).collect();
    let facts = Facts {
        external: prepared.external,
        available: prepared.available,
        remaining_cpu: instance.remaining_cpu,
        remaining_memory: instance.remaining_memory,
        remaining_gpus: instance.remaining_gpus,
    };
    (facts, Numbered { attributes, groups })
}

impl Numbered {
    fn release(self, strings: &mut Interner) {
        for (name, value) in self.attributes.iter().copied() {
            strings.release(name);
            if value != NO_VALUE {
                strings.release(value);
            }
        }
        for (group, _) in self.groups.iter().copied() {
            strings.release(group);
        }
    }
}

/// Changes the postings of instance `index` from what `old` says to what `new` says.
fn post<T: Copy + PartialEq>(postings: &mut Postings<T>, index: usize, old: &[(u32, T)], new: &[(u32, T)]) {
    // Most changes leave an instance's attributes as they were: nothing to look up then.
    if old == new {
        return;
    }
    let instance = index as u32;
    for &(number, _) in old {
        if !new.iter().any(|&(known, _)| known == number) {
            postings.unset(number, instance);
        }
    }
    for &(number, value) in new {
        if !old.contains(&(number, value)) {
            postings.set(number, instance, value);
        }
    }
}

// === impl Postings ===

impl<T> Default for Postings<T> {
    fn default() -> Self {
        Postings { by_number: Vec::new() }
    }
}

impl<T: Copy> Postings<T> {
    fn walk(&self, number: Option<u32>) -> Walk<'_, T> {
        let rest = number.and_then(|number| self.by_number.get(number as usize)).map_or(&[][..], |list| list);
        Walk { rest }
    }

    /// Posts `instance` under `number` with `value`, in place of what it had.
    fn set(&mut self, number: u32, instance: u32, value: T) {
        if self.by_number.len() <= number as usize {
            self.by_number.resize_with(number as usize + 1, Vec::new);
        }
        let list = &mut self.by_number[number as usize];
        match list.binary_search_by_key(&instance, |(known, _)| *known) {
            Ok(at) => list[at].1 = value,
            Err(at) => list.insert(at, (instance, value)),
        }
    }

    fn unset(&mut self, number: u32, instance: u32) {
        let Some(list) = self.by_number.get_mut(number as usize) else { return };
        if let Ok(at) = list.binary_search_by_key(&instance, |(known, _)| *known) {
            list.remove(at);
        }
    }

    /// Renumbers the instances from `from` on: one up, or one down.
    fn shift(&mut self, from: usize, up: bool) {
        let from = from as u32;
        for list in &mut self.by_number {
            let start = list.partition_point(|(known, _)| *known < from);
            for (instance, _) in &mut list[start..] {
                *instance = if up { *instance + 1 } else { instance.saturating_sub(1) };
            }
        }
    }
}

impl<T: Copy> Walk<'_, T> {
    /// The value posted for `instance`, if any; each call must ask about a later instance than
    /// the one before.
    #[inline]
    pub(crate) fn at(&mut self, instance: usize) -> Option<T> {
        while let Some((&(known, value), rest)) = self.rest.split_first() {
            let known = known as usize;
            if known > instance {
                return None;
            }
            self.rest = rest;
            if known == instance {
                return Some(value);
            }
        }
        None
    }
}

// === impl MemberOfAnswers ===

impl MemberOfAnswers {
    /// The position of `expression`'s answers for a snapshot of `instances` instances, made
    /// (in place of the least recently used when there are too many) if it has none.
    pub(crate) fn position(&mut self, expression: &Expression, instances: usize) -> usize {
        self.clock += 1;
        if let Some(position) = self.expressions.iter().position(|answers| answers.expression == *expression)
        {
            self.expressions[position].used = self.clock;
            return position;
        }
        let answers = Answers { expression: expression.clone(), of: vec![None; instances], used: self.clock };
        if self.expressions.len() < CACHED_EXPRESSIONS {
            self.expressions.push(answers);
            return self.expressions.len() - 1;
        }
        let least_used = (0..self.expressions.len()).min_by_key(|&p| self.expressions[p].used).unwrap_or(0);
        self.expressions[least_used] = answers;
        least_used
    }
}
