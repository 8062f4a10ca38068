//! Tests of the SASL mechanisms against an in-memory credential table.

mod cram_md5;
mod login;
mod mechanism;
mod never_panic;
mod plain;
mod scram_client;
mod scram_fail;
mod scram_message;
mod scram_plus;
mod scram_rfc;

use std::collections::HashMap;
use std::sync::Mutex;

use ipc::store::{ScramCredentials, ScramMechanism};

use super::{Credentials, Exchange, SaslError, Step};
use scram_client::Client;

/// Logins, passwords and SCRAM keys, like the store would hold them.
#[derive(Default)]
pub(super) struct MemCreds {
    /// login → (account, password)
    plain: HashMap<String, (String, String)>,
    /// (login, hash, keys); the last entry for a login and hash wins.
    scram: Vec<(String, ScramMechanism, ScramCredentials)>,
    /// Every login asked for, in order.
    lookups: Mutex<Vec<String>>,
    /// When set, every request fails with this temporary error.
    broken: Option<String>,
}

/// Salt of the test users: 16 bytes, like the stand-ins for unknown users.
pub(super) const TEST_SALT: &[u8; 16] = b"moxd-test-salt!!";
pub(super) const TEST_ITERATIONS: u32 = 4096;

impl MemCreds {
    pub(super) fn new() -> Self {
        MemCreds::default()
    }

    /// A user with both SCRAM key sets derived from `password` and [`TEST_SALT`].
    pub(super) fn user(self, login: &str, account: &str, password: &str) -> Self {
        self.user_with_salt(
            login,
            account,
            password,
            ScramMechanism::Sha1,
            TEST_SALT,
            TEST_ITERATIONS,
        )
        .user_with_salt(
            login,
            account,
            password,
            ScramMechanism::Sha256,
            TEST_SALT,
            TEST_ITERATIONS,
        )
    }

    /// A user with one SCRAM key set derived from `password`, `salt` and `iterations`.
    pub(super) fn user_with_salt(
        mut self,
        login: &str,
        account: &str,
        password: &str,
        mech: ScramMechanism,
        salt: &[u8],
        iterations: u32,
    ) -> Self {
        let (stored_key, server_key) = scram_client::keys(mech, password, salt, iterations);
        self.plain
            .insert(login.to_owned(), (account.to_owned(), password.to_owned()));
        self.scram.push((
            login.to_owned(),
            mech,
            ScramCredentials {
                account: account.to_owned(),
                salt: salt.to_vec(),
                iterations,
                stored_key,
                server_key,
            },
        ));
        self
    }

    /// Stores exactly these SCRAM credentials (to test what the store returns).
    pub(super) fn raw_scram(
        mut self,
        login: &str,
        mech: ScramMechanism,
        c: ScramCredentials,
    ) -> Self {
        self.scram.push((login.to_owned(), mech, c));
        self
    }

    pub(super) fn broken(mut self, why: &str) -> Self {
        self.broken = Some(why.to_owned());
        self
    }

    pub(super) fn lookups(&self) -> Vec<String> {
        self.lookups.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn record(&self, login: &str) -> Result<(), SaslError> {
        if let Ok(mut l) = self.lookups.lock() {
            l.push(login.to_owned());
        }
        match &self.broken {
            Some(why) => Err(SaslError::Temporary(why.clone())),
            None => Ok(()),
        }
    }
}

impl Credentials for MemCreds {
    fn verify_plain(
        &self,
        login: &str,
        password: &str,
    ) -> impl std::future::Future<Output = Result<Option<String>, SaslError>> + Send {
        let r = self.record(login).map(|()| {
            self.plain
                .get(login)
                .filter(|(_, p)| p == password)
                .map(|(account, _)| account.clone())
        });
        std::future::ready(r)
    }

    fn scram(
        &self,
        login: &str,
        mech: ScramMechanism,
    ) -> impl std::future::Future<Output = Result<Option<ScramCredentials>, SaslError>> + Send {
        let r = self.record(login).map(|()| {
            self.scram
                .iter()
                .rev()
                .find(|(l, m, _)| l == login && *m == mech)
                .map(|(_, _, c)| c.clone())
        });
        std::future::ready(r)
    }
}

/// The end of a whole SCRAM exchange driven by [`scram_run`].
struct ScramRun {
    /// What the server answered the client-final message.
    result: Result<Step, SaslError>,
    server_first: Vec<u8>,
    /// The server-final message the client computed for itself.
    expected_final: Vec<u8>,
}

/// Runs a SCRAM exchange without initial response up to the server's answer
/// to the client-final message; panics if the server stops earlier.
async fn scram_run(ex: &mut Exchange, client: &Client, creds: &MemCreds) -> ScramRun {
    assert_eq!(
        ex.start(None, creds).await.unwrap(),
        Step::Challenge(Vec::new())
    );
    let Step::Challenge(server_first) = ex.step(&client.first(), creds).await.unwrap() else {
        panic!("no server-first message");
    };
    let (client_final, expected_final) = client.finish(&server_first);
    ScramRun {
        result: ex.step(&client_final, creds).await,
        server_first,
        expected_final,
    }
}

/// The success a SCRAM exchange for `account` must end with.
fn scram_success(account: &str, server_final: &[u8]) -> Step {
    Step::Success {
        account: account.to_owned(),
        server_final: Some(server_final.to_vec()),
    }
}
