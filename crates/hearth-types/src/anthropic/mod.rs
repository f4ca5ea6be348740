//! Anthropic Messages wire types (`/v1/messages`), as the `anthropic` SDKs send
//! and parse them. Streams are server-sent events with an `event:` name per
//! [`StreamEvent`]. Unknown fields are ignored.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /v1/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessagesRequest {
    /// Model name.
    pub model: String,
    /// The conversation, alternating `user` and `assistant`.
    pub messages: Vec<Message>,
    /// Most tokens to generate (required, as Anthropic).
    pub max_tokens: u32,
    /// System prompt: text or text blocks.
    #[serde(default)]
    pub system: Option<Content>,
    /// Stop strings.
    #[serde(default)]
    pub stop_sequences: Option<Vec<String>>,
    /// 0 to 1.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Top-k.
    #[serde(default)]
    pub top_k: Option<u32>,
    /// Tools the model may use.
    #[serde(default)]
    pub tools: Option<Vec<Tool>>,
    /// `auto`, `any`, `tool` (named) or `none`.
    #[serde(default)]
    pub tool_choice: Option<ToolChoice>,
    /// Stream as server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Accepted (`user_id`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Option<serde_json::Value>,
}

/// Body of `POST /v1/messages/count_tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CountTokensRequest {
    /// Model name.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// System prompt.
    #[serde(default)]
    pub system: Option<Content>,
    /// Tools.
    #[serde(default)]
    pub tools: Option<Vec<Tool>>,
}

/// Answer of `POST /v1/messages/count_tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CountTokensResponse {
    /// Tokens the prompt takes.
    pub input_tokens: u32,
}

/// One message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// `user` or `assistant`.
    pub role: String,
    /// Text or blocks.
    pub content: Content,
}

/// Content: a string or a list of blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Blocks.
    Blocks(Vec<Block>),
}

/// A content block of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// A tool call made by the assistant.
    ToolUse {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments.
        #[schema(value_type = Object)]
        input: serde_json::Value,
    },
    /// A tool's answer, in a user message.
    ToolResult {
        /// The call answered.
        tool_use_id: String,
        /// Text or text blocks.
        #[serde(default)]
        content: Option<ToolResultContent>,
        /// Whether the tool failed.
        #[serde(default)]
        is_error: Option<bool>,
    },
    /// Images, documents, thinking…: refused by validation.
    #[serde(other)]
    Unsupported,
}

/// Content of a `tool_result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ToolResultContent {
    /// Plain text.
    Text(String),
    /// Blocks (text only).
    Blocks(Vec<Block>),
}

/// A tool definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tool {
    /// Name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// JSON Schema of the input.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input_schema: Option<serde_json::Value>,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolChoice {
    /// `auto`, `any`, `tool` or `none`.
    #[serde(rename = "type")]
    pub kind: String,
    /// With `tool`: the tool's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Accepted.
    #[serde(default)]
    pub disable_parallel_tool_use: Option<bool>,
}

/// Answer of `POST /v1/messages` (also inside `message_start`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageResponse {
    /// `msg_…`.
    pub id: String,
    /// Always `message`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `assistant`.
    pub role: String,
    /// Model name.
    pub model: String,
    /// Text and tool_use blocks.
    pub content: Vec<ResponseBlock>,
    /// `end_turn`, `max_tokens`, `stop_sequence` or `tool_use`; null while streaming.
    pub stop_reason: Option<String>,
    /// The stop sequence that matched (not tracked: always null).
    pub stop_sequence: Option<String>,
    /// Token counts.
    pub usage: MessageUsage,
}

/// A content block of an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseBlock {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// A tool call.
    ToolUse {
        /// Call id (`toolu_…`).
        id: String,
        /// Tool name.
        name: String,
        /// Arguments.
        #[schema(value_type = Object)]
        input: serde_json::Value,
    },
}

/// Token counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageUsage {
    /// Prompt tokens not read from the cache.
    pub input_tokens: u32,
    /// Generated tokens.
    pub output_tokens: u32,
    /// Prompt tokens served from the prefix cache.
    #[serde(default)]
    pub cache_read_input_tokens: u32,
    /// Always 0.
    #[serde(default)]
    pub cache_creation_input_tokens: u32,
}

/// One event of a streamed answer; its `type` is also the SSE `event:` name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// First event: the message with empty content.
    MessageStart {
        /// The message so far.
        message: MessageResponse,
    },
    /// A block begins.
    ContentBlockStart {
        /// Block position.
        index: u32,
        /// The block, empty.
        content_block: ResponseBlock,
    },
    /// More of a block.
    ContentBlockDelta {
        /// Block position.
        index: u32,
        /// The addition.
        delta: BlockDelta,
    },
    /// A block ends.
    ContentBlockStop {
        /// Block position.
        index: u32,
    },
    /// Stop reason and final usage.
    MessageDelta {
        /// Stop reason.
        delta: MessageDeltaBody,
        /// Token counts.
        usage: MessageUsage,
    },
    /// Last event.
    MessageStop,
    /// Keep-alive.
    Ping,
}

impl StreamEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
            StreamEvent::Ping => "ping",
        }
    }
}

/// Addition to a block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// Text to append.
    TextDelta {
        /// The text.
        text: String,
    },
    /// JSON text to append to a tool_use input.
    InputJsonDelta {
        /// The JSON fragment.
        partial_json: String,
    },
}

/// `message_delta.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageDeltaBody {
    /// Why it stopped.
    pub stop_reason: Option<String>,
    /// Always null.
    pub stop_sequence: Option<String>,
}
