//! The web lane's account routes (`/ui/*`): setup, sign-in and out, one's own
//! profile, password, sessions and API keys, and invite acceptance. Sessions
//! are cookies; the auth middleware checks the CSRF token and Origin.

pub mod assets;
pub mod auth;
pub mod invites;
pub mod keys;
pub mod models;
pub mod sessions;

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_core::auth::{NewSession, User};
use utoipa::openapi::ComponentsBuilder;

use crate::auth::set_cookie;
use crate::lanes::views::{MeView, UserView};
use crate::route;
use crate::routes::{
    Auth::{Authenticated, Open},
    Capability, Route,
};
use crate::state::AppState;

const WEB: Option<Capability> = Some(Capability::WebUi);

/// Routes of the web lane's account API.
pub fn routes() -> Vec<Route> {
    use axum::routing::{delete, get, post};
    vec![
        route!(POST "/ui/auth/setup", Hearth, Open, WEB, "setup", "First run: create the admin with the setup token from the log.",
            req: Some("SetupRequest"), res: Some("MeView"), post(auth::setup)),
        route!(POST "/ui/auth/login", Hearth, Open, WEB, "login", "Sign in; sets the session cookie.",
            req: Some("CredentialsRequest"), res: Some("MeView"), post(auth::login)),
        route!(POST "/ui/auth/register", Hearth, Open, WEB, "register", "Create an account (only with auth.open_registration).",
            req: Some("CredentialsRequest"), res: Some("MeView"), post(auth::register)),
        route!(POST "/ui/auth/logout", Hearth, Authenticated, WEB, "logout", "End this session.",
            req: None, res: None, post(auth::logout)),
        route!(GET "/ui/auth/me", Hearth, Authenticated, WEB, "me", "The signed-in user, scopes and CSRF token.",
            req: None, res: Some("MeView"), get(auth::me)),
        route!(POST "/ui/auth/password", Hearth, Authenticated, WEB, "changePassword", "Change one's password; ends every session and opens a new one.",
            req: Some("PasswordChangeRequest"), res: Some("MeView"), post(auth::change_password)),
        route!(GET "/ui/sessions", Hearth, Authenticated, WEB, "listMySessions", "One's own live sessions.",
            req: None, res: Some("SessionListView"), get(sessions::list)),
        route!(DELETE "/ui/sessions/{id}", Hearth, Authenticated, WEB, "revokeMySession", "Revoke one of one's sessions.",
            req: None, res: None, delete(sessions::revoke)),
        route!(GET "/ui/keys", Hearth, Authenticated, WEB, "listMyKeys", "One's own API keys.",
            req: None, res: Some("KeyListView"), get(keys::list)),
        route!(POST "/ui/keys", Hearth, Authenticated, WEB, "createMyKey", "Create an API key (shown once).",
            req: Some("KeyCreateRequest"), res: Some("CreatedKeyView"), post(keys::create)),
        route!(DELETE "/ui/keys/{id}", Hearth, Authenticated, WEB, "revokeMyKey", "Revoke one of one's keys.",
            req: None, res: None, delete(keys::revoke)),
        route!(POST "/ui/invites/{token}", Hearth, Open, WEB, "acceptInvite", "Create an account with an invite; sets the session cookie.",
            req: Some("CredentialsRequest"), res: Some("MeView"), post(invites::accept)),
    ]
}

/// Schemas of the account views (shared with the admin lane).
pub fn schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    models::schemas(crate::lanes::views::schemas(components))
}

/// The caller's view of a user with a fresh session: `MeView` and the cookie.
pub fn signed_in(state: &AppState, status: StatusCode, user: &User, new: &NewSession) -> Response {
    let view = MeView {
        user: UserView::from(user),
        scopes: user
            .role
            .scopes()
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        csrf_token: Some(new.session.csrf_token.clone()),
    };
    let cookie = set_cookie(
        Some(&new.secret),
        state.config.auth.session_absolute_secs,
        &state.config.auth,
    );
    (status, [(header::SET_COOKIE, cookie)], Json(view)).into_response()
}
