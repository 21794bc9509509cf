//! The loop shared by the clients that take every new checkpoint outside the host (witnesses,
//! time-stamping authorities): wait for the newest checkpoint on the writer's `watch` channel,
//! hand it over, and when the other side did not answer, try again with backoff. Only the newest
//! checkpoint matters: one signed while a call is under way replaces the one before it.

use super::SignedCheckpoint;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Retry delays for a peer that did not answer: doubling from the first to the last.
pub(crate) const RETRY_FIRST: Duration = Duration::from_millis(500);
pub(crate) const RETRY_LAST: Duration = Duration::from_secs(30);

/// What to do after handing over a checkpoint.
pub(crate) enum Next {
    /// Nothing until the next checkpoint.
    Idle,
    /// Not answered: again after the backoff delay, or at the next checkpoint.
    Retry,
    /// Again at this instant (or at the next checkpoint, whichever comes first).
    At(Instant),
}

/// One client of the checkpoint stream.
pub(crate) trait Follower {
    /// Act on the newest checkpoint (possibly one already seen: after a retry or a wait).
    fn on_checkpoint(&mut self, cp: &SignedCheckpoint) -> impl Future<Output = Next> + Send;

    /// Resolves when the follower should look at the newest checkpoint again although none is
    /// new and no wait is over (never, unless the follower says otherwise).
    fn woken(&mut self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

/// Feed `f` every new checkpoint until the writer is gone.
pub(crate) async fn follow(mut latest: watch::Receiver<Option<SignedCheckpoint>>, mut f: impl Follower) {
    let mut delay = RETRY_FIRST;
    loop {
        let newest = latest.borrow_and_update().clone();
        let next = match newest {
            Some(cp) => f.on_checkpoint(&cp).await,
            None => Next::Idle,
        };
        let wake = match next {
            Next::Idle => None,
            Next::Retry => Some(Instant::now() + delay),
            Next::At(at) => Some(at),
        };
        delay = match next {
            Next::Retry => (delay * 2).min(RETRY_LAST),
            _ => RETRY_FIRST,
        };
        let until = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let changed = tokio::select! {
            changed = latest.changed() => changed,
            _ = until => Ok(()),
            _ = f.woken() => Ok(()),
        };
        if changed.is_err() {
            return;
        }
    }
}
