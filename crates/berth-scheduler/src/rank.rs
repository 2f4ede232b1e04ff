//! Strategies: among the instances that can take the next task, which one does.
//!
//! Each strategy keeps the candidates it likes best and hands the ties to the next one, which is
//! how ECS combines them ("spread across zones, then binpack on memory within each zone"). What
//! is left after the last strategy goes to the first in snapshot order, so placement never
//! depends on anything but its inputs. Strategies after `random` have nothing left to decide.
//!
//! Put another way, the deterministic strategies order the candidates by a tuple of keys (the
//! resource left for `binpack`, the group's tasks on the instance or in its attribute's value for
//! `spread`), then by snapshot position, and the first in that order takes the task; `random`
//! draws among those tied on every key before it.
//!
//! Finding that first candidate again for each task of a request would cost a pass over the
//! cluster per task. Instead a [`Shortlist`] is made in one pass: a task changes the keys of the
//! instance it lands on and, for `spread` on an attribute, the key shared by every instance with
//! that value, which moves them all together. So the instances are put in classes by their
//! attribute values, and each class keeps only its first `count` instances in order: a request
//! of `count` tasks takes at most `count - 1` before its last, so the best instance it has not
//! yet touched is always in its class's list, and the instances it touched are too.

use crate::fit::Working;
use crate::rng::SplitMix64;
use crate::types::{BinpackField, SpreadField, Strategy};

/// Requests of more tasks than this scan the candidates for each task instead of keeping a
/// shortlist: a list as long as the request would cost more to keep in order than it saves.
const MAX_SHORTLIST: usize = 32;

/// The strategies, ready to rank the candidates of one request.
pub(crate) struct Ranking {
    /// The deterministic strategies before the first `random` (all of them if none).
    keys: Vec<Key>,
    /// Whether a `random` draw follows them.
    random: bool,
    /// The candidates worth looking at, when the request keeps a shortlist.
    shortlist: Option<Shortlist>,
    /// Scratch space for the draws of `random`.
    ties: Vec<usize>,
}

/// One deterministic strategy's key.
enum Key {
    RemainingCpu,
    RemainingMemory,
    /// The group's tasks on the instance.
    GroupTasks,
    /// The group's tasks on the instances sharing the instance's value of an attribute.
    Bucket(Buckets),
}

/// Instances grouped by their value of one attribute, with the group's tasks in each bucket.
/// Instances without the attribute share one bucket.
struct Buckets {
    /// Each instance's bucket (only meaningful for instances of the launch type).
    of: Vec<u32>,
    /// The group's tasks in each bucket.
    tasks: Vec<u64>,
}

/// The first `limit` candidates of each class in the strategies' order.
struct Shortlist {
    limit: usize,
    /// Each class's shortlisted instances, in order.
    classes: Vec<Vec<usize>>,
    /// For more than one `spread` on an attribute: class ids by their bucket ids.
    ids: std::collections::HashMap<Vec<u32>, usize>,
}

impl Ranking {
    /// Prepares `strategies` for a request of `count` tasks whose candidates are `feasible`
    /// (ascending).
    pub(crate) fn new(
        strategies: &[Strategy],
        working: &Working<'_>,
        feasible: &[usize],
        count: usize,
    ) -> Self {
        let random_at = strategies.iter().position(|s| matches!(s, Strategy::Random));
        let deterministic = &strategies[..random_at.unwrap_or(strategies.len())];
        let keys = deterministic
            .iter()
            .map(|strategy| match strategy {
                Strategy::Binpack(BinpackField::Cpu) => Key::RemainingCpu,
                Strategy::Binpack(BinpackField::Memory) => Key::RemainingMemory,
                Strategy::Spread(SpreadField::Instance) => Key::GroupTasks,
                Strategy::Spread(SpreadField::Attribute(name)) => Key::Bucket(Buckets::new(name, working)),
                // Not reached: the slice ends before the first `random`.
                Strategy::Random => Key::GroupTasks,
            })
            .collect();
        let mut ranking = Ranking { keys, random: random_at.is_some(), shortlist: None, ties: Vec::new() };
        if !ranking.random && (1..=MAX_SHORTLIST).contains(&count) {
            ranking.shortlist = Some(Shortlist::new(&ranking, working, feasible, count));
        }
        ranking
    }

    /// Whether the choice is a plain `random` draw among the candidates, no strategy before it.
    pub(crate) fn draws_at_random(&self) -> bool {
        self.random && self.keys.is_empty()
    }

