//! The placement decision: tasks one at a time, each on the instance the strategies pick among
//! those that fit, charging the working snapshot before the next.

use crate::fit::Working;
use crate::prepared::PreparedCluster;
use crate::rank::Ranking;
use crate::rng::SplitMix64;
use crate::types::{Failure, InstanceView, Placement, Prepared, Request};

/// Places up to `request.count` tasks on `instances`.
///
/// Returns the placements made, in order (an instance appears once per task it takes), and,
/// when fewer than `count` fit, one failure per instance of the request's launch type saying
/// why it refused the first task that did not fit, as RunTask reports `failures`. With no
/// instance of the launch type the failures are empty: the caller says the cluster has no
/// container instances. The caller bounds `count` (RunTask allows 10).
///
/// Cost: preparing every instance ([`PreparedCluster`]), then one pass over the snapshot to
/// build the request's view of it, then, for a request of up to 32 tasks without `random`, work
/// in proportion to the count and the number of distinct values `spread` looks at; `random`, and
/// larger requests, look at every candidate per task. A caller that places on the same snapshot
/// again and again keeps a [`PreparedCluster`] and calls [`place_in`].
pub fn place(instances: &[InstanceView], request: &Request) -> (Vec<Placement>, Vec<Failure>) {
    place_prepared(instances, &[], request)
}

/// [`place`], with what `prepared[i]` says of `instances[i]` taken as known rather than worked
/// out again ([`Prepared::of`]); instances past the end of `prepared` are worked out as `place`
/// does. The answer is the same as `place`'s whenever `prepared` is true of the instances.
pub fn place_prepared(
    instances: &[InstanceView],
    prepared: &[Prepared],
    request: &Request,
) -> (Vec<Placement>, Vec<Failure>) {
    place_avoiding(instances, prepared, &[], request)
}

/// [`place_prepared`], steering `random` away from the instances `busy` marks (`busy[i]` for
/// `instances[i]`; missing entries are not busy) for as long as another instance fits.
///
/// A server that places concurrent requests against one snapshot and commits each with a
/// compare on the instances it charges marks those that requests in flight have chosen: two
/// random draws that land on the same instance make one of the commits fail and start over,
/// and with tens of requests in flight on a few thousand instances most would. Steering away
/// changes nothing that `random` promises (any instance that fits). Deterministic strategies
/// ignore `busy`: the instance they pick is the one they pick.
pub fn place_avoiding(
    instances: &[InstanceView],
    prepared: &[Prepared],
    busy: &[bool],
    request: &Request,
) -> (Vec<Placement>, Vec<Failure>) {
    if request.count == 0 {
        return (Vec::new(), Vec::new());
    }
    place_in(instances, &PreparedCluster::with_known(instances, prepared), busy, request)
}

/// [`place_avoiding`] on a snapshot the caller keeps, with `cluster` prepared from it and told
/// of every change since ([`PreparedCluster`]): the way to place again and again on a large
/// cluster, where preparing every instance for each request would cost more than placing.
///
/// The answer is [`place_avoiding`]'s whenever `cluster` is true of `instances`. A `cluster`
/// of another length than `instances` cannot be, and is not used: the instances are prepared
/// afresh for this call.
///
/// Cost: one pass over the prepared instances that compares numbers (no strings), reads the
/// kept answers of `memberOf` expressions that do not look at tasks (evaluating each only on
/// the instances prepared since it was last used), then as [`place`].
pub fn place_in(
    instances: &[InstanceView],
    cluster: &PreparedCluster,
    busy: &[bool],
    request: &Request,
) -> (Vec<Placement>, Vec<Failure>) {
    let mut placements = Vec::with_capacity(request.count.min(1024));
    if request.count == 0 {
        return (placements, Vec::new());
    }
    if cluster.len() != instances.len() {
        return place_in(instances, &PreparedCluster::new(instances), busy, request);
    }
    // Only the instance a task lands on can stop fitting, so the candidates are found once and
    // kept up to date rather than looked for again for each task.
    let (mut working, mut feasible) = Working::new(instances, cluster, request);
    let mut ranking = Ranking::new(&request.strategies, &working, &feasible, request.count);
    let mut preferred: Vec<usize> = if ranking.draws_at_random() && busy.contains(&true) {
        feasible.iter().copied().filter(|&i| !busy.get(i).copied().unwrap_or(false)).collect()
    } else {
        Vec::new()
    };
    let mut rng = SplitMix64::new(request.seed);
    for _ in 0..request.count {
        let candidates = if preferred.is_empty() { &feasible } else { &preferred };
        let Some(index) = ranking.choose(&working, candidates, &mut rng) else {
            return (placements, failures(&working));
        };
        working.charge(index);
        let still_fits = working.refusal(index).is_none();
        ranking.record(&working, index, still_fits);
        if !still_fits {
            for list in [&mut feasible, &mut preferred] {
                if let Ok(position) = list.binary_search(&index) {
                    list.remove(position);
                }
            }
        }
        placements.push(Placement { instance: index });
    }
    (placements, Vec::new())
}

fn failures(working: &Working<'_>) -> Vec<Failure> {
    (0..working.instances.len())
        .filter(|&index| working.slots[index].eligible)
        .filter_map(|index| {
            let reason = working.refusal(index)?;
            Some(Failure { arn: working.instances[index].arn.clone(), reason: reason.to_string() })
        })
        .collect()
}
