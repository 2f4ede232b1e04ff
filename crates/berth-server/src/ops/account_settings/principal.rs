//! The principal an account-setting request acts for.
//!
//! `principalArn` may name the root user (`arn:aws:iam::ACCOUNT:root`), a user
//! (`...:user/PATH/NAME`) or a role (`...:role/PATH/NAME`) of the request's own account. Federated
//! sessions (`arn:aws:sts::...`) cannot hold settings of their own in ECS, so they are refused with
//! the rest. Without `principalArn` the request acts for the caller.

use berth_api::EcsError;

use crate::Ctx;

/// The principal `given` names (checked), or the caller when it is absent.
pub(super) fn resolve(ctx: &Ctx, given: Option<&String>) -> Result<String, EcsError> {
    match given {
        None => Ok(ctx.caller_principal()),
        Some(arn) => {
            check(ctx, arn)?;
            Ok(arn.clone())
        }
    }
}

/// The root user of the request's account, whose settings are the account's defaults.
pub(super) fn root(ctx: &Ctx) -> String {
    format!("arn:aws:iam::{}:root", ctx.scope.account)
}

fn check(ctx: &Ctx, arn: &str) -> Result<(), EcsError> {
    let invalid = || {
        EcsError::invalid_parameter(format!(
            "principalArn '{arn}' is not the ARN of an IAM user, an IAM role or the root user (arn:aws:iam::ACCOUNT:root|user/NAME|role/NAME)."
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(invalid());
    };
    if *prefix != "arn"
        || *partition != "aws"
        || *service != "iam"
        || !region.is_empty()
        || !is_identity(resource)
    {
        return Err(invalid());
    }
    if *account != ctx.scope.account {
        return Err(EcsError::invalid_parameter(format!(
            "principalArn '{arn}' belongs to account {account}, not to this account ({}).",
            ctx.scope.account
        )));
    }
    Ok(())
}

/// Whether an IAM resource is `root`, or `user/...`/`role/...` with a valid path and name. IAM
/// names use letters, digits and `+=,.@_-`; paths add `/`. Nothing else is let through, which also
/// keeps the `|` the setting keys use as a separator out of principals.
fn is_identity(resource: &str) -> bool {
    if resource == "root" {
        return true;
    }
    let Some(rest) = resource.strip_prefix("user/").or_else(|| resource.strip_prefix("role/")) else {
        return false;
    };
    let name = rest.rsplit('/').next().unwrap_or_default();
    !name.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        for good in ["root", "user/alice", "role/path/to/deployer", "user/a+b=c,d.e@f_g-h"] {
            assert!(is_identity(good), "{good}");
        }
        for bad in ["", "user/", "role/path/", "group/devs", "assumed-role/r/s|x", "user/a|b", "rooted"] {
            assert!(!is_identity(bad), "{bad}");
        }
    }
}