    /// The instance among `feasible` (ascending) the strategies pick, or `None` when there is no
    /// candidate.
    pub(crate) fn choose(
        &mut self,
        working: &Working<'_>,
        feasible: &[usize],
        rng: &mut SplitMix64,
    ) -> Option<usize> {
        if let Some(shortlist) = &self.shortlist {
            return shortlist.first(self, working);
        }
        if !self.random {
            return self.first_of(working, feasible.iter().copied());
        }
        if self.keys.is_empty() {
            return draw(feasible, rng);
        }
        let first = self.first_of(working, feasible.iter().copied())?;
        let mut ties = std::mem::take(&mut self.ties);
        ties.clear();
        ties.extend(feasible.iter().copied().filter(|&i| self.tied(working, i, first)));
        let chosen = draw(&ties, rng);
        self.ties = ties;
        chosen
    }

    /// Counts a task of the group placed on instance `index`, which can take another task if
    /// `still_fits`.
    pub(crate) fn record(&mut self, working: &Working<'_>, index: usize, still_fits: bool) {
        for key in &mut self.keys {
            if let Key::Bucket(buckets) = key {
                buckets.tasks[buckets.of[index] as usize] += 1;
            }
        }
        if let Some(mut shortlist) = self.shortlist.take() {
            shortlist.update(self, working, index, still_fits);
            self.shortlist = Some(shortlist);
        }
    }

    /// The first of `candidates` in the strategies' order.
    fn first_of(&self, working: &Working<'_>, candidates: impl Iterator<Item = usize>) -> Option<usize> {
        candidates.reduce(|best, next| if self.before(working, next, best, true) { next } else { best })
    }

    /// Whether instance `a` comes before instance `b`: by the keys in turn (with the shared
    /// per-value keys of `spread` on an attribute only if `buckets`), then by position.
    fn before(&self, working: &Working<'_>, a: usize, b: usize, buckets: bool) -> bool {
        for key in &self.keys {
            if !buckets && matches!(key, Key::Bucket(_)) {
                continue;
            }
            let (ka, kb) = (key.of(working, a), key.of(working, b));
            if ka != kb {
                return ka < kb;
            }
        }
        a < b
    }

    /// Whether `a` ties with `b` on every key.
    fn tied(&self, working: &Working<'_>, a: usize, b: usize) -> bool {
        self.keys.iter().all(|key| key.of(working, a) == key.of(working, b))
    }

    /// The class of instance `index`: which bucket it is in for each `spread` on an attribute.
    fn bucket_ids(&self, index: usize) -> impl Iterator<Item = u32> + '_ {
        self.keys.iter().filter_map(move |key| match key {
            Key::Bucket(buckets) => Some(buckets.of[index]),
            _ => None,
        })
    }
}

impl Key {
    fn of(&self, working: &Working<'_>, index: usize) -> i128 {
        let slot = &working.slots[index];
        match self {
            Key::RemainingCpu => i128::from(slot.remaining_cpu),
            Key::RemainingMemory => i128::from(slot.remaining_memory),
            Key::GroupTasks => i128::from(slot.group_tasks),
            Key::Bucket(buckets) => i128::from(buckets.tasks[buckets.of[index] as usize]),
        }
    }
}

impl Buckets {
    fn new(name: &str, working: &Working<'_>) -> Self {
        // The cluster keeps each instance's value as a small number: no attribute is looked up.
        let (of, values) = working.cluster.spread_column(name, working.instances);
        let mut tasks: Vec<u64> = vec![0; values];
        for (slot, &bucket) in working.slots.iter().zip(&of) {
            // Tasks on every instance of the launch type count, even on instances that cannot
            // take this task: a zone holding the group's tasks is not emptier because its hosts
            // are full. (The buckets of other instances are never read.)
            if slot.eligible
                && let Some(bucket_tasks) = tasks.get_mut(bucket as usize)
            {
                *bucket_tasks += slot.group_tasks;
            }
        }
        Buckets { of, tasks }
    }
}

