//! Pagination as ECS does it: `maxResults` bounds and an opaque `nextToken`.
//!
//! A token carries the listing it belongs to and the last key the previous page returned, so that
//! the next page starts right after it whatever was written in between (a stable order by key).
//! Tokens are checksummed: a token that is not ours, was altered, or belongs to another listing is
//! an `InvalidParameterException`, as ECS reports it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::EcsError;

#[derive(Serialize, Deserialize)]
struct TokenBody {
    /// The listing the token continues, e.g. `ListClusters`.
    l: String,
    /// The key after which the next page starts.
    a: String,
}

/// Makes the `nextToken` that continues `listing` after `last_key`.
pub fn encode_token(listing: &str, last_key: &str) -> String {
    let body = serde_json::to_vec(&TokenBody { l: listing.to_string(), a: last_key.to_string() })
        .expect("a struct of two strings always serializes");
    let mut bytes = checksum(&body).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a `nextToken` for `listing`, returning the key after which the page starts.
pub fn decode_token(listing: &str, token: &str) -> Result<String, EcsError> {
    let invalid =
        || EcsError::invalid_parameter("Invalid nextToken: the token is not one this listing returned.");
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| invalid())?;
    if bytes.len() < 8 {
        return Err(invalid());
    }
    let (sum, body) = bytes.split_at(8);
    if sum != checksum(body).to_be_bytes() {
        return Err(invalid());
    }
    let body: TokenBody = serde_json::from_slice(body).map_err(|_| invalid())?;
    if body.l != listing {
        return Err(invalid());
    }
    Ok(body.a)
}

/// Resolves `maxResults` against an operation's default and upper bound.
///
/// ECS rejects values outside `1..=max` with `InvalidParameterException`.
pub fn page_size(max_results: Option<i32>, default: usize, max: usize) -> Result<usize, EcsError> {
    match max_results {
        None => Ok(default),
        Some(n) if n >= 1 && (n as usize) <= max => Ok(n as usize),
        Some(n) => {
            Err(EcsError::invalid_parameter(format!("maxResults must be between 1 and {max}; got {n}.")))
        }
    }
}

/// FNV-1a over the body, salted so that a token of another program does not pass by chance.
fn checksum(body: &[u8]) -> u64 {
    const SALT: &[u8] = b"berth-pagination-v1";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in SALT.iter().chain(body) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_within_its_listing_only() {
        let token = encode_token("ListClusters", "/us-east-1/1/clusters/b");
        assert_eq!(decode_token("ListClusters", &token).as_deref(), Ok("/us-east-1/1/clusters/b"));
        assert!(decode_token("ListTaskDefinitions", &token).is_err());
    }

    #[test]
    fn foreign_and_altered_tokens_are_invalid_parameters() {
        let token = encode_token("ListClusters", "k");
        let mut altered = token.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        for bad in ["", "not-a-token", "AAAAAAAAAAAAAAAAAAAA", &String::from_utf8(altered).expect("ascii")] {
            let err = decode_token("ListClusters", bad).expect_err(bad);
            assert_eq!(err.code, crate::ErrorCode::InvalidParameterException);
        }
    }

    #[test]
    fn page_size_bounds() {
        assert_eq!(page_size(None, 100, 100), Ok(100));
        assert_eq!(page_size(Some(5), 100, 100), Ok(5));
        assert!(page_size(Some(0), 100, 100).is_err());
        assert!(page_size(Some(101), 100, 100).is_err());
    }

    proptest! {
        #[test]
        fn decoding_never_panics(token in ".*") {
            let _ = decode_token("ListClusters", &token);
        }

        #[test]
        fn any_key_round_trips(key in ".*") {
            prop_assert_eq!(decode_token("L", &encode_token("L", &key)), Ok(key));
        }
    }
}
