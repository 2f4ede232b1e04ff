//! Several hosts on one machine: a control plane and agents, each in its own Docker container on
//! a private network, all running the project's own `berth` binary.
//!
//! The image is built offline: the busybox root filesystem of [`crate::busybox_image`] plus the
//! `berth` binary under test, the shared libraries `ldd` names for it and the dynamic loader,
//! imported as one layer and tagged by a hash of the binary (so a rebuilt binary gets a new
//! image, and an unchanged one is reused). Each agent container mounts the engine's socket, so
//! the task containers it starts run on this machine's Docker Engine beside the hosts; they carry
//! their instance's label, so agents sharing the engine never touch each other's containers.
//!
//! A [`Hosts`] owns a network and every container on it, named with a prefix unique to the test
//! run; dropping it removes them all, and the task containers of the clusters its agents joined,
//! even when the test panicked. The docker CLI does the work, since a drop cannot await.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::busybox::{append, append_rootfs, import_as, lock_file};

/// The repository of the host images; the tag is a hash of the binary.
const IMAGE_REPOSITORY: &str = "berth-test/berth-host";

/// The port the control plane listens on inside its container.
pub const SERVER_PORT: u16 = 4566;

/// The name the agents reach the control plane by on the private network.
pub const SERVER_ALIAS: &str = "server";

/// How long the control plane may take to start listening.
const START_PATIENCE: Duration = Duration::from_secs(60);

/// Makes sure the host image for `berth` (the binary's path) exists; returns its name.
pub async fn host_image(berth: &Path) -> String {
    let binary = std::fs::read(berth)
        .unwrap_or_else(|error| panic!("reading the berth binary {}: {error}", berth.display()));
    let mut hasher = DefaultHasher::new();
    binary.hash(&mut hasher);
    let name = format!("{IMAGE_REPOSITORY}:{:016x}", hasher.finish());
    let docker = crate::docker().await;
    if docker.inspect_image(&name).await.is_ok() {
        return name;
    }
    let _lock = lock_file("berth-host-image").await;
    if docker.inspect_image(&name).await.is_err() {
        let tar = rootfs(berth, &binary);
        import_as(&docker, &name, tar, Vec::new()).await;
    }
    name
}

/// The busybox root filesystem with `berth` in `/bin` and what it needs to load.
fn rootfs(berth: &Path, binary: &[u8]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    append_rootfs(&mut tar);
    let mut directories = std::collections::BTreeSet::new();
    for library in shared_libraries(berth) {
        let contents = std::fs::read(&library)
            .unwrap_or_else(|error| panic!("reading {} for the host image: {error}", library.display()));
        let relative = library.strip_prefix("/").unwrap_or(&library).to_path_buf();
        // Parent directories first (`bin` is already there; `lib`, `lib64`, `usr/lib/...` are not).
        for ancestor in relative.ancestors().skip(1).collect::<Vec<_>>().into_iter().rev() {
            let text = ancestor.display().to_string();
            if !text.is_empty() && text != "bin" && directories.insert(text.clone()) {
                append(&mut tar, tar::EntryType::Directory, &text, 0o755, b"", None);
            }
        }
        append(&mut tar, tar::EntryType::Regular, &relative.display().to_string(), 0o755, &contents, None);
    }
    append(&mut tar, tar::EntryType::Regular, "bin/berth", 0o755, binary, None);
    tar.into_inner().expect("writing a tar into memory cannot fail")
}

/// The shared libraries and the loader `ldd` lists for `binary`, as absolute paths.
fn shared_libraries(binary: &Path) -> Vec<PathBuf> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .unwrap_or_else(|error| panic!("running ldd on {}: {error} (install libc-bin)", binary.display()));
    let text = String::from_utf8_lossy(&output.stdout);
    parse_ldd(&text)
}

/// The absolute paths in `ldd` output: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)`
/// and `/lib64/ld-linux-x86-64.so.2 (0x...)`; the vDSO has no file and is skipped.
fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, target)) => target.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// A private network with a control plane and agents on it, each a container.
pub struct Hosts {
    /// The prefix of every name this run uses (also the network's name).
    pub prefix: String,
    /// The host image.
    pub image: String,
    /// The control plane's URL from this machine (`http://127.0.0.1:PORT`).
    pub endpoint: String,
    containers: Mutex<Vec<String>>,
    clusters: Mutex<Vec<String>>,
}

