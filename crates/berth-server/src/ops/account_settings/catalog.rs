//! What each account setting accepts, who may hold a value of it, and ECS's default.
//!
//! Values and defaults follow the API reference and the developer guide ("Access Amazon ECS
//! features with account settings"): the long ARN formats are on and new accounts can no longer
//! turn them off; trunking, Container Insights, FIPS mode and event windows start off; tagging
//! authorization starts on; Fargate waits 7 days before retiring a task; the default log driver
//! mode is non-blocking since June 2025; and `guardDutyActivate` is GuardDuty's to set, not the
//! caller's.

use berth_api::EcsError;
use berth_api::model::enums;

/// Who may hold a value of a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holder {
    /// Any user or role, or the root user (whose value is the account default).
    Anyone,
    /// Only the account as a whole: ECS sets these with the root user or PutAccountSettingDefault.
    AccountOnly,
    /// Nobody: AWS manages the value and reports it as `aws_managed`.
    Aws,
}

/// One account setting.
#[derive(Debug, Clone, Copy)]
pub(super) struct Spec {
    /// The setting's name, as in `SettingName`.
    pub name: &'static str,
    /// The values a caller may set.
    pub accepts: &'static [&'static str],
    /// Values the setting is known to take that a caller may no longer set, with ECS's refusal.
    pub retired: Option<(&'static [&'static str], &'static str)>,
    /// The value in effect when neither the principal nor the account set one.
    pub aws_default: &'static str,
    /// Who may hold a value.
    pub holder: Holder,
}

const ON_OFF_SWITCH: &[&str] = &["enabled", "disabled"];
const LONG_ARN_RETIRED: (&[&str], &str) = (&["disabled"], "You can no longer disable Long Arn settings.");

fn switch(name: &'static str, aws_default: &'static str) -> Spec {
    Spec { name, accepts: ON_OFF_SWITCH, retired: None, aws_default, holder: Holder::Anyone }
}

fn long_arn(name: &'static str) -> Spec {
    Spec {
        name,
        accepts: &["enabled"],
        retired: Some(LONG_ARN_RETIRED),
        aws_default: "enabled",
        holder: Holder::Anyone,
    }
}

/// The spec of a setting name, if it is one.
fn lookup(name: &str) -> Option<Spec> {
    let spec = match name {
        "serviceLongArnFormat" => long_arn("serviceLongArnFormat"),
        "taskLongArnFormat" => long_arn("taskLongArnFormat"),
        "containerInstanceLongArnFormat" => long_arn("containerInstanceLongArnFormat"),
        "awsvpcTrunking" => switch("awsvpcTrunking", "disabled"),
        "containerInsights" => {
            Spec { accepts: &["enabled", "disabled", "enhanced"], ..switch("containerInsights", "disabled") }
        }
        "fargateFIPSMode" => Spec { holder: Holder::AccountOnly, ..switch("fargateFIPSMode", "disabled") },
        "tagResourceAuthorization" => {
            Spec { accepts: &["on", "off"], ..switch("tagResourceAuthorization", "on") }
        }
        "fargateTaskRetirementWaitPeriod" => Spec {
            accepts: &["0", "7", "14"],
            holder: Holder::AccountOnly,
            ..switch("fargateTaskRetirementWaitPeriod", "7")
        },
        "guardDutyActivate" => {
            Spec { accepts: &[], holder: Holder::Aws, ..switch("guardDutyActivate", "off") }
        }
        "defaultLogDriverMode" => {
            Spec { accepts: &["blocking", "non-blocking"], ..switch("defaultLogDriverMode", "non-blocking") }
        }
        "fargateEventWindows" => switch("fargateEventWindows", "disabled"),
        _ => return None,
    };
    Some(spec)
}

/// The spec of a setting the service model knows, or `None`.
pub(super) fn known(name: &str) -> Option<Spec> {
    enums::SETTING_NAME.contains(&name).then(|| lookup(name)).flatten()
}

/// The spec of a named setting, or the `InvalidParameterException` for a name that is none.
pub(super) fn find(name: &str) -> Result<Spec, EcsError> {
    known(name).ok_or_else(|| {
        EcsError::invalid_parameter(format!(
            "'{name}' is not an account setting name; valid names are {}.",
            enums::SETTING_NAME.join(", ")
        ))
    })
}

/// Every setting, in the service model's order: the order of effective-settings listings.
pub(super) fn all() -> impl Iterator<Item = Spec> {
    enums::SETTING_NAME.iter().filter_map(|name| lookup(name))
}

impl Spec {
    /// The `type` ECS reports for the setting.
    pub fn setting_type(&self) -> &'static str {
        if self.holder == Holder::Aws { "aws_managed" } else { "user" }
    }

    /// Checks that callers may change the setting at all: AWS-managed ones are read-only.
    pub fn check_writable(&self) -> Result<(), EcsError> {
        if self.holder == Holder::Aws {
            return Err(self.read_only());
        }
        Ok(())
    }

    /// Checks that a caller may set `value`.
    pub fn check_value(&self, value: &str) -> Result<(), EcsError> {
        self.check_writable()?;
        if self.accepts.contains(&value) {
            return Ok(());
        }
        if let Some((values, refusal)) = self.retired
            && values.contains(&value)
        {
            return Err(EcsError::invalid_parameter(refusal));
        }
        Err(EcsError::invalid_parameter(format!(
            "'{value}' is not a valid value for {}; valid values are {}.",
            self.name,
            self.accepts.join(", ")
        )))
    }

    /// Checks that a value of the setting may be held by a principal (`root`: the root user, whose
    /// value is the account's default) or removed from it.
    pub fn check_holder(&self, root: bool) -> Result<(), EcsError> {
        match self.holder {
            Holder::Anyone => Ok(()),
            Holder::AccountOnly if root => Ok(()),
            Holder::AccountOnly => Err(EcsError::invalid_parameter(format!(
                "{} can only be set for the whole account: use PutAccountSettingDefault, or the root user as principalArn.",
                self.name
            ))),
            Holder::Aws => Err(self.read_only()),
        }
    }

    fn read_only(&self) -> EcsError {
        EcsError::invalid_parameter(format!(
            "{} is managed by AWS and read-only; GuardDuty Runtime Monitoring sets it.",
            self.name
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_modeled_setting_has_a_spec_with_an_acceptable_default() {
        assert_eq!(all().count(), enums::SETTING_NAME.len());
        for spec in all() {
            if spec.holder != Holder::Aws {
                assert!(spec.accepts.contains(&spec.aws_default), "{}", spec.name);
            }
        }
    }

    #[test]
    fn values_are_checked_per_setting() {
        let insights = find("containerInsights").expect("a setting");
        assert!(insights.check_value("enhanced").is_ok());
        assert!(insights.check_value("on").is_err());
        assert!(find("fargateTaskRetirementWaitPeriod").expect("a setting").check_value("3").is_err());
        assert!(find("taskLongArnFormat").expect("a setting").check_value("disabled").is_err());
        assert!(find("guardDutyActivate").expect("a setting").check_value("on").is_err());
        assert!(find("dualStackIPv6").is_err());
    }
}
