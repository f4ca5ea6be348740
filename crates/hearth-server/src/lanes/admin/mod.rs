//! The admin lane (`/admin/*`): operator resources. Requires the `admin` scope
//! (enforced by the auth policy from the route table).

pub mod audit;
pub mod conversations;
pub mod invites;
pub mod jobs;
pub mod keys;
pub mod models;
pub mod sessions;
pub mod usage;
pub mod users;

use utoipa::openapi::ComponentsBuilder;

use crate::route;
use crate::routes::{Auth::Scope, Route};

/// Routes of the admin lane.
pub fn routes() -> Vec<Route> {
    use axum::routing::{delete, get, patch, post, put};
    vec![
        route!(GET "/admin/jobs", Hearth, Scope("admin"), None, "listJobs", "Persisted jobs, newest first.",
            req: None, res: Some("JobListView"), get(jobs::list)),
        route!(GET "/admin/jobs/{id}", Hearth, Scope("admin"), None, "getJob", "One persisted job.",
            req: None, res: Some("JobView"), get(jobs::get)),
        route!(GET "/admin/models", Hearth, Scope("admin"), None, "listRegistryModels", "Registry models, disk use and quota.",
            req: None, res: Some("RegistryModelListView"), get(models::list)),
        route!(GET "/admin/models/show", Hearth, Scope("admin"), None, "showRegistryModel", "One registry model (`?name=`): metadata, template, provenance, preset.",
            req: None, res: Some("RegistryModelView"), get(models::show)),
        route!(POST "/admin/models/pull", Hearth, Scope("admin"), None, "pullModel", "Pull a model (URL or hf.co reference) as a persisted job: 202 with the job, or an NDJSON progress stream with `stream: true`.",
            req: Some("PullBody"), res: Some("JobView"), post(models::pull)),
        route!(POST "/admin/models/copy", Hearth, Scope("admin"), None, "copyModel", "Another name for a model (no bytes copied).",
            req: Some("CopyBody"), res: Some("RegistryModelView"), post(models::copy)),
        route!(POST "/admin/models/delete", Hearth, Scope("admin"), None, "deleteModel", "Remove a model (refused while loaded unless `force`); its file goes when no name uses it.",
            req: Some("DeleteBody"), res: Some("RegistryModelView"), post(models::delete)),
        route!(POST "/admin/models/presets", Hearth, Scope("admin"), None, "createPreset", "A named model with default parameters, system prompt or template.",
            req: Some("PresetBody"), res: Some("RegistryModelView"), post(models::create_preset)),
        route!(POST "/admin/models/quantize", Hearth, Scope("admin"), None, "quantizeModel", "Quantize a model to another type under a new name, as a persisted job (202).",
            req: Some("QuantizeBody"), res: Some("JobView"), post(models::quantize)),
        route!(GET "/admin/models/loaded", Hearth, Scope("admin"), None, "listLoadedModels", "Models loaded in memory.",
            req: None, res: Some("LoadedListView"), get(models::loaded)),
        route!(POST "/admin/models/unload", Hearth, Scope("admin"), None, "unloadModel", "Unload a model from memory (at once when idle, else when its running requests end).",
            req: Some("UnloadBody"), res: Some("UnloadView"), post(models::unload)),
        route!(POST "/admin/models/gc", Hearth, Scope("admin"), None, "collectModelBlobs", "Delete registry files no model uses.",
            req: None, res: Some("GcView"), post(models::gc)),
        route!(GET "/admin/users", Hearth, Scope("admin"), None, "listUsers", "Every user, by name.",
            req: None, res: Some("UserListView"), get(users::list)),
        route!(POST "/admin/users", Hearth, Scope("admin"), None, "createUser", "Create a user.",
            req: Some("UserCreateRequest"), res: Some("UserView"), post(users::create)),
        route!(PATCH "/admin/users/{id}", Hearth, Scope("admin"), None, "updateUser", "Change a user's role or disable/enable it.",
            req: Some("UserUpdateRequest"), res: Some("UserView"), patch(users::update)),
        route!(POST "/admin/users/{id}/password", Hearth, Scope("admin"), None, "resetPassword", "Set a user's password; ends its sessions.",
            req: Some("PasswordResetRequest"), res: None, post(users::reset_password)),
        route!(GET "/admin/invites", Hearth, Scope("admin"), None, "listInvites", "Invites, newest first.",
            req: None, res: Some("InviteListView"), get(invites::list)),
        route!(POST "/admin/invites", Hearth, Scope("admin"), None, "createInvite", "Create a single-use invite (token shown once).",
            req: Some("InviteCreateRequest"), res: Some("CreatedInviteView"), post(invites::create)),
        route!(DELETE "/admin/invites/{id}", Hearth, Scope("admin"), None, "deleteInvite", "Delete an unused invite.",
            req: None, res: None, delete(invites::delete)),
        route!(GET "/admin/keys", Hearth, Scope("admin"), None, "listKeys", "Every API key, newest first.",
            req: None, res: Some("KeyListView"), get(keys::list)),
        route!(POST "/admin/keys", Hearth, Scope("admin"), None, "createKey", "Create an API key for a user (shown once).",
            req: Some("KeyCreateRequest"), res: Some("CreatedKeyView"), post(keys::create)),
        route!(DELETE "/admin/keys/{id}", Hearth, Scope("admin"), None, "revokeKey", "Revoke any API key.",
            req: None, res: None, delete(keys::revoke)),
        route!(GET "/admin/sessions", Hearth, Scope("admin"), None, "listSessions", "Every live web session.",
            req: None, res: Some("SessionListView"), get(sessions::list)),
        route!(DELETE "/admin/sessions/{id}", Hearth, Scope("admin"), None, "revokeSession", "Revoke any web session.",
            req: None, res: None, delete(sessions::revoke)),
        route!(GET "/admin/usage", Hearth, Scope("admin"), None, "getUsage", "Token usage per user or per model over a time range (`from_ms`, `to_ms`, `group_by`, `user_id`).",
            req: None, res: Some("UsageReportView"), get(usage::report)),
        route!(GET "/admin/users/{id}/quota", Hearth, Scope("admin"), None, "getUserQuota", "A user's token limits: stored and in force.",
            req: None, res: Some("QuotaView"), get(usage::user_quota)),
        route!(PUT "/admin/users/{id}/quota", Hearth, Scope("admin"), None, "setUserQuota", "Set a user's token limits (null = the [limits] default, 0 = unlimited); audited.",
            req: Some("QuotaFields"), res: Some("QuotaView"), put(usage::set_user_quota)),
        route!(GET "/admin/keys/{id}/quota", Hearth, Scope("admin"), None, "getKeyQuota", "An API key's token limits: stored and in force.",
            req: None, res: Some("QuotaView"), get(usage::key_quota)),
        route!(PUT "/admin/keys/{id}/quota", Hearth, Scope("admin"), None, "setKeyQuota", "Set an API key's token limits (null = the [limits] default, 0 = unlimited); audited.",
            req: Some("QuotaFields"), res: Some("QuotaView"), put(usage::set_key_quota)),
        route!(GET "/admin/users/{user_id}/conversations", Hearth, Scope("admin"), None, "adminListConversations",
            "A user's conversations, newest activity first (`limit`, `cursor`; archived included). Only when `conversations.admin_can_read` is on; every read is audited.",
            req: None, res: Some("ConversationListView"), get(conversations::list)),
        route!(GET "/admin/users/{user_id}/conversations/{id}", Hearth, Scope("admin"), None, "adminGetConversation",
            "One of a user's conversations with its active path (`view=path`) or whole tree (`view=tree`). Only when `conversations.admin_can_read` is on; every read is audited.",
            req: None, res: Some("ConversationDetailView"), get(conversations::get)),
        route!(GET "/admin/audit", Hearth, Scope("admin"), None, "listAudit", "Audit log, newest first, paged with `before`.",
            req: None, res: Some("AuditListView"), get(audit::list)),
        route!(GET "/admin/audit/export", Hearth, Scope("admin"), None, "exportAudit", "The whole audit log as JSON lines.",
            req: None, res: None, get(audit::export)),
    ]
}

/// Schemas of the admin lane's views (account views are registered by the ui lane).
pub fn schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    components
        .schema_from::<jobs::JobView>()
        .schema_from::<jobs::JobListView>()
        .schema_from::<usage::UsageRowView>()
        .schema_from::<usage::UsageReportView>()
        .schema_from::<usage::QuotaFields>()
        .schema_from::<usage::QuotaView>()
        .schema_from::<models::RegistryModelView>()
        .schema_from::<models::RegistryModelListView>()
        .schema_from::<models::PullBody>()
        .schema_from::<models::CopyBody>()
        .schema_from::<models::DeleteBody>()
        .schema_from::<models::PresetBody>()
        .schema_from::<models::LoadedListView>()
        .schema_from::<models::GcView>()
        .schema_from::<models::UnloadBody>()
        .schema_from::<models::UnloadView>()
        .schema_from::<models::QuantizeBody>()
}
