//! The timer task: sleeps on tokio's clock until the deadline the driver last set (the module's
//! earliest timer), then tells the driver to drive. One deadline at a time: a new one replaces
//! the one being slept on, earlier or later, since the module always names its earliest.

use crate::driver::Msg;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};

/// Runs until the driver drops its end of `deadline` or every handle to it is gone.
pub(crate) async fn run(
    mut deadline: watch::Receiver<Option<Instant>>,
    tx: mpsc::WeakUnboundedSender<Msg>,
) {
    loop {
        let next = *deadline.borrow_and_update();
        match next {
            None => {
                if deadline.changed().await.is_err() {
                    return;
                }
            }
            Some(at) => {
                tokio::select! {
                    () = sleep_until(at) => {
                        let Some(tx) = tx.upgrade() else { return };
                        if tx.send(Msg::Timer).is_err() {
                            return;
                        }
                        drop(tx);
                        // The driver answers every expiry with the next deadline (or none).
                        if deadline.changed().await.is_err() {
                            return;
                        }
                    }
                    changed = deadline.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}
