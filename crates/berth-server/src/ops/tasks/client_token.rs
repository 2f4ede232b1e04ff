//! RunTask's `clientToken`: the same token with the same request launches its tasks once.
//!
//! The first request to place a task under a token also writes a small record under the token,
//! in the same transaction as its tasks and on condition that the key is absent. A repeat finds
//! the record and answers with the same tasks (as they are now) and the same failures; a
//! different request under a token already used is a `ConflictException`, as in ECS. A request
//! that placed nothing leaves no record, so its retry really tries again. The retention sweep
//! removes token records as old as the stopped tasks it removes, so a token is remembered for
//! at least the task retention (one hour by default).

use berth_api::arn::Scope;
use berth_api::model::{Failure, RunTaskRequest, Task};
use berth_api::{EcsError, ErrorCode};
use serde::{Deserialize, Serialize};

use crate::Ctx;
use crate::state::records::{self, encode};
use crate::state::task_placement::Claim;
use crate::state::tasks::{TaskRecord, id_of};
use crate::state::{keys, store_error};

/// The kind segment of token keys: `/<region>/<account>/run-task-token/<token>`.
pub const KIND: &str = "run-task-token";

/// The longest token ECS accepts.
const MAX_CHARS: usize = 64;

/// What a token remembers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The request the token was first used with (without the token), as JSON.
    pub request: String,
    /// The cluster the tasks run in.
    pub cluster: String,
    /// The tasks it started.
    pub task_arns: Vec<String>,
    /// The failures it reported.
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// When it was used (epoch seconds).
    pub created_at: f64,
}

/// The key of a token's record.
pub fn key(scope: &Scope, token: &str) -> String {
    format!("/{}/{}/{KIND}/{token}", scope.region, scope.account)
}

/// Checks a token: 1 to 64 characters, each a printable ASCII character other than space.
pub fn check(token: &str) -> Result<&str, EcsError> {
    if token.is_empty() || token.len() > MAX_CHARS || !token.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(EcsError::invalid_parameter(format!(
            "Invalid clientToken: up to {MAX_CHARS} characters, each in the ASCII range 33-126."
        )));
    }
    Ok(token)
}

/// The request as its token remembers it.
fn fingerprint(input: &RunTaskRequest) -> Result<String, EcsError> {
    let mut without = input.clone();
    without.client_token = None;
    serde_json::to_string(&without)
        .map_err(|err| EcsError::server(format!("failed to encode the request: {err}")))
}

/// The claim a placement writes under `token` with its tasks.
pub fn claim<'a>(
    scope: &Scope,
    token: &str,
    cluster: &str,
    input: &RunTaskRequest,
    now: f64,
) -> Result<Claim<'a>, EcsError> {
    let request = fingerprint(input)?;
    let cluster = cluster.to_string();
    Ok(Claim {
        key: key(scope, token),
        value: Box::new(move |tasks: &[TaskRecord], failures: &[Failure]| {
            encode(&TokenRecord {
                request: request.clone(),
                cluster: cluster.clone(),
                task_arns: tasks.iter().filter_map(|t| t.task.task_arn.clone()).collect(),
                failures: failures.to_vec(),
                created_at: now,
            })
        }),
    })
}

/// The answer to a repeated request: the tasks the token started, as they are now, and its
/// failures; or a `ConflictException` when the token was used for another request.
pub async fn replay(
    ctx: &Ctx,
    token: &str,
    stored: &[u8],
    input: &RunTaskRequest,
) -> Result<(Vec<Task>, Vec<Failure>), EcsError> {
    let record: TokenRecord = serde_json::from_slice(stored).map_err(|err| {
        tracing::error!(token, %err, "stored client token record does not decode");
        EcsError::server("The record of this clientToken is unreadable.")
    })?;
    if record.request != fingerprint(input)? {
        return Err(EcsError::new(
            ErrorCode::ConflictException,
            format!(
                "The clientToken '{token}' is already in use with a different RunTask request; it started: {}.",
                record.task_arns.join(", ")
            ),
        ));
    }
    let mut tasks = Vec::with_capacity(record.task_arns.len());
    for arn in &record.task_arns {
        let task_key = keys::task(&ctx.scope, &record.cluster, id_of(arn));
        if let Some(found) = records::get::<TaskRecord>(&*ctx.store, &task_key).await? {
            tasks.push(found.value.task);
        }
    }
    Ok((tasks, record.failures))
}

/// Removes the token records of `scope_prefix` (`/<region>/<account>/`) used before `cutoff`,
/// returning how many went. Used by the retention sweep.
pub async fn sweep(
    store: &dyn berth_store::Store,
    scope_prefix: &str,
    cutoff: f64,
) -> Result<usize, EcsError> {
    #[derive(Deserialize)]
    struct Age {
        created_at: f64,
    }
    let prefix = format!("{scope_prefix}{KIND}/");
    let range = store.range(&prefix, None, 0).await.map_err(store_error)?;
    let mut removed = 0;
    for kv in range.kvs {
        let Ok(age) = serde_json::from_slice::<Age>(&kv.value) else { continue };
        if age.created_at < cutoff {
            let txn = berth_store::Txn::new()
                .when(berth_store::Compare::unchanged(&kv.key, kv.mod_revision))
                .then(berth_store::Op::delete(&kv.key));
            if records::commit(store, txn).await?.is_some() {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_printable_ascii_up_to_64() {
        assert!(check("abc-123_XYZ/+=").is_ok());
        assert!(check(&"t".repeat(64)).is_ok());
        for bad in ["", "with space", "tab\t", "é", &"t".repeat(65)] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_fingerprint_ignores_the_token_itself() {
        let a =
            RunTaskRequest { client_token: Some("a".into()), count: Some(2), ..RunTaskRequest::default() };
        let b = RunTaskRequest { client_token: Some("b".into()), ..a.clone() };
        assert_eq!(fingerprint(&a).ok(), fingerprint(&b).ok());
        let c = RunTaskRequest { count: Some(3), ..a.clone() };
        assert_ne!(fingerprint(&a).ok(), fingerprint(&c).ok());
    }
}
