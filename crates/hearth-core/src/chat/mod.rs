//! The chat service: what every lane's chat and completion handlers call.
//!
//! A lane validates its wire request into a [`ValidChatRequest`] or
//! [`ValidCompletionRequest`] (the `TryFrom` impls in [`openai`], [`ollama`],
//! [`anthropic`]), then [`ChatService`] starts one backend generation per choice
//! (`n` of them for the same prompt; the engine shares the prompt's state through
//! its prefix cache) and merges them into one [`ChatStream`] of [`ChatEvent`]s:
//! text deltas, recognised tool calls and one `Finish` per choice. Non-streaming
//! handlers fold that stream with [`collect`].
//!
//! Dropping a [`ChatStream`] drops every backend stream under it, which cancels
//! the generations (the backend frees the sequences at their next step).

pub mod anthropic;
pub mod ollama;
pub mod openai;
mod stream;
pub mod tools;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};

use crate::backend::{
    BackendError, ChatBackend, ChatMessage, GenerateRequest, GenerationStats, OutputConstraint,
    Principal, Prompt, SamplingParams, TokenLogprob,
};
pub use tools::{ToolCall, ToolChoice, ToolSpec};

/// Most choices (`n`) one request may ask for.
pub const MAX_CHOICES: u32 = 16;

/// A chat request every check has passed.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidChatRequest {
    /// Model name.
    pub model: String,
    /// The conversation, roles normalized to system/user/assistant/tool.
    pub messages: Vec<ChatMessage>,
    /// Tools offered to the model.
    pub tools: Vec<ToolSpec>,
    /// Whether and how the model may call them.
    pub tool_choice: ToolChoice,
    /// Sampling, stop strings and the output constraint (`response_format`).
    pub params: SamplingParams,
    /// Choices to generate, 1 to [`MAX_CHOICES`].
    pub n: u32,
    /// Answer as a stream.
    pub stream: bool,
    /// Streams end with a usage chunk (OpenAI `stream_options.include_usage`).
    pub include_usage: bool,
}

/// A raw-text completion request every check has passed.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCompletionRequest {
    /// Model name.
    pub model: String,
    /// Prompts, each answered `n` times (choice `i*n + j`).
    pub prompts: Vec<String>,
    /// Fill-in-the-middle: each prompt is the text before the gap, this the
    /// text after it.
    pub suffix: Option<String>,
    /// Start each choice's text with its prompt.
    pub echo: bool,
    /// Sampling parameters.
    pub params: SamplingParams,
    /// Choices per prompt.
    pub n: u32,
    /// Answer as a stream.
    pub stream: bool,
    /// Streams end with a usage chunk.
    pub include_usage: bool,
}

/// Why a choice ended, in the service's terms (lanes rename them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatFinish {
    /// End of turn or a stop string.
    Stop,
    /// `max_tokens` or the context end.
    Length,
    /// The answer is tool calls.
    ToolCalls,
}

/// One item of a [`ChatStream`].
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// New text of a choice.
    Text {
        /// Choice index.
        choice: u32,
        /// The text.
        text: String,
        /// Log-probabilities of the tokens behind it, when asked.
        logprobs: Vec<TokenLogprob>,
    },
    /// A complete tool call of a choice (the `index`-th of that choice).
    ToolCall {
        /// Choice index.
        choice: u32,
        /// Position of the call within the choice.
        index: u32,
        /// The call.
        call: ToolCall,
    },
    /// A choice is done; no event of that choice follows.
    Finish {
        /// Choice index.
        choice: u32,
        /// Why.
        reason: ChatFinish,
        /// The generation's figures.
        stats: GenerationStats,
        /// Whether this choice's prompt tokens count in the usage (the first
        /// choice of each distinct prompt).
        counts_prompt: bool,
    },
}

/// Merged events of every choice of a request.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, BackendError>> + Send>>;

/// Token counts and timings of a whole request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Prompt tokens, each distinct prompt counted once.
    pub prompt_tokens: u32,
    /// Of which served from the prefix cache.
    pub cached_tokens: u32,
    /// Tokens generated across choices.
    pub completion_tokens: u32,
    /// Longest time spent reading a prompt.
    pub prompt_duration: Duration,
    /// Longest time spent generating.
    pub generation_duration: Duration,
}

impl Usage {
    /// Account for a finished choice.
    pub fn add(&mut self, stats: &GenerationStats, counts_prompt: bool) {
        if counts_prompt {
            self.prompt_tokens += stats.prompt_tokens;
            self.cached_tokens += stats.cached_tokens;
        }
        self.completion_tokens += stats.completion_tokens;
        self.prompt_duration = self.prompt_duration.max(stats.prompt_duration);
        self.generation_duration = self.generation_duration.max(stats.generation_duration);
    }
}

/// One finished choice.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceOutcome {
    /// Its text (prose only; tool calls are apart).
    pub text: String,
    /// Calls it made.
    pub tool_calls: Vec<ToolCall>,
    /// Log-probabilities, when asked.
    pub logprobs: Vec<TokenLogprob>,
    /// Why it ended.
    pub finish: ChatFinish,
}

/// A whole non-streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatOutcome {
    /// Choices in index order.
    pub choices: Vec<ChoiceOutcome>,
    /// Token counts and timings.
    pub usage: Usage,
}

