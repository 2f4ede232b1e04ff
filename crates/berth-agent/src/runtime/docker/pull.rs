//! Making an image available: the ECS pull behaviours (ECS_IMAGE_PULL_BEHAVIOR), registry
//! credentials, and the check that a registry meant to be spoken to over plain HTTP is one the
//! Docker daemon will speak HTTP to.

use std::net::IpAddr;

use bollard::auth::DockerCredentials;
use bollard::models::RegistryServiceConfig;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures::TryStreamExt;

use super::{DockerRuntime, engine_message, reference, status};
use crate::runtime::{PullBehavior, RegistryAuth, RuntimeError};

/// Docker Hub's address in registry credentials.
const DOCKER_HUB: &str = "https://index.docker.io/v1/";

// === impl DockerRuntime ===

impl DockerRuntime {
    /// [`crate::runtime::Runtime::pull`]: applies `behavior`, then returns the repo digest of the
    /// local image when the engine knows one.
    pub(super) async fn pull_image(
        &self,
        image: &str,
        behavior: PullBehavior,
        auth: Option<&RegistryAuth>,
    ) -> Result<Option<String>, RuntimeError> {
        let reference = reference::pull_reference(image);
        match behavior {
            PullBehavior::Always => self.fetch(&reference, auth).await?,
            PullBehavior::Default => {
                if let Err(error) = self.fetch(&reference, auth).await {
                    if !self.is_cached(&reference).await? {
                        return Err(error);
                    }
                    tracing::warn!(image = %reference, %error, "pull failed; using the cached image");
                }
            }
            // ECS's `once` pulls unless an earlier task pulled the image; the engine's cache is
            // the record of that here, so `once` and `prefer-cached` both pull only on a miss.
            PullBehavior::Once | PullBehavior::PreferCached => {
                if !self.is_cached(&reference).await? {
                    self.fetch(&reference, auth).await?;
                }
            }
        }
        let inspected = self
            .docker
            .inspect_image(&reference)
            .await
            .map_err(|error| RuntimeError::Pull(format!("{reference}: {}", engine_message(&error))))?;
        let digests = inspected.repo_digests.unwrap_or_default();
        Ok(reference::repo_digest(&reference, &digests).map(str::to_string))
    }

    /// The repo digest of the image a container was created from (`name` as in its definition,
    /// `image_id` the image it resolved to), if the engine knows one.
    pub(super) async fn image_digest(&self, name: &str, image_id: &str) -> Option<String> {
        let inspected = self.docker.inspect_image(image_id).await.ok()?;
        let digests = inspected.repo_digests.unwrap_or_default();
        reference::repo_digest(name, &digests).map(str::to_string)
    }

    /// Whether the engine has the image.
    async fn is_cached(&self, reference: &str) -> Result<bool, RuntimeError> {
        match self.docker.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(error) if status(&error) == Some(404) => Ok(false),
            Err(error) => Err(RuntimeError::Pull(format!("{reference}: {}", engine_message(&error)))),
        }
    }

    /// Pulls `reference` from its registry.
    async fn fetch(&self, reference: &str, auth: Option<&RegistryAuth>) -> Result<(), RuntimeError> {
        let registry = reference::registry(reference);
        if let Some(registry) = registry {
            self.check_plain_http(registry).await?;
        }
        let credentials = auth.map(|auth| DockerCredentials {
            username: Some(auth.username.clone()),
            password: Some(auth.password.clone()),
            serveraddress: Some(registry.unwrap_or(DOCKER_HUB).to_string()),
            ..DockerCredentials::default()
        });
        let options = CreateImageOptionsBuilder::new().from_image(reference).build();
        self.docker
            .create_image(Some(options), None, credentials)
            .try_for_each(|_progress| async { Ok(()) })
            .await
            .map_err(|error| {
                RuntimeError::Pull(format!("failed to pull {reference}: {}", engine_message(&error)))
            })
    }

    /// Fails when `registry` is one the agent is told to use over plain HTTP but the daemon
    /// would use HTTPS for, with the line to add to the daemon's configuration.
    async fn check_plain_http(&self, registry: &str) -> Result<(), RuntimeError> {
        if !self.settings.insecure_registries.iter().any(|listed| listed == registry) {
            return Ok(());
        }
        let info = self.docker.info().await.map_err(|error| {
            RuntimeError::Pull(format!(
                "reading the Docker daemon's registry settings: {}",
                engine_message(&error)
            ))
        })?;
        let config = info.registry_config.unwrap_or_default();
        let addresses = resolve(registry).await;
        if daemon_speaks_http(&config, registry, &addresses) {
            return Ok(());
        }
        Err(RuntimeError::Pull(format!(
            "registry {registry} is configured as insecure (plain HTTP) for the agent, but the Docker \
             daemon would use HTTPS for it: add \"insecure-registries\": [\"{registry}\"] to \
             /etc/docker/daemon.json and restart Docker"
        )))
    }
}

