//! Catching up with a store watch without waiting for it: how the state kept in memory beside
//! the store (placement snapshots, task counts) takes in what has changed since it last looked.

use berth_api::EcsError;
use berth_store::{Event, Revision, StoreError, WatchStream};
use futures::FutureExt;

use super::store_error;

/// Why catching up stopped.
pub(crate) enum CatchUp {
    /// The history no longer holds what the follower needs: it has to read in full again.
    Reload,
    /// A record does not decode, or the store failed.
    Failed(EcsError),
}

impl From<EcsError> for CatchUp {
    fn from(err: EcsError) -> Self {
        CatchUp::Failed(err)
    }
}

/// Feeds `apply` every event the stream holds now, without waiting for more; returns the
/// revision through which the stream has seen everything. Polling until the stream is pending
/// with its position unchanged means it has read all the store has published.
pub(crate) fn drain(
    stream: &mut WatchStream,
    mut apply: impl FnMut(Event) -> Result<(), EcsError>,
) -> Result<Revision, CatchUp> {
    let mut last = None;
    loop {
        match stream.next().now_or_never() {
            Some(Some(Ok(event))) => apply(event)?,
            Some(Some(Err(StoreError::Compacted { .. }))) => return Err(CatchUp::Reload),
            Some(Some(Err(err))) => return Err(CatchUp::Failed(store_error(err))),
            Some(None) => return Err(CatchUp::Failed(store_error(StoreError::Closed))),
            None => {
                let seen = stream.seen_through();
                if last == Some(seen) {
                    return Ok(seen);
                }
                last = Some(seen);
            }
        }
    }
}
