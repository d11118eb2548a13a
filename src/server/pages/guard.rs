//! Who is looking at a page. The session itself is checked by
//! [`crate::server::session::SignedIn`]; this module only decides what a
//! page does without one: the security pages send the visitor to sign in,
//! and a failing database becomes an error page rather than a JSON body.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;

use super::{messages, return_to, see_other};
use crate::server::error::Error;
use crate::server::session::SignedIn;
use crate::server::AppState;

/// A signed-in user, or a 303 to the sign-in page that comes back to the
/// security page afterwards.
pub struct PageUser(pub SignedIn);

impl FromRequestParts<AppState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match SignedIn::from_request_parts(parts, state).await {
            Ok(signed_in) => Ok(PageUser(signed_in)),
            Err(Error::Unauthenticated) => Err(see_other(&format!(
                "/login?return_to={}",
                return_to::encode_query_value(return_to::DEFAULT)
            ))),
            Err(other) => Err(messages::error_page(&other)),
        }
    }
}

/// The signed-in user if there is one, for pages that serve both.
pub struct Viewer(pub Option<SignedIn>);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match SignedIn::from_request_parts(parts, state).await {
            Ok(signed_in) => Ok(Viewer(Some(signed_in))),
            Err(Error::Unauthenticated) => Ok(Viewer(None)),
            Err(other) => Err(messages::error_page(&other)),
        }
    }
}
