//! Admin reads of other users' conversations. Off unless the configuration
//! allows it (`conversations.admin_can_read`); every attempt, allowed or not,
//! is written to the audit log with the reader, the owner and the conversation.
//! Runs on the caller's task.

use super::error::ConversationError;
use super::model::{ConversationId, ConversationPage, ListFilter, OwnerId};
use super::service::{ConversationDetail, ConversationService, TreeView};
use hearth_types::ErrorCode;

use crate::auth::{AuditContext, AuditEvent};
use crate::jobs::now_ms;

impl ConversationService {
    /// A page of `owner`'s conversations, for an admin.
    pub async fn admin_list(
        &self,
        ctx: &AuditContext,
        owner: &OwnerId,
        filter: ListFilter,
    ) -> Result<ConversationPage, ConversationError> {
        let result = match self.admin_allowed() {
            Ok(()) => self.list(owner, filter).await,
            Err(e) => Err(e),
        };
        let detail = serde_json::json!({ "owner": owner.0 });
        self.audit_admin(ctx, "conversation.admin_list", &owner.0, &result, detail)
            .await;
        result
    }

    /// One of `owner`'s conversations, for an admin.
    pub async fn admin_get(
        &self,
        ctx: &AuditContext,
        owner: &OwnerId,
        id: &ConversationId,
        view: TreeView,
    ) -> Result<ConversationDetail, ConversationError> {
        let result = match self.admin_allowed() {
            Ok(()) => self.get(owner, id, view).await,
            Err(e) => Err(e),
        };
        let detail = serde_json::json!({ "owner": owner.0 });
        self.audit_admin(ctx, "conversation.admin_read", &id.0, &result, detail)
            .await;
        result
    }

    fn admin_allowed(&self) -> Result<(), ConversationError> {
        if self.settings.admin_can_read {
            Ok(())
        } else {
            Err(ConversationError::AdminReadDisabled)
        }
    }

    /// Append the audit event; a failure to write it is logged, never hidden.
    async fn audit_admin<T>(
        &self,
        ctx: &AuditContext,
        action: &str,
        target: &str,
        result: &Result<T, ConversationError>,
        mut detail: serde_json::Value,
    ) {
        if let Err(e) = result {
            detail["error"] = serde_json::Value::String(e.code().as_str().to_owned());
        }
        let event = AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            at_ms: now_ms(),
            action: action.to_owned(),
            principal: ctx.principal.clone(),
            target: Some(target.to_owned()),
            outcome: if result.is_ok() { "success" } else { "failure" }.to_owned(),
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            request_id: ctx.request_id.clone(),
            detail,
        };
        if let Err(err) = self.store.accounts().append_audit(event).await {
            tracing::error!(%err, action, "could not write the audit log");
        }
    }
}
