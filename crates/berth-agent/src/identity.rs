//! The agent's identity: the container instance ARN it registered as, kept in its data dir so
//! that a restarted agent re-registers as the same instance.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What the agent remembers across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The container instance's ARN.
    pub container_instance_arn: String,
    /// The cluster it belongs to.
    pub cluster: String,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("instance.json")
}

/// The stored identity, if any. An unreadable file is an error, not a new identity: silently
/// registering a second instance for one host would run its tasks twice.
pub fn load(data_dir: &Path) -> anyhow::Result<Option<Identity>> {
    let path = path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|err| {
            anyhow::anyhow!(
                "{} is not a valid agent identity ({err}); remove it to register anew",
                path.display()
            )
        })?)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(anyhow::anyhow!("cannot read {}: {err}", path.display())),
    }
}

/// Stores the identity durably (write to a temporary file, fsync, rename).
pub fn save(data_dir: &Path, identity: &Identity) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let path = path(data_dir);
    let temporary = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(identity)?;
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, &path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_round_trips_and_garbage_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(load(dir.path()).expect("empty"), None);
        let identity = Identity { container_instance_arn: "arn".into(), cluster: "c".into() };
        save(dir.path(), &identity).expect("save");
        assert_eq!(load(dir.path()).expect("load"), Some(identity));
        std::fs::write(dir.path().join("instance.json"), b"nonsense").expect("write");
        assert!(load(dir.path()).is_err());
    }
}
