//! What the controller remembers about a service between passes, stored in its record.

use serde::{Deserialize, Serialize};

/// The controller's memory of one service: only what cannot be read again from the tasks
/// themselves (when events were last written, so they are not repeated every pass).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bookkeeping {
    /// When the service was last found steady (all tasks of one completed deployment running),
    /// or `None` while it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_since: Option<f64>,
    /// When the last "has reached a steady state" event was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_event_at: Option<f64>,
    /// The last placement failure event written, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unplaced: Option<(String, f64)>,
    /// When the "unable to consistently start tasks" event was last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttled_event_at: Option<f64>,
}
