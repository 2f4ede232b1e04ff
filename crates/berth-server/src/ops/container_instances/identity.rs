//! The EC2 instance identity document an agent may send with its registration.
//!
//! The document is JSON from the EC2 metadata service. Berth reads the members that describe the
//! machine (its instance id, zone, type, image and architecture) and turns them into
//! `ec2InstanceId` and ECS's built-in attributes. Its signature is not checked: Berth trusts the
//! agent as it trusts every caller until the security layer authenticates them. The document's
//! `region` is read but not enforced: a Berth region is a partition the caller chooses, not where
//! the machine runs, so an EC2 instance in one region may well join a Berth cluster of another.

use berth_api::EcsError;
use serde_json::{Map, Value};

use crate::ops::attributes;

/// What Berth takes from an identity document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// `instanceId`: the EC2 instance id.
    pub instance_id: Option<String>,
    /// `availabilityZone`.
    pub availability_zone: Option<String>,
    /// `instanceType`.
    pub instance_type: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// `imageId`: the AMI.
    pub image_id: Option<String>,
    /// `architecture`: `x86_64`, `arm64`.
    pub architecture: Option<String>,
}

impl Identity {
    /// The built-in attributes the document gives, by name.
    pub fn attributes(&self) -> Vec<(&'static str, &str)> {
        [
            ("ecs.availability-zone", &self.availability_zone),
            ("ecs.instance-type", &self.instance_type),
            ("ecs.ami-id", &self.image_id),
            ("ecs.cpu-architecture", &self.architecture),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.as_deref()?)))
        .collect()
    }
}

/// Reads an identity document; absent or blank reads as empty. A document that is not a JSON
/// object, or whose members Berth reads are not strings fit for attribute values, is an
/// `InvalidParameterException`.
pub fn parse(document: Option<&str>) -> Result<Identity, EcsError> {
    let Some(text) = document.filter(|d| !d.trim().is_empty()) else {
        return Ok(Identity::default());
    };
    let value: Value = serde_json::from_str(text).map_err(|err| {
        EcsError::invalid_parameter(format!("The instanceIdentityDocument is not valid JSON: {err}."))
    })?;
    let Value::Object(members) = value else {
        return Err(EcsError::invalid_parameter("The instanceIdentityDocument must be a JSON object."));
    };
    Ok(Identity {
        instance_id: member(&members, "instanceId")?,
        availability_zone: member(&members, "availabilityZone")?,
        instance_type: member(&members, "instanceType")?,
        region: member(&members, "region")?,
        image_id: member(&members, "imageId")?,
        architecture: member(&members, "architecture")?,
    })
}

fn member(members: &Map<String, Value>, name: &str) -> Result<Option<String>, EcsError> {
    match members.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            attributes::check_value(name, Some(text)).map_err(|err| {
                EcsError::invalid_parameter(format!("In the instanceIdentityDocument: {}", err.message))
            })?;
            Ok(Some(text.clone()))
        }
        Some(_) => Err(EcsError::invalid_parameter(format!(
            "Member {name} of the instanceIdentityDocument must be a string."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_members_that_describe_the_machine() {
        let identity = parse(Some(
            r#"{"instanceId":"i-0abc","availabilityZone":"us-east-1a","instanceType":"m5.large",
                "region":"us-east-1","imageId":"ami-1234","architecture":"x86_64","pendingTime":"x"}"#,
        ))
        .expect("parses");
        assert_eq!(identity.instance_id.as_deref(), Some("i-0abc"));
        assert_eq!(identity.region.as_deref(), Some("us-east-1"));
        assert_eq!(
            identity.attributes(),
            [
                ("ecs.availability-zone", "us-east-1a"),
                ("ecs.instance-type", "m5.large"),
                ("ecs.ami-id", "ami-1234"),
                ("ecs.cpu-architecture", "x86_64"),
            ]
        );
    }

    #[test]
    fn blank_is_empty_and_malformed_is_refused() {
        assert_eq!(parse(None), Ok(Identity::default()));
        assert_eq!(parse(Some("  ")), Ok(Identity::default()));
        for bad in ["{", "[1]", r#"{"instanceId":5}"#, r#"{"availabilityZone":"a;b"}"#] {
            let err = parse(Some(bad)).expect_err(bad);
            assert_eq!(err.code, berth_api::ErrorCode::InvalidParameterException, "{bad}");
        }
    }
}