/// Whether the daemon speaks plain HTTP to `registry`, as its `RegistryConfig` says: listed by
/// name as not secure, or at an address inside one of its insecure CIDRs (127.0.0.0/8 by
/// default), which is how the daemon itself decides.
fn daemon_speaks_http(config: &RegistryServiceConfig, registry: &str, addresses: &[IpAddr]) -> bool {
    let by_name = config
        .index_configs
        .as_ref()
        .and_then(|indexes| indexes.get(registry))
        .is_some_and(|index| index.secure == Some(false));
    let cidrs = config.insecure_registry_cidrs.as_deref().unwrap_or_default();
    by_name || addresses.iter().any(|address| cidrs.iter().any(|cidr| cidr_contains(cidr, *address)))
}

/// The addresses the registry's host stands for: itself if it is an IP, else what it resolves
/// to (nothing when it does not resolve, as then the daemon cannot reach it either).
async fn resolve(registry: &str) -> Vec<IpAddr> {
    let host = host_of(registry);
    if let Ok(address) = host.parse::<IpAddr>() {
        return vec![address];
    }
    match tokio::net::lookup_host((host, 0)).await {
        Ok(addresses) => addresses.map(|address| address.ip()).collect(),
        Err(_) => Vec::new(),
    }
}

/// The host of `host[:port]` or `[v6]:port`.
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(host, _)| host);
    }
    match registry.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => registry,
    }
}

/// Whether `address` is inside `cidr` (`a.b.c.d/n` or `v6/n`); a malformed CIDR contains nothing.
fn cidr_contains(cidr: &str, address: IpAddr) -> bool {
    let Some((network, prefix)) = cidr.split_once('/') else { return false };
    let (Ok(network), Ok(prefix)) = (network.parse::<IpAddr>(), prefix.parse::<u32>()) else { return false };
    match (network, address) {
        (IpAddr::V4(network), IpAddr::V4(address)) if prefix <= 32 => {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            u32::from(network) & mask == u32::from(address) & mask
        }
        (IpAddr::V6(network), IpAddr::V6(address)) if prefix <= 128 => {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            u128::from(network) & mask == u128::from(address) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::IndexInfo;

    use super::*;

    fn daemon(cidrs: &[&str], insecure_names: &[&str]) -> RegistryServiceConfig {
        let index =
            |name: &str| IndexInfo { name: Some(name.into()), secure: Some(false), ..IndexInfo::default() };
        RegistryServiceConfig {
            insecure_registry_cidrs: Some(cidrs.iter().map(|c| c.to_string()).collect()),
            index_configs: Some(
                insecure_names.iter().map(|n| (n.to_string(), index(n))).collect::<HashMap<_, _>>(),
            ),
            ..RegistryServiceConfig::default()
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn loopback_is_insecure_by_cidr_and_others_need_listing_by_name() {
        let config = daemon(&["127.0.0.0/8", "::1/128"], &["registry.lan:5000"]);
        assert!(daemon_speaks_http(&config, "127.0.0.1:5000", &[ip("127.0.0.1")]));
        assert!(daemon_speaks_http(&config, "localhost:5000", &[ip("::1")]));
        assert!(daemon_speaks_http(&config, "registry.lan:5000", &[]));
        assert!(!daemon_speaks_http(&config, "192.0.2.10:5000", &[ip("192.0.2.10")]));
        assert!(!daemon_speaks_http(&config, "registry.lan:5001", &[]));
    }

    #[test]
    fn cidrs_compare_only_the_prefix_bits() {
        assert!(cidr_contains("10.1.0.0/16", ip("10.1.200.3")));
        assert!(!cidr_contains("10.1.0.0/16", ip("10.2.0.1")));
        assert!(cidr_contains("0.0.0.0/0", ip("192.0.2.1")));
        assert!(cidr_contains("192.0.2.1/32", ip("192.0.2.1")));
        assert!(!cidr_contains("10.0.0.0/8", ip("::1")));
        assert!(!cidr_contains("garbage", ip("10.0.0.1")));
        assert!(!cidr_contains("10.0.0.0/40", ip("10.0.0.1")));
    }

    #[test]
    fn host_of_strips_ports_and_v6_brackets() {
        assert_eq!(host_of("127.0.0.1:5000"), "127.0.0.1");
        assert_eq!(host_of("registry.lan"), "registry.lan");
        assert_eq!(host_of("[::1]:5000"), "::1");
    }
}
