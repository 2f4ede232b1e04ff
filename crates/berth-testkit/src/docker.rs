//! Reaching the Docker Engine from tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bollard::Docker;

/// Where the engine listens when `DOCKER_HOST` does not say otherwise.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Panics with one clear line unless the Docker Engine answers `GET /_ping`. Tests call it first
/// so that a machine without a running engine fails them with the cause, never skips them.
pub fn docker_or_fail() {
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string());
    if let Err(error) = ping(&host) {
        panic!(
            "these tests need a running Docker Engine: no answer at {host} ({error}); \
             start it (systemctl start docker) or set DOCKER_HOST"
        );
    }
}

/// A client of the local engine (honouring `DOCKER_HOST`), its API version negotiated. Create
/// one per test: a client belongs to the tokio runtime it was first used on.
pub async fn docker() -> Docker {
    docker_or_fail();
    let docker = Docker::connect_with_local_defaults().expect("a Docker client for the local engine");
    docker.negotiate_version().await.expect("the Docker Engine reports its API version")
}

/// Sends `GET /_ping` over a plain blocking socket, so this works inside and outside a runtime.
fn ping(host: &str) -> Result<(), String> {
    let request = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    let timeout = Some(Duration::from_secs(5));
    let mut response = String::new();
    if let Some(path) = host.strip_prefix("unix://") {
        let mut stream = UnixStream::connect(path).map_err(|e| e.to_string())?;
        stream.set_read_timeout(timeout).map_err(|e| e.to_string())?;
        stream.write_all(request).map_err(|e| e.to_string())?;
        stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    } else if let Some(address) = host.strip_prefix("tcp://") {
        let mut stream = TcpStream::connect(address).map_err(|e| e.to_string())?;
        stream.set_read_timeout(timeout).map_err(|e| e.to_string())?;
        stream.write_all(request).map_err(|e| e.to_string())?;
        stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    } else {
        return Err(format!("unsupported DOCKER_HOST scheme in {host:?}"));
    }
    let status = response.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("unexpected answer {status:?}"))
    }
}
