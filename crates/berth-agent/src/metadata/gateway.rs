//! Where containers reach the agent: the gateway of Docker's default bridge network.

use std::net::{IpAddr, Ipv4Addr};

use bollard::Docker;
use bollard::query_parameters::InspectNetworkOptions;

use super::connect_local;

/// The gateway address of Docker's default `bridge` network: where containers on that network
/// (and host-network containers) reach the host. `None` when Docker is unreachable or the
/// network has no IPv4 gateway.
pub async fn bridge_gateway() -> Option<IpAddr> {
    match connect_local().await {
        Ok(docker) => network_gateway(&docker, "bridge").await,
        Err(err) => {
            tracing::warn!(?err, "cannot reach Docker to find the bridge gateway");
            None
        }
    }
}

/// The IPv4 gateway of a Docker network: its IPAM configuration's gateway, or, when the
/// configuration names only a subnet (as the default bridge's does unless `--bip` set it), the
/// subnet's first address, which is where Docker puts the gateway by default.
pub async fn network_gateway(docker: &Docker, network: &str) -> Option<IpAddr> {
    let inspected = match docker.inspect_network(network, None::<InspectNetworkOptions>).await {
        Ok(inspected) => inspected,
        Err(err) => {
            tracing::warn!(?err, network, "cannot inspect Docker network");
            return None;
        }
    };
    let configs = inspected.ipam.and_then(|ipam| ipam.config).unwrap_or_default();
    let configured = configs.iter().filter_map(|config| config.gateway.as_deref()?.parse::<IpAddr>().ok());
    let by_subnet = configs.iter().filter_map(|config| first_host(config.subnet.as_deref()?));
    configured.chain(by_subnet).find(IpAddr::is_ipv4)
}

/// The first host address of an IPv4 subnet (`172.17.0.0/16` → `172.17.0.1`).
fn first_host(cidr: &str) -> Option<IpAddr> {
    let (address, prefix) = cidr.split_once('/')?;
    let address: Ipv4Addr = address.parse().ok()?;
    let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 30)?;
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    Some(IpAddr::V4(Ipv4Addr::from((u32::from(address) & mask) + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_host_of_a_subnet() {
        let first = |cidr| first_host(cidr).map(|ip| ip.to_string());
        assert_eq!(first("172.17.0.0/16").as_deref(), Some("172.17.0.1"));
        assert_eq!(first("10.1.2.64/26").as_deref(), Some("10.1.2.65"));
        assert_eq!(first("10.1.2.77/24").as_deref(), Some("10.1.2.1"));
        assert_eq!(first("0.0.0.0/0").as_deref(), Some("0.0.0.1"));
        for bad in ["fd00::/64", "172.17.0.0", "172.17.0.0/33", "172.17.0.0/31", "x/16"] {
            assert_eq!(first(bad), None, "{bad}");
        }
    }
}
