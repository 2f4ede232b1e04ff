//! A throwaway image registry: Debian's `docker-registry` (the CNCF distribution registry)
//! serving plain HTTP on a loopback port, with its storage in a temporary directory. The Docker
//! daemon speaks HTTP to loopback registries without configuration (127.0.0.0/8 is insecure by
//! default), so tests can push to it and pull from it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    ListImagesOptions, PushImageOptionsBuilder, RemoveImageOptions, TagImageOptionsBuilder,
};
use futures::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const REGISTRY: &str = "/usr/bin/docker-registry";

/// A running registry. When dropped it is killed, and the local tags of images pulled from it
/// (`127.0.0.1:PORT/...`, which no later run can use) are removed.
pub struct Registry {
    /// `127.0.0.1:PORT`, the registry part of image references.
    pub addr: String,
    credentials: Option<(String, String)>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry that anyone may push to and pull from.
    pub async fn start() -> Registry {
        Registry::launch(None).await
    }

    /// Starts a registry that requires HTTP basic authentication as `user` with `password`
    /// (an htpasswd file with a bcrypt hash), for pulls and pushes alike.
    pub async fn start_with_auth(user: &str, password: &str) -> Registry {
        Registry::launch(Some((user.to_string(), password.to_string()))).await
    }

    /// Tags `local_image` (a tagged local name such as `berth-test/busybox:latest`) as
    /// `ADDR/repo:latest`, pushes it (with the registry's credentials, if it has some), removes
    /// that local tag again so that a later pull really fetches from the registry, and returns
    /// the reference `127.0.0.1:PORT/repo:latest`.
    pub async fn push(&self, local_image: &str, repo: &str) -> String {
        let docker = crate::docker().await;
        let target = format!("{}/{repo}", self.addr);
        let reference = format!("{target}:latest");
        let tag = TagImageOptionsBuilder::new().repo(&target).tag("latest").build();
        if let Err(error) = docker.tag_image(local_image, Some(tag)).await {
            panic!("tagging {local_image} as {reference}: {error}");
        }
        let options = PushImageOptionsBuilder::new().tag("latest").build();
        let pushed: Result<Vec<_>, _> =
            docker.push_image(&target, Some(options), self.credentials()).try_collect().await;
        if let Err(error) = pushed {
            panic!("pushing {reference}: {error}");
        }
        // Only a tag goes: `local_image` still names the image.
        if let Err(error) = docker.remove_image(&reference, None::<RemoveImageOptions>, None).await {
            panic!("untagging {reference} after the push: {error}");
        }
        reference
    }

    /// Kills the registry: from now on pulls from it fail as if it were down. Images already
    /// pulled from it stay in the engine's cache until the `Registry` is dropped.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The credentials this registry requires, in the form the Docker API takes them.
    pub fn credentials(&self) -> Option<DockerCredentials> {
        self.credentials.as_ref().map(|(user, password)| DockerCredentials {
            username: Some(user.clone()),
            password: Some(password.clone()),
            serveraddress: Some(self.addr.clone()),
            ..DockerCredentials::default()
        })
    }

    async fn launch(credentials: Option<(String, String)>) -> Registry {
        if !Path::new(REGISTRY).exists() {
            panic!("these tests need {REGISTRY}: apt-get install docker-registry");
        }
        let dir = tempfile::tempdir().expect("a temporary directory for the registry");
        let htpasswd = credentials.as_ref().map(|(user, password)| {
            let hash = bcrypt::hash_with_result(password, 4).expect("bcrypt hashes any password");
            let path = dir.path().join("htpasswd");
            let line = format!("{user}:{}\n", hash.format_for_version(bcrypt::Version::TwoY));
            std::fs::write(&path, line).expect("writing the htpasswd file");
            path
        });
        // The port is free when picked but may be taken before the registry binds it: retry.
        let log_path = dir.path().join("registry.log");
        for _ in 0..5 {
            let addr = format!("127.0.0.1:{}", crate::free_port());
            let config = dir.path().join("config.yml");
            std::fs::write(&config, config_yaml(&addr, dir.path(), htpasswd.as_deref()))
                .expect("writing the registry config");
            let log = std::fs::File::create(&log_path).expect("creating the registry log file");
            let mut child = Command::new(REGISTRY)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|error| panic!("starting {REGISTRY}: {error}"));
            if wait_ready(&addr, &mut child).await {
                return Registry { addr, credentials, child, _dir: dir };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        panic!("{REGISTRY} did not come up on a loopback port in 5 tries; its last log: {}", log.trim());
    }
}

/// Polls `GET /v2/` until it answers (200, or 401 with auth) or the process exits.
async fn wait_ready(addr: &str, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Some(status) = http_status(addr, "/v2/").await
            && (status == 200 || status == 401)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The status code of a plain `GET`, or `None` if nothing answered within two seconds.
async fn http_status(addr: &str, path: &str) -> Option<u16> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 64];
        let read = stream.read(&mut head).await.ok()?;
        let head = String::from_utf8_lossy(&head[..read]).into_owned();
        head.split_whitespace().nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(2), exchange).await.ok().flatten()
}

/// The registry's configuration: filesystem storage under `root`, quiet logs, deletes enabled,
/// and htpasswd authentication when a file is given.
fn config_yaml(addr: &str, root: &Path, htpasswd: Option<&Path>) -> String {
    let storage = root.join("storage");
    let mut yaml = format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n  secret: berth-testkit\n",
        storage.display()
    );
    if let Some(path) = htpasswd {
        yaml.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: berth-testkit\n    path: {}\n",
            path.display()
        ));
    }
    yaml
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        let prefix = format!("{}/", self.addr);
        // Drop cannot await; a thread with its own runtime talks to the engine.
        let untag = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                runtime.block_on(remove_tags(&prefix));
            }
        });
        let _ = untag.join();
    }
}

/// Removes every local tag that starts with `prefix` (the images stay under their other tags).
async fn remove_tags(prefix: &str) {
    let docker = crate::docker().await;
    let images = docker.list_images(None::<ListImagesOptions>).await.unwrap_or_default();
    for tag in images.into_iter().flat_map(|image| image.repo_tags).filter(|tag| tag.starts_with(prefix)) {
        let _ = docker.remove_image(&tag, None::<RemoveImageOptions>, None).await;
    }
}
