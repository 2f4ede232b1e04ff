//! DeleteAttributes.

use std::collections::{BTreeMap, BTreeSet};

use berth_api::EcsError;
use berth_api::model::{Attribute, DeleteAttributesRequest, DeleteAttributesResponse};
use berth_store::{Compare, Op, Txn};

use crate::Ctx;
use crate::ops::container_instances;
use crate::ops::required;
use crate::state::keys;
use crate::state::records::{commit, encode};

/// How often a call retries when its instances keep changing under it.
const MAX_ATTEMPTS: usize = 64;

/// Handles DeleteAttributes: removes each named attribute from its target instance. Only the name
/// and target count; a value, if given, is not compared. An attribute the instance does not have
/// is already deleted, and an instance none of whose attributes change is not rewritten. As with
/// PutAttributes, all targets change in one transaction or none does.
pub async fn handle(ctx: Ctx, input: DeleteAttributesRequest) -> Result<DeleteAttributesResponse, EcsError> {
    let given = required(&input.attributes, "attributes")?;
    super::check_count(given)?;
    for attribute in given {
        let name = attribute
            .name
            .as_deref()
            .ok_or_else(|| EcsError::invalid_parameter("Each attribute needs a name."))?;
        super::check_name(name)?;
        super::check_custom(name)?;
    }
    let cluster = container_instances::active_cluster(&ctx, input.cluster.as_deref()).await?;
    let mut targets = Vec::with_capacity(given.len());
    for attribute in given {
        targets.push(super::target_id(&ctx, &cluster, attribute)?);
    }
    apply(&ctx, &cluster, given, &targets).await?;
    Ok(DeleteAttributesResponse { attributes: Some(given.iter().map(super::echo).collect()) })
}

/// Removes the attributes from their targets (`targets[i]` is the id `given[i]` names).
async fn apply(
    ctx: &Ctx,
    cluster: &str,
    given: &[Attribute],
    targets: &[Option<String>],
) -> Result<(), EcsError> {
    for _ in 0..MAX_ATTEMPTS {
        let mut loaded = BTreeMap::new();
        let mut changed = BTreeSet::new();
        for (attribute, id) in given.iter().zip(targets) {
            let entry = match id.as_deref().and_then(|id| loaded.get_mut(id)) {
                Some(entry) => entry,
                None => {
                    let record = super::load_target(ctx, cluster, attribute, id.as_deref()).await?;
                    loaded.entry(id.clone().unwrap_or_default()).or_insert(record)
                }
            };
            let list = entry.value.instance.attributes.get_or_insert_with(Vec::new);
            let before = list.len();
            list.retain(|a| a.name != attribute.name);
            if list.len() != before {
                changed.insert(id.clone().unwrap_or_default());
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        let mut txn = Txn::new();
        for (id, record) in loaded.iter_mut().filter(|(id, _)| changed.contains(*id)) {
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
    Err(EcsError::server(
        "The container instances kept changing while their attributes were deleted; try again.",
    ))
}
