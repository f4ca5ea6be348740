//! One choice's backend stream turned into [`ChatEvent`]s: echo first, text
//! through the tool-call splitter when tools are in play, one `Finish` last. A
//! backend stream that ends without `Done` is reported as a failure.

use std::collections::VecDeque;

use futures::StreamExt;

use super::tools::ToolCallSplitter;
use super::{ChatEvent, ChatFinish};
use crate::backend::{BackendError, FinishReason, GenerationEvent, GenerationStream};

/// How one choice is read.
pub(super) struct ChoiceSetup {
    /// Choice index in the response.
    pub index: u32,
    /// Present when tool calls are recognised.
    pub splitter: Option<ToolCallSplitter>,
    /// Text sent before the generation (completion `echo`).
    pub echo: Option<String>,
    /// Whether its prompt counts in the usage.
    pub counts_prompt: bool,
}

struct State {
    inner: GenerationStream,
    setup: ChoiceSetup,
    pending: VecDeque<Result<ChatEvent, BackendError>>,
    is_done: bool,
}

type Item = Result<ChatEvent, BackendError>;

/// The events of one choice.
pub(super) fn choice(
    inner: GenerationStream,
    mut setup: ChoiceSetup,
) -> std::pin::Pin<Box<dyn futures::Stream<Item = Item> + Send>> {
    let mut pending = VecDeque::new();
    if let Some(text) = setup.echo.take() {
        pending.push_back(Ok(ChatEvent::Text {
            choice: setup.index,
            text,
            logprobs: Vec::new(),
        }));
    }
    let state = State {
        inner,
        setup,
        pending,
        is_done: false,
    };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                return Some((item, st));
            }
            if st.is_done {
                return None;
            }
            match st.inner.next().await {
                Some(Ok(GenerationEvent::Delta { text, logprobs })) => st.on_delta(text, logprobs),
                Some(Ok(GenerationEvent::Done {
                    finish_reason,
                    stats,
                })) => st.on_done(finish_reason, stats),
                Some(Err(err)) => {
                    st.is_done = true;
                    st.pending.push_back(Err(err));
                }
                None => {
                    st.is_done = true;
                    st.pending.push_back(Err(BackendError::Failed(
                        "the generation stream ended without a final event".to_owned(),
                    )));
                }
            }
        }
    }))
}

impl State {
    fn on_delta(&mut self, text: String, logprobs: Vec<crate::backend::TokenLogprob>) {
        let text = match &mut self.setup.splitter {
            Some(splitter) => splitter.push(&text),
            None => text,
        };
        if !text.is_empty() || !logprobs.is_empty() {
            self.pending.push_back(Ok(ChatEvent::Text {
                choice: self.setup.index,
                text,
                logprobs,
            }));
        }
    }

    fn on_done(&mut self, reason: FinishReason, stats: crate::backend::GenerationStats) {
        let choice = self.setup.index;
        let mut finish = match reason {
            FinishReason::Length => ChatFinish::Length,
            FinishReason::Stop | FinishReason::Cancelled => ChatFinish::Stop,
        };
        if let Some(splitter) = self.setup.splitter.take() {
            let (rest, calls) = splitter.finish();
            if !rest.is_empty() {
                self.pending.push_back(Ok(ChatEvent::Text {
                    choice,
                    text: rest,
                    logprobs: Vec::new(),
                }));
            }
            if !calls.is_empty() {
                finish = ChatFinish::ToolCalls;
            }
            for (index, call) in calls.into_iter().enumerate() {
                self.pending.push_back(Ok(ChatEvent::ToolCall {
                    choice,
                    index: index as u32,
                    call,
                }));
            }
        }
        self.pending.push_back(Ok(ChatEvent::Finish {
            choice,
            reason: finish,
            stats,
            counts_prompt: self.setup.counts_prompt,
        }));
        self.is_done = true;
    }
}
