//! Placement rules of RunTask: the request's constraints and strategies, the task definition's
//! constraints and required attributes, and the launch type, checked by the placement engine's
//! own validation (so what is accepted is what it can evaluate) and put into its request.

use berth_api::EcsError;
use berth_api::model::{PlacementConstraint, PlacementStrategy, TaskDefinition};
use berth_scheduler::{Request, default_strategies, validate_constraints, validate_strategies};
use uuid::Uuid;

/// The engine's request for a standalone task: `request` with the checked rules in it. Without
/// strategies, RunTask places at random, as ECS does for standalone tasks; each call draws its
/// own seed.
pub fn with_rules(
    mut request: Request,
    constraints: &[PlacementConstraint],
    strategies: &[PlacementStrategy],
    definition: &TaskDefinition,
    launch_type: &str,
) -> Result<Request, EcsError> {
    let inherited = definition.placement_constraints.iter().flatten();
    let pairs = inherited
        .map(|c| (c.r#type.as_deref(), c.expression.as_deref()))
        .chain(constraints.iter().map(|c| (c.r#type.as_deref(), c.expression.as_deref())));
    request.constraints = validate_constraints(pairs).map_err(EcsError::invalid_parameter)?;
    request.strategies = if strategies.is_empty() {
        default_strategies(false)
    } else {
        validate_strategies(strategies.iter().map(|s| (s.r#type.as_deref(), s.field.as_deref())))
            .map_err(EcsError::invalid_parameter)?
    };
    request.seed = Uuid::new_v4().as_u64_pair().0;
    request.launch_type = Some(launch_type.to_string());
    request.required_attributes = definition
        .requires_attributes
        .iter()
        .flatten()
        .filter_map(|attribute| Some((attribute.name.clone()?, attribute.value.clone())))
        .collect();
    Ok(request)
}

#[cfg(test)]
mod tests {
    use berth_api::model::{Attribute, TaskDefinitionPlacementConstraint};
    use berth_scheduler::{Constraint, Strategy};

    use super::*;

    fn constraint(kind: &str, expression: Option<&str>) -> PlacementConstraint {
        PlacementConstraint { r#type: Some(kind.into()), expression: expression.map(Into::into) }
    }

    #[test]
    fn the_definitions_constraints_count_toward_the_limit_of_ten() {
        let definition = TaskDefinition {
            placement_constraints: Some(vec![
                TaskDefinitionPlacementConstraint {
                    r#type: Some("memberOf".into()),
                    expression: Some("agentConnected == true".into()),
                };
                3
            ]),
            requires_attributes: Some(vec![Attribute {
                name: Some("com.amazonaws.ecs.capability.docker-remote-api.1.19".into()),
                ..Attribute::default()
            }]),
            ..TaskDefinition::default()
        };
        let eight = vec![constraint("distinctInstance", None); 8];
        let refused = with_rules(Request::default(), &eight, &[], &definition, "EC2").expect_err("11 in all");
        assert_eq!(refused.code, berth_api::ErrorCode::InvalidParameterException);
        let request =
            with_rules(Request::default(), &eight[..7], &[], &definition, "EC2").expect("10 in all");
        assert_eq!(request.constraints.len(), 10);
        assert!(matches!(request.constraints[0], Constraint::MemberOf(_)));
        assert_eq!(request.strategies, vec![Strategy::Random], "standalone tasks are placed at random");
        assert_eq!(request.launch_type.as_deref(), Some("EC2"));
        assert_eq!(request.required_attributes.len(), 1);
    }

    #[test]
    fn bad_rules_are_invalid_parameters() {
        let none = TaskDefinition::default();
        let bad_expression = [constraint("memberOf", Some("attribute:x =="))];
        assert!(with_rules(Request::default(), &bad_expression, &[], &none, "EC2").is_err());
        let bad_strategy = [PlacementStrategy { r#type: Some("binpack".into()), field: Some("disk".into()) }];
        assert!(with_rules(Request::default(), &[], &bad_strategy, &none, "EC2").is_err());
    }
}
