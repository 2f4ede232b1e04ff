//! DescribeCapacityProviders: named providers, or every provider a page at a time.
//!
//! Named providers (short names or ARNs, up to 100) are described in the order given; a name that
//! is not a provider of this scope becomes a `MISSING` failure with its ARN, as ECS reports it.
//! Without names, every provider is listed (FARGATE and FARGATE_SPOT included) in name order, up
//! to `maxResults` (1–10, default 10) a page, each `nextToken` holding the last name returned. With
//! `cluster`, only the providers associated with that cluster count. Tags come back only when
//! `include` asks for `TAGS`.

use std::collections::HashSet;

use berth_api::EcsError;
use berth_api::arn::Scope;
use berth_api::model::{
    CapacityProvider, Cluster, DescribeCapacityProvidersRequest, DescribeCapacityProvidersResponse, Failure,
    enums,
};
use berth_api::pagination::{decode_token, encode_token, page_size};

use super::{
    BUILT_IN, built_in, existing_cluster, is_built_in, lists, load, load_all, reference_name, validate,
};
use crate::Ctx;

/// The listing name pagination tokens are bound to.
const LISTING: &str = "DescribeCapacityProviders";
/// The most providers one request may name.
const MAX_NAMES: usize = 100;
/// Page size bounds of the listing, from the operation's docs.
const PAGE_DEFAULT: usize = 10;
const PAGE_MAX: usize = 10;

/// Handles DescribeCapacityProviders.
pub async fn handle(
    ctx: Ctx,
    input: DescribeCapacityProvidersRequest,
) -> Result<DescribeCapacityProvidersResponse, EcsError> {
    let with_tags = wants_tags(input.include.as_deref())?;
    let size = page_size(input.max_results, PAGE_DEFAULT, PAGE_MAX)?;
    let cluster = match &input.cluster {
        Some(reference) => Some(existing_cluster(&ctx, reference).await?),
        None => None,
    };
    let mut response = match input.capacity_providers.as_deref() {
        Some(references) if !references.is_empty() => named(&ctx, references, cluster.as_ref()).await?,
        _ => page(&ctx, input.next_token.as_deref(), size, cluster.as_ref()).await?,
    };
    for provider in response.capacity_providers.iter_mut().flatten() {
        present(provider, with_tags);
    }
    Ok(response)
}

/// Whether `include` asks for tags; any other value is refused.
fn wants_tags(include: Option<&[String]>) -> Result<bool, EcsError> {
    let include = include.unwrap_or_default();
    for field in include {
        validate::one_of("include", field, enums::CAPACITY_PROVIDER_FIELD)?;
    }
    Ok(!include.is_empty())
}

/// Shows tags (an empty list rather than nothing) only when asked for.
fn present(provider: &mut CapacityProvider, with_tags: bool) {
    if with_tags {
        provider.tags.get_or_insert_with(Vec::new);
    } else {
        provider.tags = None;
    }
}

/// Whether `provider` is associated with `cluster`: the cluster lists it, or it is a Managed
/// Instances provider created for that cluster.
fn associated(scope: &Scope, cluster: &Cluster, provider: &CapacityProvider) -> bool {
    let name = provider.name.as_deref().unwrap_or_default();
    lists(scope, cluster, name) || (provider.cluster.is_some() && provider.cluster == cluster.cluster_name)
}

/// Describes the providers a request names, in its order, once each.
async fn named(
    ctx: &Ctx,
    references: &[String],
    cluster: Option<&Cluster>,
) -> Result<DescribeCapacityProvidersResponse, EcsError> {
    if references.len() > MAX_NAMES {
        return Err(EcsError::invalid_parameter(format!(
            "At most {MAX_NAMES} capacity providers can be described in one request; {} were given.",
            references.len()
        )));
    }
    let mut found = Vec::new();
    let mut failures = Vec::new();
    let mut seen = HashSet::new();
    for reference in references {
        if !seen.insert(reference.as_str()) {
            continue;
        }
        match one(ctx, reference).await? {
            Some(provider) if cluster.is_none_or(|cluster| associated(&ctx.scope, cluster, &provider)) => {
                found.push(provider)
            }
            _ => failures.push(missing(ctx, reference)),
        }
    }
    Ok(DescribeCapacityProvidersResponse {
        capacity_providers: Some(found),
        failures: Some(failures),
        next_token: None,
    })
}

/// The provider a reference names, if it exists.
async fn one(ctx: &Ctx, reference: &str) -> Result<Option<CapacityProvider>, EcsError> {
    let Some(name) = reference_name(&ctx.scope, reference) else {
        return Ok(None);
    };
    if is_built_in(&name) {
        return Ok(Some(built_in(&ctx.scope, &name)));
    }
    Ok(load(ctx, &name).await?.map(|record| record.value))
}

/// The failure for a reference that names no provider: the ARN it would have, or the reference
/// itself when it is an ARN.
fn missing(ctx: &Ctx, reference: &str) -> Failure {
    let arn = if reference.starts_with("arn:") {
        reference.to_string()
    } else {
        ctx.scope.capacity_provider_arn(reference)
    };
    Failure { arn: Some(arn), reason: Some("MISSING".to_string()), detail: None }
}

/// One page of every provider, in name order, after the token's name.
///
/// Reads every provider of the scope: ECS caps how many an account may have, and merging the
/// built-ins and the cluster filter into a store range read would buy nothing at that size.
async fn page(
    ctx: &Ctx,
    token: Option<&str>,
    size: usize,
    cluster: Option<&Cluster>,
) -> Result<DescribeCapacityProvidersResponse, EcsError> {
    let after = token.map(|token| decode_token(LISTING, token)).transpose()?;
    let mut providers: Vec<CapacityProvider> =
        BUILT_IN.iter().map(|name| built_in(&ctx.scope, name)).collect();
    providers.extend(load_all(ctx).await?);
    providers.retain(|provider| {
        let name = provider.name.as_deref().unwrap_or_default();
        after.as_deref().is_none_or(|after| name > after)
            && cluster.is_none_or(|cluster| associated(&ctx.scope, cluster, provider))
    });
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    let more = providers.len() > size;
    providers.truncate(size);
    let next_token = more
        .then(|| {
            providers.last().and_then(|last| last.name.as_deref()).map(|name| encode_token(LISTING, name))
        })
        .flatten();
    Ok(DescribeCapacityProvidersResponse {
        capacity_providers: Some(providers),
        failures: Some(Vec::new()),
        next_token,
    })
}
