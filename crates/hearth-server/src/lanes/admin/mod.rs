//! The admin lane (`/admin/*`): operator resources. Requires the `admin` scope
//! (enforced by the auth policy from the route table).

pub mod jobs;