impl Shortlist {
    fn new(ranking: &Ranking, working: &Working<'_>, feasible: &[usize], limit: usize) -> Self {
        let mut shortlist = Shortlist { limit, classes: Vec::new(), ids: Default::default() };
        // This pass sees every candidate, so the order within a class is spelled out for the
        // usual case of at most one key besides the buckets, where the general comparison's
        // loop over the keys costs more than the comparison.
        let slots = &working.slots;
        let own_keys: Vec<&Key> = ranking.keys.iter().filter(|key| !matches!(key, Key::Bucket(_))).collect();
        match own_keys.as_slice() {
            [] => shortlist.fill(ranking, feasible, |a, b| a < b),
            [Key::RemainingCpu] => shortlist
                .fill(ranking, feasible, |a, b| (slots[a].remaining_cpu, a) < (slots[b].remaining_cpu, b)),
            [Key::RemainingMemory] => shortlist.fill(ranking, feasible, |a, b| {
                (slots[a].remaining_memory, a) < (slots[b].remaining_memory, b)
            }),
            [Key::GroupTasks] => shortlist
                .fill(ranking, feasible, |a, b| (slots[a].group_tasks, a) < (slots[b].group_tasks, b)),
            _ => shortlist.fill(ranking, feasible, |a, b| ranking.before(working, a, b, false)),
        }
        shortlist
    }

    /// Keeps the first `limit` of `feasible` (ascending) in each class, by `before`: the order
    /// of the keys other than the buckets, then position.
    fn fill(&mut self, ranking: &Ranking, feasible: &[usize], before: impl Fn(usize, usize) -> bool) {
        let limit = self.limit;
        // Without `spread` on an attribute every instance is in the one class; with one (as
        // usual) an instance's class is its bucket; only more need the classes numbered.
        let mut buckets = ranking.keys.iter().filter_map(|key| match key {
            Key::Bucket(buckets) => Some(buckets),
            _ => None,
        });
        let (first_bucket, second_bucket) = (buckets.next(), buckets.next());
        if first_bucket.is_none() {
            self.classes.resize_with(1, || Vec::with_capacity(limit));
        }
        for &index in feasible {
            let class = match (first_bucket, second_bucket) {
                (None, _) => 0,
                (Some(buckets), None) => {
                    let class = buckets.of[index] as usize;
                    if self.classes.len() <= class {
                        self.classes.resize_with(class + 1, || Vec::with_capacity(limit));
                    }
                    class
                }
                (Some(_), Some(_)) => self.class_of(ranking, index),
            };
            let list = &mut self.classes[class];
            if list.len() == limit {
                let last = list[limit - 1];
                if !before(index, last) {
                    continue;
                }
                list.pop();
            }
            insert(list, index, &before);
        }
    }

    /// The class of instance `index` (made when first seen).
    #[inline]
    fn class_of(&mut self, ranking: &Ranking, index: usize) -> usize {
        let mut ids = ranking.bucket_ids(index);
        let class = match (ids.next(), ids.next()) {
            (None, _) => 0,
            (Some(only), None) => only as usize,
            (Some(first), Some(second)) => {
                let key: Vec<u32> = [first, second].into_iter().chain(ids).collect();
                let next = self.ids.len();
                *self.ids.entry(key).or_insert(next)
            }
        };
        if self.classes.len() <= class {
            self.classes.resize_with(class + 1, || Vec::with_capacity(self.limit));
        }
        class
    }

    /// The first candidate: the best of the classes' firsts, shared keys included.
    fn first(&self, ranking: &Ranking, working: &Working<'_>) -> Option<usize> {
        ranking.first_of(working, self.classes.iter().filter_map(|list| list.first().copied()))
    }

    /// Puts instance `index`, which just took a task, back in its place, or drops it if it
    /// cannot take another.
    fn update(&mut self, ranking: &Ranking, working: &Working<'_>, index: usize, still_fits: bool) {
        let class = self.class_of(ranking, index);
        let list = &mut self.classes[class];
        list.retain(|&i| i != index);
        if still_fits {
            insert(list, index, |a, b| ranking.before(working, a, b, false));
        }
    }
}

/// `random`'s pick among `candidates`: the generator is drawn only when there is a choice.
fn draw(candidates: &[usize], rng: &mut SplitMix64) -> Option<usize> {
    match candidates.len() {
        0 => None,
        1 => Some(candidates[0]),
        n => Some(candidates[rng.below(n)]),
    }
}

/// Inserts `index` into the ordered `list` after every element that comes before it.
fn insert(list: &mut Vec<usize>, index: usize, before: impl Fn(usize, usize) -> bool) {
    let at = list.iter().rposition(|&other| before(other, index)).map_or(0, |p| p + 1);
    list.insert(at, index);
}
