//! The portal's own stylesheet and script, compiled into the binary so the
//! server needs no files beside it. Pages link them with a content hash in
//! the query string, which lets browsers cache them for a year and still
//! fetch a new version the moment it changes.

use std::sync::LazyLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const STYLE: &str = include_str!("../../../static/style.css");
const SCRIPT: &str = include_str!("../../../static/app.js");

const LONG_CACHE: &str = "public, max-age=31536000, immutable";

static STYLE_HREF: LazyLock<String> = LazyLock::new(|| versioned("/static/style.css", STYLE));
static SCRIPT_HREF: LazyLock<String> = LazyLock::new(|| versioned("/static/app.js", SCRIPT));

pub fn style_href() -> &'static str {
    STYLE_HREF.as_str()
}

pub fn script_href() -> &'static str {
    SCRIPT_HREF.as_str()
}

fn versioned(path: &str, content: &str) -> String {
    let digest = hex::encode(Sha256::digest(content.as_bytes()));
    format!("{path}?v={}", digest.get(..12).unwrap_or(&digest))
}

pub async fn style() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, LONG_CACHE),
        ],
        STYLE,
    )
        .into_response()
}

pub async fn script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, LONG_CACHE),
        ],
        SCRIPT,
    )
        .into_response()
}