/// Read a [`ChatStream`] to the end.
pub async fn collect(mut stream: ChatStream, choices: usize) -> Result<ChatOutcome, BackendError> {
    let mut outcome = ChatOutcome {
        choices: vec![
            ChoiceOutcome {
                text: String::new(),
                tool_calls: Vec::new(),
                logprobs: Vec::new(),
                finish: ChatFinish::Stop,
            };
            choices
        ],
        usage: Usage::default(),
    };
    while let Some(event) = stream.next().await {
        match event? {
            ChatEvent::Text {
                choice,
                text,
                logprobs,
            } => {
                let slot = &mut outcome.choices[choice as usize];
                slot.text.push_str(&text);
                slot.logprobs.extend(logprobs);
            }
            ChatEvent::ToolCall { choice, call, .. } => {
                outcome.choices[choice as usize].tool_calls.push(call);
            }
            ChatEvent::Finish {
                choice,
                reason,
                stats,
                counts_prompt,
            } => {
                outcome.choices[choice as usize].finish = reason;
                outcome.usage.add(&stats, counts_prompt);
            }
        }
    }
    Ok(outcome)
}

/// Starts generations for validated requests. Cheap to build per request.
#[derive(Clone)]
pub struct ChatService {
    backend: Arc<dyn ChatBackend>,
}

impl ChatService {
    /// A service over a backend.
    pub fn new(backend: Arc<dyn ChatBackend>) -> Self {
        ChatService { backend }
    }

    /// Start a chat: `n` generations of the conversation, tool calls parsed out
    /// when tools are in play. Errors known before the first token (unknown
    /// model, queue full) are returned here.
    pub async fn chat(
        &self,
        request: ValidChatRequest,
        principal: Principal,
    ) -> Result<ChatStream, BackendError> {
        let tools: Vec<&ToolSpec> = match &request.tool_choice {
            ToolChoice::None => Vec::new(),
            ToolChoice::Auto | ToolChoice::Required => request.tools.iter().collect(),
            ToolChoice::Named(name) => request.tools.iter().filter(|t| &t.name == name).collect(),
        };
        let mut params = request.params.clone();
        if matches!(
            request.tool_choice,
            ToolChoice::Required | ToolChoice::Named(_)
        ) && !tools.is_empty()
        {
            params.constraint = OutputConstraint::JsonSchema(tools::forced_call_schema(&tools));
        }
        let shown: Vec<&ToolSpec> = match request.tool_choice {
            ToolChoice::None => Vec::new(),
            _ => request.tools.iter().collect(),
        };
        let prompt = Prompt::Chat {
            messages: request.messages.clone(),
            tools: shown.iter().map(|t| t.template_value()).collect(),
            template: None,
        };
        let names: Vec<String> = tools.iter().map(|t| t.name.clone()).collect();
        let mut choices = Vec::with_capacity(request.n as usize);
        for index in 0..request.n {
            let generation = self
                .start(&request.model, prompt.clone(), &params, index, &principal)
                .await?;
            let splitter = (!names.is_empty()).then(|| tools::ToolCallSplitter::new(names.clone()));
            choices.push(stream::choice(
                generation,
                stream::ChoiceSetup {
                    index,
                    splitter,
                    echo: None,
                    counts_prompt: index == 0,
                },
            ));
        }
        Ok(Box::pin(futures::stream::select_all(choices)))
    }

    /// Start a raw-text completion: each prompt `n` times.
    pub async fn complete(
        &self,
        request: ValidCompletionRequest,
        principal: Principal,
    ) -> Result<ChatStream, BackendError> {
        let mut choices = Vec::new();
        for (p, text) in request.prompts.iter().enumerate() {
            for j in 0..request.n {
                let index = p as u32 * request.n + j;
                let prompt = match &request.suffix {
                    Some(suffix) => Prompt::Infill {
                        prefix: text.clone(),
                        suffix: suffix.clone(),
                    },
                    None => Prompt::Text(text.clone()),
                };
                let generation = self
                    .start(&request.model, prompt, &request.params, j, &principal)
                    .await?;
                choices.push(stream::choice(
                    generation,
                    stream::ChoiceSetup {
                        index,
                        splitter: None,
                        echo: request.echo.then(|| text.clone()),
                        counts_prompt: j == 0,
                    },
                ));
            }
        }
        Ok(Box::pin(futures::stream::select_all(choices)))
    }

    /// Tokens a conversation takes for a model.
    pub async fn count_tokens(
        &self,
        model: &str,
        messages: Vec<ChatMessage>,
        tools: &[ToolSpec],
    ) -> Result<u32, BackendError> {
        let prompt = Prompt::Chat {
            messages,
            tools: tools.iter().map(ToolSpec::template_value).collect(),
            template: None,
        };
        self.backend.count_tokens(model, &prompt).await
    }

    async fn start(
        &self,
        model: &str,
        prompt: Prompt,
        params: &SamplingParams,
        choice: u32,
        principal: &Principal,
    ) -> Result<crate::backend::GenerationStream, BackendError> {
        let shares_prompt = choice > 0;
        let mut params = params.clone();
        // Same seed for every choice would give n identical answers.
        params.seed = params.seed.map(|s| s.wrapping_add(u64::from(choice)));
        self.backend
            .generate(GenerateRequest {
                model: model.to_owned(),
                prompt,
                params,
                principal: principal.clone(),
                weight: 1,
                shares_prompt,
            })
            .await
    }
}
