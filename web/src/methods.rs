//! The API methods of each interface after login (LoginPrep, Login and
//! Logout are in `login.rs`), and the data views the pages render. Account
//! methods act on the session's own account only. Admin changes to
//! domains, accounts, addresses and passwords go through the master, as
//! moxctl's do, so domains.toml keeps matching the store; storage limits
//! and reads go to the store directly.

use ipc::control::{ControlReply, ControlRequest, Status};
use ipc::master::{MasterToWorker, WorkerToMaster};
use ipc::store::{StoreReply, StoreRequest, WebInterface};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::{self, ApiError};
use crate::app::App;
use crate::auth::Authed;
use crate::format;

/// Shortest password the web interfaces accept.
pub const MIN_PASSWORD: usize = 8;
/// Longest password accepted.
pub const MAX_PASSWORD: usize = 1024;
/// Queue entries an admin page shows.
pub const MAX_QUEUE_ROWS: usize = 200;

fn check_password(p: &str) -> Result<(), ApiError> {
    if p.chars().count() < MIN_PASSWORD || p.len() > MAX_PASSWORD {
        return Err(ApiError::User(format!(
            "a password needs at least {MIN_PASSWORD} characters"
        )));
    }
    Ok(())
}

async fn store(app: &App, req: StoreRequest) -> Result<StoreReply, ApiError> {
    Ok(app.backend.store(req).await?)
}

async fn store_ok(app: &App, req: StoreRequest) -> Result<(), ApiError> {
    match store(app, req).await? {
        StoreReply::Ok => Ok(()),
        other => Err(api::store_error(other)),
    }
}

/// An administration request carried out by the master.
async fn control(app: &App, req: ControlRequest) -> Result<ControlReply, ApiError> {
    match app.backend.master(WorkerToMaster::Control(req)).await? {
        MasterToWorker::ControlReply(ControlReply::Error(e)) => Err(ApiError::User(e)),
        MasterToWorker::ControlReply(r) => Ok(r),
        other => Err(ApiError::server(format!(
            "unexpected answer from master: {other:?}"
        ))),
    }
}

async fn control_ok(app: &App, req: ControlRequest) -> Result<(), ApiError> {
    control(app, req).await.map(|_| ())
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxView {
    pub name: String,
    pub messages: u64,
    pub unseen: u64,
    pub size: u64,
    pub size_text: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: i64,
    pub created: String,
    pub last_use: String,
    pub remote_ip: String,
    pub user_agent: String,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub time: String,
    pub remote_ip: String,
    pub user_agent: String,
    pub success: bool,
}

/// Everything the account page shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub account: String,
    pub addresses: Vec<String>,
    pub mailboxes: Vec<MailboxView>,
    pub sessions: Vec<SessionView>,
    pub login_attempts: Vec<AttemptView>,
}

