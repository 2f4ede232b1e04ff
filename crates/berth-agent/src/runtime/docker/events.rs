//! The Engine's event stream, narrowed to what the task engine acts on: deaths and health
//! changes of containers that carry the task label.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptionsBuilder;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::runtime::{ContainerEvent, labels};

/// Container deaths and health changes of managed containers, from the moment of this call. The
/// request is sent when the stream is first polled, so it asks for events `since` now: the
/// engine replays what happened in between (from its buffer of recent events). The stream ends
/// at the first error (the engine went away or restarted): the caller re-subscribes and
/// re-inspects, since events in between are lost.
pub(super) fn stream(docker: &Docker) -> BoxStream<'static, ContainerEvent> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let since = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("label".to_string(), vec![labels::TASK_ARN.to_string()]),
        // The daemon matches `health_status` against `health_status: healthy` and the like.
        ("event".to_string(), vec!["die".to_string(), "health_status".to_string()]),
    ]);
    let options = EventsOptionsBuilder::new().since(&since).filters(&filters).build();
    docker
        .events(Some(options))
        .take_while(|message| {
            if let Err(error) = message {
                tracing::warn!(%error, "the Docker event stream ended");
            }
            futures::future::ready(message.is_ok())
        })
        .filter_map(|message| futures::future::ready(message.ok().and_then(container_event)))
        .boxed()
}

/// The event a Docker message stands for, if it is one the task engine cares about.
fn container_event(message: EventMessage) -> Option<ContainerEvent> {
    let id = message.actor?.id?;
    let action = message.action?;
    match action.split_once(':') {
        None if action == "die" => Some(ContainerEvent::Died { id }),
        Some(("health_status", status)) => {
            let status = match status.trim() {
                "healthy" => "HEALTHY",
                "unhealthy" => "UNHEALTHY",
                _ => return None,
            };
            Some(ContainerEvent::Health { id, status: status.to_string() })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::EventActor;

    use super::*;

    fn message(action: &str) -> EventMessage {
        EventMessage {
            action: Some(action.into()),
            actor: Some(EventActor { id: Some("c1".into()), ..EventActor::default() }),
            ..EventMessage::default()
        }
    }

    #[test]
    fn deaths_and_health_changes_are_events_and_the_rest_is_not() {
        assert_eq!(container_event(message("die")), Some(ContainerEvent::Died { id: "c1".into() }));
        assert_eq!(
            container_event(message("health_status: healthy")),
            Some(ContainerEvent::Health { id: "c1".into(), status: "HEALTHY".into() })
        );
        assert_eq!(
            container_event(message("health_status: unhealthy")),
            Some(ContainerEvent::Health { id: "c1".into(), status: "UNHEALTHY".into() })
        );
        assert_eq!(container_event(message("health_status: starting")), None);
        assert_eq!(container_event(message("start")), None);
        assert_eq!(container_event(message("exec_start: sh")), None);
    }
}
