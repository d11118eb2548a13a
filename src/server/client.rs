//! Who is asking: the client's address and user agent, for limits and audit.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use super::listener::PeerAddr;
use super::AppState;

/// User agents are cut to this many characters before they are stored.
const MAX_USER_AGENT: usize = 256;

#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

impl Client {
    /// The client of a command-line action, for the audit trail.
    pub fn local() -> Client {
        Client {
            ip: IpAddr::from([127, 0, 0, 1]),
            user_agent: Some("twofold-cli".into()),
        }
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<PeerAddr>>()
            .map(|info| info.0 .0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let ip = if state.policy.trust_forwarded_for {
            forwarded_for(parts).unwrap_or(peer)
        } else {
            peer
        };

        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
        Ok(Client { ip, user_agent })
    }
}

/// The address the nearest proxy saw: the last entry of `X-Forwarded-For`,
/// since earlier entries are whatever the client chose to send.
fn forwarded_for(parts: &Parts) -> Option<IpAddr> {
    parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|ip| ip.trim().parse().ok())
}