pub async fn account_view(app: &App, authed: &Authed) -> Result<AccountView, ApiError> {
    let account = authed.account()?.to_string();
    let addresses = match store(app, StoreRequest::AccountList).await? {
        StoreReply::Accounts(list) => list
            .into_iter()
            .find(|a| a.name == account)
            .map(|a| a.addresses)
            .unwrap_or_default(),
        other => return Err(api::store_error(other)),
    };
    let mailboxes = match store(
        app,
        StoreRequest::Mailboxes {
            account: account.clone(),
        },
    )
    .await?
    {
        StoreReply::Mailboxes(m) => m
            .into_iter()
            .map(|m| MailboxView {
                size_text: format::size(m.size),
                name: m.name,
                messages: m.messages,
                unseen: m.unseen,
                size: m.size,
            })
            .collect(),
        other => return Err(api::store_error(other)),
    };
    let sessions = match store(
        app,
        StoreRequest::WebSessionList {
            interface: WebInterface::Account,
            account: Some(account.clone()),
        },
    )
    .await?
    {
        StoreReply::WebSessions(s) => s
            .into_iter()
            .map(|s| SessionView {
                current: s.id == authed.session.id,
                id: s.id,
                created: format::utc(s.created),
                last_use: format::utc(s.last_use),
                remote_ip: s.remote_ip,
                user_agent: s.user_agent,
            })
            .collect(),
        other => return Err(api::store_error(other)),
    };
    let login_attempts = match store(
        app,
        StoreRequest::LoginAttemptList {
            account: account.clone(),
        },
    )
    .await?
    {
        StoreReply::LoginAttempts(a) => a
            .into_iter()
            .map(|a| AttemptView {
                time: format::utc(a.time),
                remote_ip: a.remote_ip,
                user_agent: a.user_agent,
                success: a.success,
            })
            .collect(),
        other => return Err(api::store_error(other)),
    };
    Ok(AccountView {
        account,
        addresses,
        mailboxes,
        sessions,
        login_attempts,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PasswordParams {
    password: String,
}

/// An account method (after login, CSRF checked).
pub async fn account_call(
    app: &App,
    authed: &Authed,
    method: &str,
    params: Value,
) -> Result<Value, ApiError> {
    let account = authed.account()?.to_string();
    match method {
        "Account" => {
            Ok(serde_json::to_value(account_view(app, authed).await?).map_err(ApiError::server)?)
        }
        "SetPassword" => {
            let p: PasswordParams = api::params(params)?;
            check_password(&p.password)?;
            store_ok(
                app,
                StoreRequest::SetPasswordKeepSession {
                    account,
                    password: p.password,
                    keep_token: authed.token.clone(),
                },
            )
            .await?;
            tracing::info!(
                session = authed.session.id,
                "account password changed from the web"
            );
            Ok(Value::Null)
        }
        "LogoutOtherSessions" => {
            store_ok(
                app,
                StoreRequest::WebSessionDeleteOthers {
                    interface: WebInterface::Account,
                    account: Some(account),
                    keep_token: authed.token.clone(),
                },
            )
            .await?;
            Ok(Value::Null)
        }
        other => Err(ApiError::NotFound(other.to_string())),
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerView {
    pub role: String,
    pub pid: String,
    pub state: String,
    pub uptime: String,
    pub restarts: u32,
    pub uid: String,
    /// Each sandbox feature's state, e.g. `landlock: enforced`.
    pub sandbox: Vec<String>,
    pub last_exit: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub version: String,
    pub master_pid: u32,
    pub uptime: String,
    pub localserve: bool,
    pub workers: Vec<WorkerView>,
}

impl From<Status> for StatusView {
    fn from(s: Status) -> Self {
        StatusView {
            version: s.version,
            master_pid: s.master_pid,
            uptime: format::duration(s.uptime_secs),
            localserve: s.localserve,
            workers: s
                .workers
                .into_iter()
                .map(|w| {
                    let (uid, sandbox) = match &w.sandbox {
                        Some(r) => (
                            r.uid.to_string(),
                            vec![
                                format!("privdrop: {}", r.privdrop),
                                format!("capabilities: {}", r.capabilities),
                                format!("no_new_privs: {}", r.no_new_privs),
                                format!("landlock: {}", r.landlock_fs),
                                format!("landlock net: {}", r.landlock_net),
                                format!("seccomp: {}", r.seccomp),
                            ],
                        ),
                        None => ("-".into(), Vec::new()),
                    };
                    WorkerView {
                        role: w.role.name().to_string(),
                        pid: w.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                        state: format!("{:?}", w.state).to_lowercase(),
                        uptime: format::duration(w.uptime_secs),
                        restarts: w.restarts,
                        uid,
                        sandbox,
                        last_exit: w.last_exit.unwrap_or_default(),
                    }
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRow {
    pub name: String,
    pub addresses: Vec<String>,
    pub messages: u64,
    pub size_text: String,
    pub quota_text: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueRow {
    pub id: i64,
    pub account: String,
    pub from: String,
    pub recipients: String,
    pub size_text: String,
    pub queued: String,
    pub next_attempt: String,
    pub attempts: u32,
    pub hold: bool,
}

/// Everything the admin page shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminView {
    pub status: StatusView,
    pub domains: Vec<String>,
    pub accounts: Vec<AccountRow>,
    pub queue_total: usize,
    pub queue: Vec<QueueRow>,
}

pub async fn admin_view(app: &App) -> Result<AdminView, ApiError> {
    let status = match control(app, ControlRequest::Status).await? {
        ControlReply::Status(s) => StatusView::from(s),
        other => {
            return Err(ApiError::server(format!(
                "unexpected status reply {other:?}"
            )));
        }
    };
    let domains = match store(app, StoreRequest::DomainList).await? {
        StoreReply::Domains(d) => d,
        other => return Err(api::store_error(other)),
    };
    let list = match store(app, StoreRequest::AccountList).await? {
        StoreReply::Accounts(a) => a,
        other => return Err(api::store_error(other)),
    };
    let mut accounts = Vec::with_capacity(list.len());
    for a in list {
        let quota_text = match store(
            app,
            StoreRequest::Quota {
                account: a.name.clone(),
            },
        )
        .await?
        {
            StoreReply::Quota { limit: Some(l), .. } => format::size(l),
            StoreReply::Quota { limit: None, .. } => "unlimited".into(),
            other => return Err(api::store_error(other)),
        };
        accounts.push(AccountRow {
            name: a.name,
            addresses: a.addresses,
            messages: a.messages,
            size_text: format::size(a.size),
            quota_text,
        });
    }
    let queue = match store(app, StoreRequest::QueueList).await? {
        StoreReply::Queue(q) => q,
        other => return Err(api::store_error(other)),
    };
    let queue_total = queue.len();
    let queue = queue
        .into_iter()
        .take(MAX_QUEUE_ROWS)
        .map(|q| QueueRow {
            id: q.id,
            account: q.account,
            from: if q.mail_from.is_empty() {
                "<>".into()
            } else {
                q.mail_from
            },
            recipients: q.recipients.join(", "),
            size_text: format::size(q.size),
            queued: format::utc(q.queued),
            next_attempt: format::utc(q.next_attempt),
            attempts: q.attempts,
            hold: q.hold,
        })
        .collect();
    Ok(AdminView {
        status,
        domains,
        accounts,
        queue_total,
        queue,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DomainParams {
    domain: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccountAddParams {
    name: String,
    address: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NameParams {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccountPasswordParams {
    account: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct QuotaParams {
    account: String,
    /// Octets; empty for unlimited.
    quota: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddressParams {
    address: String,
    #[serde(default)]
    account: String,
}

/// An admin method (after login, CSRF checked).
pub async fn admin_call(app: &App, method: &str, params: Value) -> Result<Value, ApiError> {
    match method {
        "Overview" => Ok(serde_json::to_value(admin_view(app).await?).map_err(ApiError::server)?),
        "DomainAdd" => {
            let p: DomainParams = api::params(params)?;
            control_ok(app, ControlRequest::DomainAdd { domain: p.domain }).await?;
            Ok(Value::Null)
        }
        "DomainRemove" => {
            let p: DomainParams = api::params(params)?;
            control_ok(app, ControlRequest::DomainDel { domain: p.domain }).await?;
            Ok(Value::Null)
        }
        "AccountAdd" => {
            let p: AccountAddParams = api::params(params)?;
            let password = if p.password.is_empty() {
                None
            } else {
                check_password(&p.password)?;
                Some(p.password)
            };
            control_ok(
                app,
                ControlRequest::AccountAdd {
                    name: p.name,
                    address: p.address,
                    password,
                },
            )
            .await?;
            Ok(Value::Null)
        }
        "AccountRemove" => {
            let p: NameParams = api::params(params)?;
            control_ok(app, ControlRequest::AccountDel { name: p.name }).await?;
            Ok(Value::Null)
        }
        "AccountSetPassword" => {
            let p: AccountPasswordParams = api::params(params)?;
            check_password(&p.password)?;
            control_ok(
                app,
                ControlRequest::SetPassword {
                    account: p.account,
                    password: p.password,
                },
            )
            .await?;
            Ok(Value::Null)
        }
        "AccountSetQuota" => {
            let p: QuotaParams = api::params(params)?;
            let q = p.quota.trim();
            let limit = if q.is_empty() {
                None
            } else {
                Some(q.parse::<u64>().map_err(|_| {
                    ApiError::User("quota must be a number of bytes, or empty for unlimited".into())
                })?)
            };
            store_ok(
                app,
                StoreRequest::QuotaSet {
                    account: p.account,
                    limit,
                },
            )
            .await?;
            Ok(Value::Null)
        }
        "AddressAdd" => {
            let p: AddressParams = api::params(params)?;
            control_ok(
                app,
                ControlRequest::AddressAdd {
                    address: p.address,
                    account: p.account,
                },
            )
            .await?;
            Ok(Value::Null)
        }
        "AddressRemove" => {
            let p: AddressParams = api::params(params)?;
            control_ok(app, ControlRequest::AddressDel { address: p.address }).await?;
            Ok(Value::Null)
        }
        other => Err(ApiError::NotFound(other.to_string())),
    }
}
