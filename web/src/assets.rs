//! The script and style sheet, built into the binary. `app.js` is the
//! committed output of `tsc` on `assets/app.ts` (see `assets/tsconfig.json`);
//! nothing is compiled at build or run time.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub const APP_JS: &str = include_str!("../assets/app.js");
pub const STYLE_CSS: &str = include_str!("../assets/style.css");

pub fn serve(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidate so an upgrade takes effect at the next page load.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

pub fn app_js() -> Response {
    serve(APP_JS, "text/javascript; charset=utf-8")
}

pub fn style_css() -> Response {
    serve(STYLE_CSS, "text/css; charset=utf-8")
}