impl Hosts {
    /// Creates the network and starts the control plane (`berth server` with `server_args`
    /// added), publishing its port on 127.0.0.1; returns once it listens.
    pub async fn start(berth: &Path, server_args: &[&str]) -> Hosts {
        crate::docker_or_fail();
        let image = host_image(berth).await;
        let prefix = unique_prefix();
        docker(&["network", "create", "--label", "org.berth.testkit=hosts", &prefix]);
        let mut hosts = Hosts {
            prefix: prefix.clone(),
            image: image.clone(),
            endpoint: String::new(),
            containers: Mutex::new(Vec::new()),
            clusters: Mutex::new(Vec::new()),
        };
        let name = format!("{prefix}-server");
        hosts.remember(&name);
        let port = SERVER_PORT.to_string();
        let listen = format!("0.0.0.0:{SERVER_PORT}");
        let publish = format!("127.0.0.1::{SERVER_PORT}");
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &prefix,
            "--network-alias",
            SERVER_ALIAS,
            "-p",
            &publish,
            "-e",
            "RUST_LOG=info",
            &image,
            "berth",
            "server",
            "--listen",
            &listen,
            "--data-dir",
            "/data",
        ];
        args.extend_from_slice(server_args);
        docker(&args);
        let published = docker(&["port", &name, &format!("{port}/tcp")]);
        let address = published
            .lines()
            .find(|line| line.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| panic!("the control plane's port is not published: {published:?}"))
            .trim()
            .to_string();
        let deadline = Instant::now() + START_PATIENCE;
        while !hosts.logs("server").contains("berth server listening") {
            if Instant::now() > deadline {
                panic!("the control plane did not start; its log:\n{}", hosts.logs("server"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        hosts.endpoint = format!("http://{address}");
        hosts
    }

    /// Starts an agent host named `host` that joins `cluster` in `zone`, with `agent_args` added
    /// (`berth agent` flags). Task containers stop within a second unless the definition says
    /// otherwise. Returns the host's container name.
    pub fn add_agent(&self, host: &str, cluster: &str, zone: &str, agent_args: &[&str]) -> String {
        let name = self.container(host);
        self.remember(&name);
        {
            let mut clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
            if !clusters.iter().any(|c| c == cluster) {
                clusters.push(cluster.to_string());
            }
        }
        let server = format!("http://{SERVER_ALIAS}:{SERVER_PORT}");
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--hostname",
            host,
            "--network",
            &self.prefix,
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            // The metadata endpoint binds the Docker bridge's gateway address, which is not this
            // container's: allow the bind (nothing in these tests reads task metadata).
            "--sysctl",
            "net.ipv4.ip_nonlocal_bind=1",
            "-e",
            "RUST_LOG=info",
            &self.image,
            "berth",
            "agent",
            "--server",
            &server,
            "--cluster",
            cluster,
            "--data-dir",
            "/data",
            "--availability-zone",
            zone,
            "--container-stop-timeout",
            "1s",
        ];
        args.extend_from_slice(agent_args);
        docker(&args);
        name
    }

    /// Cuts `host` off the network (its agent's connection to the control plane breaks).
    pub fn disconnect(&self, host: &str) {
        docker(&["network", "disconnect", "--force", &self.prefix, &self.container(host)]);
    }

    /// Puts `host` back on the network.
    pub fn connect(&self, host: &str) {
        docker(&["network", "connect", &self.prefix, &self.container(host)]);
    }

    /// The log of `host` (`server` for the control plane), standard output and error.
    pub fn logs(&self, host: &str) -> String {
        let output = Command::new("docker").args(["logs", &self.container(host)]).output();
        match output {
            Ok(output) => {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                )
            }
            Err(error) => format!("(no log: {error})"),
        }
    }

    /// The container name of `host`.
    pub fn container(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    fn remember(&self, name: &str) {
        self.containers.lock().unwrap_or_else(|e| e.into_inner()).push(name.to_string());
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let containers = std::mem::take(&mut *self.containers.lock().unwrap_or_else(|e| e.into_inner()));
        if !containers.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(containers.iter().map(String::as_str));
            let _ = Command::new("docker").args(&args).output();
        }
        // The task containers the agents started on the shared engine.
        for cluster in self.clusters.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let filter = format!("label=com.amazonaws.ecs.cluster={cluster}");
            if let Ok(output) = Command::new("docker").args(["ps", "-aq", "--filter", &filter]).output() {
                let ids = String::from_utf8_lossy(&output.stdout);
                let ids: Vec<&str> = ids.split_whitespace().collect();
                if !ids.is_empty() {
                    let _ = Command::new("docker").args(["rm", "-f", "-v"]).args(&ids).output();
                }
            }
        }
        let _ = Command::new("docker").args(["network", "rm", &self.prefix]).output();
    }
}

/// `berth-hosts-<pid>-<n>-<time>`: unique across concurrent test processes and runs.
fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    format!("berth-hosts-{}-{}-{nanos:x}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Runs the docker CLI; panics with its error output when it fails. Returns standard output.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker").args(args).output().unwrap_or_else(|error| {
        panic!("running docker {}: {error} (is the docker CLI installed?)", args.join(" "))
    });
    if !output.status.success() {
        panic!("docker {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_the_library_files_and_the_loader() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            parse_ldd(text),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }

    #[test]
    fn prefixes_differ_within_a_run() {
        assert_ne!(unique_prefix(), unique_prefix());
    }
}
