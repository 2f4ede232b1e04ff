//! `berth-test/busybox:latest`, built offline: no image can be pulled on Berth's machines, so
//! the image is the host's statically linked busybox (Debian's `busybox-static`) with a symlink
//! per applet, imported into the engine as a one-layer image.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use bollard::Docker;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures::TryStreamExt;

/// The name of the test image.
pub const BUSYBOX_IMAGE: &str = "berth-test/busybox:latest";

/// The static busybox of Debian's `busybox-static` (`/bin` is `/usr/bin` on merged-usr systems).
const BUSYBOX: &str = "/bin/busybox";

/// Bumped whenever the image's contents change, so that machines rebuild an older image.
const CONTENT_VERSION: &str = "1";
const VERSION_LABEL: &str = "org.berth.testkit.busybox-version";

/// Set once this process has seen a current image, to skip the engine round trip afterwards.
static READY: AtomicBool = AtomicBool::new(false);

/// Makes sure `berth-test/busybox:latest` exists and returns its name. It holds `/bin/busybox`,
/// a symlink for every applet in `/bin` (`sh`, `sleep`, `httpd`, `nc`, `wget`, ...), `/etc/passwd`
/// with root and nobody, a world-writable `/tmp` and `/www/index.html` (for `httpd -h /www`); its
/// command is `sh`. Safe when several test processes call it at once: builders take a file lock
/// in the temporary directory and re-check before building.
pub async fn busybox_image() -> String {
    if READY.load(Ordering::Acquire) {
        return BUSYBOX_IMAGE.to_string();
    }
    let docker = crate::docker().await;
    if !is_current(&docker).await {
        let _lock = lock_file("busybox-image").await;
        if !is_current(&docker).await {
            import(&docker, rootfs_tar()).await;
        }
    }
    READY.store(true, Ordering::Release);
    BUSYBOX_IMAGE.to_string()
}

/// Whether the engine has the image at the current content version.
async fn is_current(docker: &Docker) -> bool {
    let Ok(image) = docker.inspect_image(BUSYBOX_IMAGE).await else { return false };
    let labels = image.config.and_then(|config| config.labels).unwrap_or_default();
    labels.get(VERSION_LABEL).map(String::as_str) == Some(CONTENT_VERSION)
}

/// Imports the root filesystem as the image (`docker import` with `--change`s).
async fn import(docker: &Docker, tar: Vec<u8>) {
    import_as(docker, BUSYBOX_IMAGE, tar, vec![format!("LABEL {VERSION_LABEL}={CONTENT_VERSION}")]).await;
}

