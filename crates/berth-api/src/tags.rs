//! Resource tags and the limits ECS puts on them.
//!
//! At most 50 tags a resource; keys of 1 to 128 characters and values of up to 256; letters,
//! numbers, spaces and `+ - = . _ : / @`; and the `aws:` prefix, in any case, reserved for AWS on
//! both keys and values. Violations are `InvalidParameterException`s and change nothing.

use crate::EcsError;
use crate::model::Tag;

/// The most tags one resource may carry.
pub const MAX_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

fn allowed_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c)
}

fn reserved(text: &str) -> bool {
    // `get` rather than slicing: the text may start with a multi-byte character.
    text.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws:"))
}

/// Checks one tag key.
pub fn check_key(key: &str) -> Result<(), EcsError> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS {
        return Err(EcsError::invalid_parameter(format!(
            "Tag key must be 1 to {MAX_KEY_CHARS} characters; got {chars}."
        )));
    }
    if !key.chars().all(allowed_char) {
        return Err(EcsError::invalid_parameter(format!(
            "Tag key '{key}' has characters that are not allowed: use letters, numbers, spaces and + - = . _ : / @."
        )));
    }
    if reserved(key) {
        return Err(EcsError::invalid_parameter(format!("Tag key '{key}' uses the reserved prefix 'aws:'.")));
    }
    Ok(())
}

/// Checks one tag value.
pub fn check_value(value: &str) -> Result<(), EcsError> {
    let chars = value.chars().count();
    if chars > MAX_VALUE_CHARS {
        return Err(EcsError::invalid_parameter(format!(
            "Tag value must be at most {MAX_VALUE_CHARS} characters; got {chars}."
        )));
    }
    if !value.chars().all(allowed_char) {
        return Err(EcsError::invalid_parameter(format!(
            "Tag value '{value}' has characters that are not allowed: use letters, numbers, spaces and + - = . _ : / @."
        )));
    }
    if reserved(value) {
        return Err(EcsError::invalid_parameter(format!(
            "Tag value '{value}' uses the reserved prefix 'aws:'."
        )));
    }
    Ok(())
}

/// Checks a list of tags as given in a request, including duplicate keys within it.
pub fn check_tags(tags: &[Tag]) -> Result<(), EcsError> {
    if tags.len() > MAX_TAGS {
        return Err(EcsError::invalid_parameter(format!(
            "A resource can have at most {MAX_TAGS} tags; {} were given.",
            tags.len()
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for tag in tags {
        let key = tag.key.as_deref().unwrap_or("");
        check_key(key)?;
        check_value(tag.value.as_deref().unwrap_or(""))?;
        if !seen.insert(key) {
            return Err(EcsError::invalid_parameter(format!("Tag key '{key}' is given more than once.")));
        }
    }
    Ok(())
}

/// Merges `new` into `existing` (a new value replaces an old one for the same key) and checks the
/// 50-tag limit of the result.
pub fn merge(existing: &[Tag], new: &[Tag]) -> Result<Vec<Tag>, EcsError> {
    check_tags(new)?;
    let mut merged: Vec<Tag> = existing.to_vec();
    for tag in new {
        match merged.iter_mut().find(|old| old.key == tag.key) {
            Some(old) => old.value = tag.value.clone(),
            None => merged.push(tag.clone()),
        }
    }
    if merged.len() > MAX_TAGS {
        return Err(EcsError::invalid_parameter(format!(
            "A resource can have at most {MAX_TAGS} tags; this would give it {}.",
            merged.len()
        )));
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str) -> Tag {
        Tag { key: Some(key.into()), value: Some(value.into()) }
    }

    #[test]
    fn accepts_ordinary_tags() {
        assert!(check_tags(&[tag("team", "platform"), tag("cost-center:id", "a/b@c+d=e_f.g")]).is_ok());
        assert!(check_tags(&[tag("ünïcode", "値")]).is_ok());
    }

    #[test]
    fn rejects_what_ecs_rejects() {
        assert!(check_tags(&[tag("", "v")]).is_err());
        assert!(check_tags(&[tag(&"k".repeat(129), "v")]).is_err());
        assert!(check_tags(&[tag("k", &"v".repeat(257))]).is_err());
        assert!(check_tags(&[tag("AWS:thing", "v")]).is_err());
        assert!(check_tags(&[tag("k", "aws:v")]).is_err());
        assert!(check_tags(&[tag("semi;colon", "v")]).is_err());
        assert!(check_tags(&[tag("k", "v"), tag("k", "w")]).is_err());
        let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert!(check_tags(&many).is_err());
    }

    proptest::proptest! {
        #[test]
        fn checking_never_panics(key in ".*", value in ".*") {
            let _ = check_tags(&[tag(&key, &value)]);
        }
    }

    #[test]
    fn merge_replaces_values_and_enforces_the_limit() {
        let merged = merge(&[tag("a", "1")], &[tag("a", "2"), tag("b", "3")]).expect("fits");
        assert_eq!(merged, vec![tag("a", "2"), tag("b", "3")]);
        let fifty: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert!(merge(&fifty, &[tag("one-more", "v")]).is_err());
        assert!(merge(&fifty, &[tag("k0", "changed")]).is_ok());
    }
}
