//! The admin lane (`/admin/*`): operator resources. Requires the `admin` scope
//! (enforced by the auth policy from the route table).

pub mod jobs;

use utoipa::openapi::ComponentsBuilder;

use crate::route;
use crate::routes::{Auth::Scope, Route};

/// Routes of the admin lane.
pub fn routes() -> Vec<Route> {
    use axum::routing::get;
    vec![
        route!(GET "/admin/jobs", Hearth, Scope("admin"), None, "listJobs", "Persisted jobs, newest first.",
            req: None, res: Some("JobListView"), get(jobs::list)),
        route!(GET "/admin/jobs/{id}", Hearth, Scope("admin"), None, "getJob", "One persisted job.",
            req: None, res: Some("JobView"), get(jobs::get)),
    ]
}

/// Schemas of the admin lane's views.
pub fn schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    components
        .schema_from::<jobs::JobView>()
        .schema_from::<jobs::JobListView>()
}
