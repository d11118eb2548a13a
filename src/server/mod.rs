//! HTTP: the JSON API, the web portal and the forward-auth endpoint, plus
//! what every request shares (sessions, limits, the hashing pool, audit).
//!
//! Decisions live in [`flows`]; the `api` and `pages` modules only translate
//! between HTTP and those flows.

pub mod api;
pub mod audit;
pub mod client;
pub mod error;
pub mod flows;
pub mod hasher;
pub mod headers;
pub mod limits;
pub mod listener;
pub mod pages;
pub mod policy;
pub mod session;

use std::ops::Deref;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::config::{Config, Keys};
use crate::store::Store;
use audit::Auditor;
use flows::MfaKeys;
use hasher::Hasher;
use listener::{CappedListener, PeerAddr};
use policy::Policy;

/// Everything a request handler may use.
pub struct Shared {
    pub store: Store,
    pub mfa: Option<MfaKeys>,
    pub hasher: Hasher,
    pub audit: Auditor,
    pub policy: Policy,
    pub issuer: String,
    pub public_url: String,
    pub secure_cookies: bool,
}

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Builds the state from configuration: derives keys (slow by design,
    /// so done once here) and starts the hashing pool.
    pub fn new(config: &Config, store: Store) -> anyhow::Result<AppState> {
        let mfa = match &config.keys {
            Keys::Present(keys) => Some(MfaKeys::derive(keys)?),
            Keys::Missing(_) => None,
        };
        let hasher = Hasher::start(&config.hasher).context("cannot start the password hashers")?;
        Ok(AppState(Arc::new(Shared {
            audit: Auditor::new(store.clone()),
            store,
            mfa,
            hasher,
            policy: config.policy.clone(),
            issuer: config.issuer.clone(),
            public_url: config.public_url.clone(),
            secure_cookies: config.is_https(),
        })))
    }
}

pub fn router(state: AppState) -> Router {
    api::routes(&state)
        .merge(pages::routes())
        .fallback(|| async { error::Error::NotFound })
        .method_not_allowed_fallback(|| async { error::Error::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            headers::security_headers,
        ))
        .with_state(state)
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, listener: TcpListener) -> anyhow::Result<()> {
    let policy = &state.policy;
    let listener = CappedListener::new(listener, policy.max_connections, policy.idle_timeout);
    let purger = tokio::spawn(purge_expired(state.clone()));
    let app = router(state).into_make_service_with_connect_info::<PeerAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the server stopped with an error");
    purger.abort();
    served
}

/// How often expired sessions and challenges are deleted. They are refused
/// from the moment they expire; this only keeps the tables small.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

async fn purge_expired(state: AppState) {
    let mut ticks = tokio::time::interval(PURGE_EVERY);
    loop {
        ticks.tick().await;
        let now = crate::clock::now();
        if let Err(err) = state
            .store
            .purge_expired(now, state.policy.session.idle)
            .await
        {
            tracing::warn!(error = %err, "cannot delete expired sessions");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
