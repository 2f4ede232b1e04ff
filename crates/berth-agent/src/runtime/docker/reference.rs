//! Image references as Docker reads them: which registry an image comes from, which tag a pull
//! asks for, and which repository a repo digest belongs to.

/// The registry host (`host[:port]`) an image reference names, or `None` for Docker Hub. As in
/// Docker, the first path component is a registry when it has a `.` or a `:` or is `localhost`.
pub(super) fn registry(image: &str) -> Option<&str> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
}

/// The reference to pull: `image` itself when it has a tag or a digest, else `image:latest`.
/// The Engine API pulls every tag of a repository given without one, which is never meant.
pub(super) fn pull_reference(image: &str) -> String {
    if image.contains('@') || tag_separator(image).is_some() {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// The repository part of a reference (no tag, no digest), in its familiar form: Docker Hub's
/// `docker.io/` and `library/` prefixes dropped, as the engine writes repo digests.
pub(super) fn familiar_repository(image: &str) -> &str {
    let without_digest = image.split_once('@').map_or(image, |(name, _)| name);
    let name = match tag_separator(without_digest) {
        Some(at) => &without_digest[..at],
        None => without_digest,
    };
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    name.strip_prefix("library/").unwrap_or(name)
}

/// The digest (`sha256:...`) of `image`'s repository among an image's repo digests
/// (`repo@sha256:...`).
pub(super) fn repo_digest<'a>(image: &str, repo_digests: &'a [String]) -> Option<&'a str> {
    let repository = familiar_repository(image);
    repo_digests.iter().find_map(|entry| {
        let (name, digest) = entry.split_once('@')?;
        (familiar_repository(name) == repository).then_some(digest)
    })
}

/// Where the `:` before a tag is: a colon after the last `/` (one before it is a port).
fn tag_separator(image: &str) -> Option<usize> {
    let last_component = image.rfind('/').map_or(0, |slash| slash + 1);
    image[last_component..].find(':').map(|at| last_component + at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_the_first_component_only_when_it_looks_like_a_host() {
        assert_eq!(registry("busybox"), None);
        assert_eq!(registry("library/busybox:1"), None);
        assert_eq!(registry("127.0.0.1:5000/app:1"), Some("127.0.0.1:5000"));
        assert_eq!(registry("localhost/app"), Some("localhost"));
        assert_eq!(registry("registry.example.com/team/app"), Some("registry.example.com"));
    }

    #[test]
    fn a_pull_without_tag_asks_for_latest_and_a_port_is_not_a_tag() {
        assert_eq!(pull_reference("busybox"), "busybox:latest");
        assert_eq!(pull_reference("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(pull_reference("127.0.0.1:5000/app:v2"), "127.0.0.1:5000/app:v2");
        let pinned = "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(pull_reference(pinned), pinned);
    }

    #[test]
    fn repo_digest_matches_the_familiar_repository() {
        let digests = vec![
            "other@sha256:aaa".to_string(),
            "busybox@sha256:bbb".to_string(),
            "127.0.0.1:5000/app@sha256:ccc".to_string(),
        ];
        assert_eq!(repo_digest("docker.io/library/busybox:latest", &digests), Some("sha256:bbb"));
        assert_eq!(repo_digest("127.0.0.1:5000/app:latest", &digests), Some("sha256:ccc"));
        assert_eq!(repo_digest("127.0.0.1:5001/app:latest", &digests), None);
    }
}
