//! `environmentFiles`: ECS reads them from Amazon S3, which a self-hosted agent cannot reach, so
//! this runtime reads a `value` that is a local path (`file:///path` or `/path`) on the host.
//! The format is ECS's: one `VARIABLE=VALUE` a line, `#` comments, blank lines ignored, values
//! taken literally (no quotes or escapes).

use std::path::PathBuf;

use berth_api::model::ContainerDefinition;

use crate::runtime::RuntimeError;

/// The variables of the container's environment files, in file order. A variable set by an
/// earlier file is kept over a later one (ECS processes the files top down).
pub(super) async fn read_all(container: &ContainerDefinition) -> Result<Vec<(String, String)>, RuntimeError> {
    let mut variables: Vec<(String, String)> = Vec::new();
    for file in container.environment_files.iter().flatten() {
        let value = file.value.as_deref().unwrap_or_default();
        let path = local_path(value)?;
        let content = tokio::fs::read_to_string(&path).await.map_err(|error| {
            RuntimeError::Create(format!("cannot read environment file {}: {error}", path.display()))
        })?;
        for (name, value) in parse(&content) {
            if !variables.iter().any(|(known, _)| *known == name) {
                variables.push((name, value));
            }
        }
    }
    Ok(variables)
}

/// The host path an environment file's `value` names.
fn local_path(value: &str) -> Result<PathBuf, RuntimeError> {
    let path = value.strip_prefix("file://").unwrap_or(value);
    if path.starts_with('/') {
        return Ok(PathBuf::from(path));
    }
    let reason = if value.starts_with("arn:") {
        "Amazon S3 cannot be reached from this runtime"
    } else {
        "it is not an absolute local path"
    };
    Err(RuntimeError::Create(format!(
        "environment file {value:?} cannot be read: {reason}; give a file on the host as file:///path or /path"
    )))
}

/// The variables of one file: lines `NAME=VALUE`; comments, blank lines, lines without `=` and
/// lines whose name is empty or has whitespace (no variable can be named so) are skipped.
fn parse(content: &str) -> Vec<(String, String)> {
    content
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .filter(|(name, _)| !name.is_empty() && !name.contains(char::is_whitespace))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_name_value_with_comments_and_blanks_skipped() {
        let content = "# settings\nA=1\n\n  B=two words \nC=x=y\nnot a variable\n=nameless\nE F=1\nD=\n";
        let parsed = parse(content);
        let expected = [("A", "1"), ("B", "two words"), ("C", "x=y"), ("D", "")];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        assert_eq!(parsed, expected);
    }

    #[test]
    fn only_absolute_local_paths_are_readable() {
        assert_eq!(local_path("file:///etc/app.env").ok(), Some(PathBuf::from("/etc/app.env")));
        assert_eq!(local_path("/etc/app.env").ok(), Some(PathBuf::from("/etc/app.env")));
        let s3 = local_path("arn:aws:s3:::bucket/app.env").expect_err("s3 is refused");
        assert!(s3.to_string().contains("Amazon S3"), "{s3}");
        let relative = local_path("app.env").expect_err("relative is refused");
        assert!(relative.to_string().contains("absolute"), "{relative}");
    }
}
