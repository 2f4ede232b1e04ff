//! Port mappings as Docker's exposed ports and port bindings.

use std::collections::HashMap;

use berth_api::model::PortMapping;
use bollard::models::{PortBinding, PortMap};

use super::NetworkMode;
use crate::runtime::RuntimeError;

/// Docker's `ExposedPorts`: `"80/tcp"` to an empty object.
type ExposedPorts = HashMap<String, HashMap<(), ()>>;

/// Exposed ports and, in bridge mode, their host bindings. A missing or 0 `hostPort` asks
/// Docker for an ephemeral port (an empty `HostPort`); a `containerPortRange` gets one
/// ephemeral host port per container port. In host mode the container's ports are the host's,
/// and in none mode nothing can be published, so neither binds.
pub(super) fn ports(
    mappings: &[PortMapping],
    mode: NetworkMode,
) -> Result<(ExposedPorts, PortMap), RuntimeError> {
    let mut exposed = HashMap::new();
    let mut bindings: PortMap = HashMap::new();
    for mapping in mappings {
        let protocol = match mapping.protocol.as_deref().unwrap_or("tcp") {
            "tcp" => "tcp",
            "udp" => "udp",
            other => {
                return Err(RuntimeError::Create(format!(
                    "port mapping protocol {other:?} is not tcp or udp"
                )));
            }
        };
        let (container_ports, host_port) = match (mapping.container_port, &mapping.container_port_range) {
            (Some(port), _) => (port..=port, mapping.host_port.filter(|port| *port > 0)),
            (None, Some(range)) => (port_range(range)?, None),
            (None, None) => {
                return Err(RuntimeError::Create("a port mapping has no containerPort".into()));
            }
        };
        for port in container_ports {
            if !(1..=65535).contains(&port) {
                return Err(RuntimeError::Create(format!(
                    "container port {port} is not between 1 and 65535"
                )));
            }
            let key = format!("{port}/{protocol}");
            exposed.insert(key.clone(), HashMap::new());
            if mode == NetworkMode::Bridge {
                let binding = PortBinding {
                    host_ip: Some(String::new()),
                    host_port: Some(host_port.map(|port| port.to_string()).unwrap_or_default()),
                };
                bindings
                    .entry(key)
                    .or_insert_with(|| Some(Vec::new()))
                    .get_or_insert_with(Vec::new)
                    .push(binding);
            }
        }
    }
    Ok((exposed, bindings))
}

/// `"8000-8010"` as a range of ports.
fn port_range(range: &str) -> Result<std::ops::RangeInclusive<i32>, RuntimeError> {
    let invalid = || RuntimeError::Create(format!("containerPortRange {range:?} is not FROM-TO"));
    let (from, to) = range.split_once('-').ok_or_else(invalid)?;
    let (from, to) = (
        from.trim().parse::<i32>().map_err(|_| invalid())?,
        to.trim().parse::<i32>().map_err(|_| invalid())?,
    );
    if from > to {
        return Err(invalid());
    }
    Ok(from..=to)
}
