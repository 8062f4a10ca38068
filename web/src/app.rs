//! The shared state of every request: how to reach the store and the
//! master, the two interfaces, trusted proxies, pending login tokens and
//! the counters.

use std::net::IpAddr;
use std::sync::Arc;

use ipc::config::WebSettings;

use crate::backend::Backend;
use crate::interface::Interface;
use crate::login::LoginTokens;
use crate::metrics::Metrics;

pub struct App {
    pub backend: Arc<dyn Backend>,
    pub account: Arc<Interface>,
    pub admin: Arc<Interface>,
    pub trusted_proxies: Vec<IpAddr>,
    pub login_tokens: LoginTokens,
    pub metrics: Arc<Metrics>,
    /// This server's host name (page titles).
    pub hostname: String,
}

pub type AppState = Arc<App>;

impl App {
    pub fn new(
        backend: Arc<dyn Backend>,
        settings: &WebSettings,
        hostname: &str,
        metrics: Arc<Metrics>,
    ) -> AppState {
        Arc::new(App {
            backend,
            account: Arc::new(Interface::account(
                &settings.account_path,
                settings.account_session_idle_secs,
            )),
            admin: Arc::new(Interface::admin(
                &settings.admin_path,
                settings.admin_session_idle_secs,
            )),
            trusted_proxies: settings.trusted_proxies.clone(),
            login_tokens: LoginTokens::default(),
            metrics,
            hostname: hostname.to_string(),
        })
    }
}
