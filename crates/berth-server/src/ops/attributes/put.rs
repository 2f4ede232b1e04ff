//! PutAttributes.

use std::collections::BTreeMap;

use berth_api::model::{Attribute, PutAttributesRequest, PutAttributesResponse};
use berth_api::{EcsError, ErrorCode};
use berth_store::{Compare, Op, Txn};

use crate::Ctx;
use crate::ops::container_instances;
use crate::ops::required;
use crate::state::keys;
use crate::state::records::{commit, encode};

/// How often a call retries when its instances keep changing under it.
const MAX_ATTEMPTS: usize = 64;

/// Handles PutAttributes: creates each attribute on its target instance, or replaces its value.
/// The attributes of one call may target several instances; all of them change in one
/// transaction, or, when any is refused, none does.
pub async fn handle(ctx: Ctx, input: PutAttributesRequest) -> Result<PutAttributesResponse, EcsError> {
    let given = required(&input.attributes, "attributes")?;
    super::check_count(given)?;
    for attribute in given {
        super::check(attribute)?;
        super::check_custom(attribute.name.as_deref().unwrap_or_default())?;
    }
    let cluster = container_instances::active_cluster(&ctx, input.cluster.as_deref()).await?;
    let mut targets = Vec::with_capacity(given.len());
    for attribute in given {
        targets.push(super::target_id(&ctx, &cluster, attribute)?);
    }
    apply(&ctx, &cluster, given, &targets).await?;
    Ok(PutAttributesResponse { attributes: Some(given.iter().map(super::echo).collect()) })
}

/// Writes the attributes to their targets (`targets[i]` is the id `given[i]` names).
async fn apply(
    ctx: &Ctx,
    cluster: &str,
    given: &[Attribute],
    targets: &[Option<String>],
) -> Result<(), EcsError> {
    for _ in 0..MAX_ATTEMPTS {
        // By id, in order, so each instance is read and written once however many attributes
        // target it.
        let mut changed = BTreeMap::new();
        for (attribute, id) in given.iter().zip(targets) {
            let entry = match id.as_deref().and_then(|id| changed.get_mut(id)) {
                Some(entry) => entry,
                None => {
                    let record = super::load_target(ctx, cluster, attribute, id.as_deref()).await?;
                    changed.entry(id.clone().unwrap_or_default()).or_insert(record)
                }
            };
            let list = entry.value.instance.attributes.get_or_insert_with(Vec::new);
            super::set(list, attribute.name.as_deref().unwrap_or_default(), attribute.value.clone());
        }
        let mut txn = Txn::new();
        for (id, record) in &mut changed {
            let custom = super::custom_count(record.value.instance.attributes.as_deref().unwrap_or_default());
            if custom > super::MAX_CUSTOM {
                return Err(EcsError::new(
                    ErrorCode::AttributeLimitExceededException,
                    format!(
                        "Container instance {id} can have at most {} custom attributes; this call \
                         would give it {custom}.",
                        super::MAX_CUSTOM
                    ),
                ));
            }
            container_instances::bump(&mut record.value.instance);
            let key = keys::container_instance(&ctx.scope, cluster, id);
            txn = txn
                .when(Compare::unchanged(&key, record.revision))
                .then(Op::put(&key, encode(&record.value)?));
        }
        if commit(&*ctx.store, txn).await?.is_some() {
            return Ok(());
        }
    }
    Err(EcsError::server("The container instances kept changing while their attributes were set; try again."))
}
