//! Reading the SigV4 `Authorization` header: which region and access key a request claims.
//!
//! AWS clients sign every request with a credential scope `KEY/DATE/REGION/SERVICE/aws4_request`.
//! Berth routes a request to the region of that scope, so that one endpoint serves every region
//! as AWS does with one endpoint per region. The signature itself is not verified here: that is the
//! security layer's job.

/// What a SigV4 `Authorization` header claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// The access key id.
    pub access_key: String,
    /// The date stamp, `YYYYMMDD`.
    pub date: String,
    /// The region the request was signed for.
    pub region: String,
    /// The service the request was signed for (`ecs`).
    pub service: String,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/ecs/aws4_request, ...`.
///
/// Returns `None` for any other shape: such a request is served in the server's default region.
pub fn parse_authorization(header: &str) -> Option<CredentialScope> {
    let rest = header.trim_start().strip_prefix("AWS4-HMAC-SHA256")?;
    let credential = rest.split(',').map(str::trim).find_map(|part| part.strip_prefix("Credential="))?;
    let mut fields = credential.split('/');
    let access_key = fields.next()?.to_string();
    let date = fields.next()?.to_string();
    let region = fields.next()?.to_string();
    let service = fields.next()?.to_string();
    if fields.next()? != "aws4_request" || !is_region_name(&region) {
        return None;
    }
    Some(CredentialScope { access_key, date, region, service })
}

/// Region names are lowercase letters, digits and dashes (`us-east-1`, `eu-central-2`).
fn is_region_name(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 32
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_the_region_of_an_sdk_header() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/ap-south-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        let scope = parse_authorization(header).expect("sdk header parses");
        assert_eq!(scope.region, "ap-south-1");
        assert_eq!(scope.access_key, "AKIDEXAMPLE");
        assert_eq!(scope.service, "ecs");
    }

    #[test]
    fn other_shapes_fall_back_to_none() {
        assert_eq!(parse_authorization("Basic abc"), None);
        assert_eq!(parse_authorization("AWS4-HMAC-SHA256 Credential=a/b/c"), None);
        assert_eq!(parse_authorization("AWS4-HMAC-SHA256 Credential=a/d/../ecs/aws4_request"), None);
    }

    proptest! {
        #[test]
        fn never_panics(header in ".*") {
            let _ = parse_authorization(&header);
        }
    }
}
