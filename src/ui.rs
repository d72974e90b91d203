//! The dashboard (`/ui/`, operations.md): hand-written HTML, CSS and JavaScript under `ui/`,
//! embedded in the binary so that it works offline with no separate build or server. The page
//! talks to the REST API only (with the workspace key the user types in), so this module
//! serves files and nothing else.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::problem::json_error;
use crate::state::AppState;

/// Every asset: its name under `/ui/`, content type and text.
const ASSETS: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../ui/index.html")),
    ("app.css", "text/css; charset=utf-8", include_str!("../ui/app.css")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("../ui/api.js")),
    ("charts.js", "text/javascript; charset=utf-8", include_str!("../ui/charts.js")),
    ("pages.js", "text/javascript; charset=utf-8", include_str!("../ui/pages.js")),
    ("forms.js", "text/javascript; charset=utf-8", include_str!("../ui/forms.js")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../ui/app.js")),
];

/// `/ui` (→ `/ui/`), `/ui/` and `/ui/{asset}`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(|| async { asset("index.html") }))
        .route("/ui/{name}", get(|Path(name): Path<String>| async move { asset(&name) }))
}

fn asset(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, text)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, *content_type),
                // The assets change with the binary only; a restart after an upgrade must not
                // leave browsers on the old script, so they revalidate (cheap on loopback/LAN).
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (
                    header::HeaderName::from_static("content-security-policy"),
                    "default-src 'self'; style-src 'self' 'unsafe-inline'",
                ),
            ],
            *text,
        )
            .into_response(),
        None => json_error(StatusCode::NOT_FOUND, format!("No dashboard file {name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_the_page_loads_is_served() {
        let index = ASSETS[0].2;
        for (name, _, _) in &ASSETS[1..] {
            assert!(index.contains(&format!("\"{name}\"")), "index.html does not load {name}");
        }
        assert_eq!(asset("nope.js").status(), StatusCode::NOT_FOUND);
    }
}