/// Imports a root filesystem as image `name` (`repo:tag`), its command `sh`, with `changes`
/// (Dockerfile instructions) on top.
pub(crate) async fn import_as(docker: &Docker, name: &str, tar: Vec<u8>, changes: Vec<String>) {
    let (repo, tag) = name.split_once(':').expect("the image name has a tag");
    let options = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .changes([vec![r#"CMD ["sh"]"#.to_string(), "ENV PATH=/bin".to_string()], changes].concat())
        .build();
    let body = bollard::body_full(tar.into());
    let result: Result<Vec<_>, _> = docker.create_image(Some(options), Some(body), None).try_collect().await;
    if let Err(error) = result {
        panic!("importing {name} into the Docker Engine failed: {error}");
    }
}

/// The image's root filesystem as an uncompressed tar.
fn rootfs_tar() -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    append_rootfs(&mut tar);
    tar.into_inner().expect("writing a tar into memory cannot fail")
}

/// Appends the busybox root filesystem (what [`busybox_image`] holds) to `tar`; other images
/// build on it.
pub(crate) fn append_rootfs(tar: &mut tar::Builder<Vec<u8>>) {
    let busybox = std::fs::read(BUSYBOX).unwrap_or_else(|_| {
        panic!("the test image needs {BUSYBOX} from Debian's busybox-static: apt-get install busybox-static")
    });
    if is_dynamically_linked(&busybox) {
        panic!(
            "{BUSYBOX} is dynamically linked; the test image needs the static one: apt-get install busybox-static"
        );
    }
    for (dir, mode) in [("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777), ("www", 0o755)] {
        append(tar, tar::EntryType::Directory, dir, mode, b"", None);
    }
    append(tar, tar::EntryType::Regular, "bin/busybox", 0o755, &busybox, None);
    for applet in applets() {
        let path = format!("bin/{applet}");
        append(tar, tar::EntryType::Symlink, &path, 0o777, b"", Some("busybox"));
    }
    let passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n";
    append(tar, tar::EntryType::Regular, "etc/passwd", 0o644, passwd, None);
    append(tar, tar::EntryType::Regular, "etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n", None);
    append(tar, tar::EntryType::Regular, "www/index.html", 0o644, b"hello from berth-test\n", None);
}

/// Every applet the host's busybox offers (`busybox --list`), as file names.
fn applets() -> Vec<String> {
    let output = Command::new(BUSYBOX).arg("--list").output().unwrap_or_else(|error| {
        panic!("running {BUSYBOX} --list failed ({error}): apt-get install busybox-static")
    });
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        // Applet names are plain file names; anything else is not one.
        .filter(|name| !name.is_empty() && *name != "busybox" && !name.contains('/'))
        .map(str::to_string)
        .collect()
}

/// Appends one entry (a directory, a file, or a symlink to `link`).
pub(crate) fn append(
    tar: &mut tar::Builder<Vec<u8>>,
    kind: tar::EntryType,
    path: &str,
    mode: u32,
    data: &[u8],
    link: Option<&str>,
) {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(data.len() as u64);
    header.set_mtime(0);
    if let Some(target) = link {
        header.set_link_name(target).expect("applet link targets are short");
    }
    tar.append_data(&mut header, Path::new(path), data).expect("writing a tar into memory cannot fail");
}

/// Whether an ELF file asks for a program interpreter (`PT_INTERP`), that is, whether it needs a
/// dynamic loader the image would not have. Non-ELF64 input reads as static.
fn is_dynamically_linked(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let read = |at: usize, len: usize| elf.get(at..at + len);
    if read(0, 4) != Some(b"\x7fELF".as_slice()) || read(4, 1) != Some([2].as_slice()) {
        return false;
    }
    let u64_at = |at| read(at, 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    let u16_at = |at| read(at, 2).and_then(|b| b.try_into().ok()).map(u16::from_le_bytes);
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    (0..usize::from(phnum)).any(|index| {
        let at = phoff as usize + index * usize::from(phentsize);
        read(at, 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes) == Some(PT_INTERP)
    })
}

/// Takes an exclusive lock on a file in the temporary directory, released when the returned
/// file is dropped. Taken on a blocking thread: waiting must not stall the caller's runtime.
pub(crate) async fn lock_file(name: &str) -> std::fs::File {
    let path = std::env::temp_dir().join(format!("berth-testkit-{name}.lock"));
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("opening lock file {}: {error}", path.display()));
        file.lock().unwrap_or_else(|error| panic!("locking {}: {error}", path.display()));
        file
    })
    .await
    .expect("the lock task does not panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_busybox_is_static_and_a_shell_is_dynamic() {
        let busybox = std::fs::read(BUSYBOX).expect("apt-get install busybox-static");
        assert!(!is_dynamically_linked(&busybox));
        let bash = std::fs::read("/bin/bash").expect("bash is installed");
        assert!(is_dynamically_linked(&bash));
        assert!(!is_dynamically_linked(b"not an elf"));
    }

    #[test]
    fn the_rootfs_has_the_applets_the_tests_use() {
        let tar = rootfs_tar();
        let mut archive = tar::Archive::new(tar.as_slice());
        let paths: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|entry| entry.expect("entry").path().expect("path").display().to_string())
            .collect();
        for needed in ["bin/busybox", "bin/sh", "bin/sleep", "bin/httpd", "bin/wget", "bin/nc", "tmp"] {
            assert!(paths.iter().any(|p| p.trim_end_matches('/') == needed), "{needed} missing");
        }
    }
}
