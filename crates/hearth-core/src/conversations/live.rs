//! Generations in progress, in memory: for each assistant message being
//! generated, the events so far (so a client that re-attaches gets the answer
//! from the start) and its cancel switch.
//!
//! The generation task is the only writer of an entry; any number of readers
//! follow it. Events are appended to a vector and a `watch` counter announces
//! each append, so readers never miss or repeat an event and never lag. An entry
//! is removed after its final state is persisted: a reader that finds no entry
//! reads the message from storage instead.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures::Stream;
use tokio::sync::watch;

use super::model::{Message, MessageId};

/// One event of a generation, as readers see it.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// More text.
    Delta(String),
    /// The end: the message as persisted (status, usage, error). Nothing follows.
    End(Box<Message>),
}

/// A stream of live events ending with [`LiveEvent::End`] (or with nothing if
/// the generation task vanished).
pub type LiveStream = Pin<Box<dyn Stream<Item = LiveEvent> + Send + 'static>>;

/// The state of one generation in progress.
#[derive(Debug)]
pub struct LiveEntry {
    events: Mutex<Vec<LiveEvent>>,
    appended: watch::Sender<usize>,
    cancel: watch::Sender<bool>,
}

impl LiveEntry {
    fn new() -> Self {
        LiveEntry {
            events: Mutex::new(Vec::new()),
            appended: watch::Sender::new(0),
            cancel: watch::Sender::new(false),
        }
    }

    /// Append an event and wake the readers.
    pub fn push(&self, event: LiveEvent) {
        let len = {
            let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
            events.push(event);
            events.len()
        };
        self.appended.send_replace(len);
    }

    /// Ask the generation to stop (idempotent).
    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }

    /// Resolves once cancellation was asked.
    pub async fn cancelled(&self) {
        let mut rx = self.cancel.subscribe();
        // The sender lives as long as `self`, so this only ends on `true`.
        let _ = rx.wait_for(|is_cancelled| *is_cancelled).await;
    }

    /// Every event from the first, then the new ones as they come, until the end.
    pub fn follow(self: &Arc<Self>) -> LiveStream {
        let rx = self.appended.subscribe();
        let state = (self.clone(), rx, 0usize, false);
        Box::pin(futures::stream::unfold(
            state,
            |(entry, mut rx, next, ended)| async move {
                if ended {
                    return None;
                }
                loop {
                    let event = {
                        let events = entry.events.lock().unwrap_or_else(|e| e.into_inner());
                        events.get(next).cloned()
                    };
                    if let Some(event) = event {
                        let is_end = matches!(event, LiveEvent::End(_));
                        return Some((event, (entry, rx, next + 1, is_end)));
                    }
                    if rx.changed().await.is_err() {
                        return None;
                    }
                }
            },
        ))
    }
}

/// The registry of generations in progress on this process.
#[derive(Debug, Default)]
pub struct LiveRegistry {
    entries: Mutex<HashMap<MessageId, Arc<LiveEntry>>>,
}

impl LiveRegistry {
    /// Register a generation for this message.
    pub fn start(&self, id: &MessageId) -> Arc<LiveEntry> {
        let entry = Arc::new(LiveEntry::new());
        self.lock().insert(id.clone(), entry.clone());
        entry
    }

    /// The generation of this message, if it runs here.
    pub fn get(&self, id: &MessageId) -> Option<Arc<LiveEntry>> {
        self.lock().get(id).cloned()
    }

    /// Forget a finished generation.
    pub fn remove(&self, id: &MessageId) {
        self.lock().remove(id);
    }

    /// How many generations run now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MessageId, Arc<LiveEntry>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversations::model::{ConversationId, Role};
    use futures::StreamExt;

    fn end() -> LiveEvent {
        let conv = ConversationId::new();
        LiveEvent::End(Box::new(Message::new(
            &conv,
            None,
            Role::Assistant,
            "ab",
            0,
        )))
    }

    #[tokio::test]
    async fn late_reader_gets_everything_from_the_start() {
        let registry = LiveRegistry::default();
        let id = MessageId::new();
        let entry = registry.start(&id);
        entry.push(LiveEvent::Delta("a".into()));
        let early = entry.follow();
        entry.push(LiveEvent::Delta("b".into()));
        let late = registry.get(&id).unwrap().follow();
        let writer = {
            let entry = entry.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                entry.push(end());
            })
        };
        let (early, late) = tokio::join!(early.collect::<Vec<_>>(), late.collect::<Vec<_>>());
        writer.await.unwrap();
        assert_eq!(early.len(), 3);
        assert_eq!(early, late);
        registry.remove(&id);
        assert!(registry.is_empty());
    }

    #[tokio::test]
    async fn cancel_wakes_the_waiter_even_if_asked_first() {
        let entry = Arc::new(LiveEntry::new());
        entry.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(1), entry.cancelled())
            .await
            .unwrap();
    }
}
