//! ListAttributes.

use berth_api::EcsError;
use berth_api::model::{Attribute, ListAttributesRequest, ListAttributesResponse};
use berth_api::pagination::{decode_token, encode_token, page_size};

use super::TARGET_TYPE;
use crate::Ctx;
use crate::ops::{container_instances, required};
use crate::state::container_instances::{ContainerInstanceRecord, INACTIVE};
use crate::state::keys;
use crate::state::records;

/// How many records one read of the store returns while a page fills.
const BATCH: usize = 256;

/// Separates the instance key from the attribute name in a page position. Neither holds it:
/// keys are made of cluster names and hex ids, and attribute names allow no `#`.
const SEPARATOR: char = '#';

/// Handles ListAttributes: one entry per attribute per registered instance of the cluster, in
/// instance key order and then name order, optionally only the attributes of one name, or of one
/// name and value. Deregistered instances have no attributes to list.
pub async fn handle(ctx: Ctx, input: ListAttributesRequest) -> Result<ListAttributesResponse, EcsError> {
    let target_type = required(&input.target_type, "targetType")?;
    super::check_target_type(Some(target_type))?;
    if input.attribute_value.is_some() && input.attribute_name.is_none() {
        return Err(EcsError::invalid_parameter("attributeValue can only be given with attributeName."));
    }
    let limit = page_size(input.max_results, 100, 100)?;
    let cluster = container_instances::active_cluster(&ctx, input.cluster.as_deref()).await?;
    let prefix = keys::container_instances(&ctx.scope, &cluster);
    let listing = format!("ListAttributes/{cluster}");
    let position = match input.next_token.as_deref() {
        Some(token) => Some(position_of(&decode_token(&listing, token)?, &prefix)?),
        None => None,
    };
    let mut page = Page {
        limit,
        name: input.attribute_name.as_deref(),
        value: input.attribute_value.as_deref(),
        items: Vec::new(),
        last_key: None,
        next: None,
    };
    let mut after = None;
    if let Some((key, name)) = position {
        // The last page ended inside this instance: finish its attributes first.
        if let Some(record) = records::get::<ContainerInstanceRecord>(&*ctx.store, &key).await? {
            page.add(&key, &record.value, Some(&name));
        }
        after = Some(key);
    }
    while page.next.is_none() {
        let batch =
            records::list::<ContainerInstanceRecord>(&*ctx.store, &prefix, after.as_deref(), BATCH).await?;
        for (key, record) in &batch.items {
            page.add(key, record, None);
        }
        after = batch.items.last().map(|(key, _)| key.clone());
        if !batch.more {
            break;
        }
    }
    Ok(ListAttributesResponse {
        attributes: Some(page.items),
        next_token: page.next.map(|position| encode_token(&listing, &position)),
    })
}

/// Reads a page position back into the instance key and attribute name it holds, checking that
/// the key is one of this cluster's instances.
fn position_of(position: &str, prefix: &str) -> Result<(String, String), EcsError> {
    position
        .split_once(SEPARATOR)
        .filter(|(key, _)| key.starts_with(prefix))
        .map(|(key, name)| (key.to_string(), name.to_string()))
        .ok_or_else(|| {
            EcsError::invalid_parameter("Invalid nextToken: the token is not one this listing returned.")
        })
}

/// A page being filled.
struct Page<'a> {
    limit: usize,
    name: Option<&'a str>,
    value: Option<&'a str>,
    items: Vec<Attribute>,
    /// The key of the instance the last attribute on the page belongs to.
    last_key: Option<String>,
    /// Set once the page is full and another attribute is known to follow: the position of the
    /// last one on the page.
    next: Option<String>,
}

impl Page<'_> {
    /// Adds the instance's attributes that the filters accept, in name order, after `after_name`.
    fn add(&mut self, key: &str, record: &ContainerInstanceRecord, after_name: Option<&str>) {
        let instance = &record.instance;
        if self.next.is_some() || instance.status.as_deref() == Some(INACTIVE) {
            return;
        }
        let mut attributes: Vec<&Attribute> = instance
            .attributes
            .iter()
            .flatten()
            .filter(|a| after_name.is_none_or(|after| a.name.as_deref().unwrap_or_default() > after))
            .filter(|a| self.name.is_none_or(|name| a.name.as_deref() == Some(name)))
            .filter(|a| self.value.is_none_or(|value| a.value.as_deref() == Some(value)))
            .collect();
        attributes.sort_by(|a, b| a.name.cmp(&b.name));
        for attribute in attributes {
            if self.items.len() == self.limit {
                let last = self.items.last().and_then(|a| a.name.as_deref()).unwrap_or_default();
                self.next = Some(format!("{}{SEPARATOR}{last}", self.last_key.as_deref().unwrap_or(key)));
                return;
            }
            self.items.push(Attribute {
                name: attribute.name.clone(),
                value: attribute.value.clone(),
                target_type: Some(TARGET_TYPE.to_string()),
                target_id: instance.container_instance_arn.clone(),
            });
            self.last_key = Some(key.to_string());
        }
    }
}
