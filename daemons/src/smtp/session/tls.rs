//! STARTTLS (RFC 3207) and implicit TLS (RFC 8314 §3.3). Allowed only when
//! greeted and outside a transaction; afterwards the session starts over
//! (RFC 3207 §4.2) and buffered plaintext is gone (threats T1).

use tokio::io::{AsyncRead, AsyncWrite};

use super::io::Conn;
use super::state::State;
use super::{Flow, Session, SessionError, TlsState};
use crate::sasl::ChannelBinding;
use crate::smtp::backend::{Backend, TlsInfo};
use crate::smtp::reply::{Code, Esc, Reply};

/// RFC 9266 §2: label of the `tls-exporter` channel binding.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";
/// RFC 9266 §2: 32 octets.
const EXPORTER_LEN: usize = 32;

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    pub(super) async fn starttls(&mut self, state: State) -> Result<Flow, SessionError> {
        let Some(tls_cfg) = self.cfg.tls.clone() else {
            self.error(Reply::new(
                Code::NOT_IMPLEMENTED,
                Esc::INVALID_COMMAND,
                "STARTTLS not available",
            ))
            .await?;
            return Ok(Flow::Next(state));
        };
        if self.tls.is_some() {
            return self.out_of_sequence(state, "TLS already active").await;
        }
        match state {
            State::Ready(_) => {}
            State::Fresh => return self.out_of_sequence(state, "send EHLO first").await,
            other => {
                return self
                    .out_of_sequence(other, "STARTTLS not allowed in a mail transaction")
                    .await;
            }
        }
        self.reply(Reply::new(
            Code::SERVICE_READY,
            Esc::OK,
            "ready to start TLS",
        ));
        let discarded = self
            .io
            .start_tls(&tls_cfg.acceptor, self.cfg.limits.tls_handshake_timeout)
            .await?;
        if discarded > 0 {
            tracing::info!(remote = %self.peer.remote, discarded, "plaintext sent after STARTTLS discarded");
        }
        self.tls = self.tls_state(tls_cfg.server_end_point);
        // RFC 3207 §4.2: discard all knowledge obtained before TLS.
        self.account = None;
        Ok(Flow::Next(State::Fresh))
    }

    /// Implicit TLS: the handshake comes before the greeting.
    pub(super) async fn handshake(&mut self) -> Result<(), SessionError> {
        let Some(tls_cfg) = self.cfg.tls.clone() else {
            return Err(SessionError::Tls(std::io::Error::other(
                "implicit TLS without a TLS configuration",
            )));
        };
        self.io
            .start_tls(&tls_cfg.acceptor, self.cfg.limits.tls_handshake_timeout)
            .await?;
        self.tls = self.tls_state(tls_cfg.server_end_point);
        Ok(())
    }

    fn tls_state(&self, server_end_point: Option<Vec<u8>>) -> Option<TlsState> {
        let Conn::Tls(stream) = self.io.conn() else {
            return None;
        };
        let (_, conn) = stream.get_ref();
        let tls13 = conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLS1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLS1.2".to_string(),
            other => format!("{other:?}"),
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .map_or_else(|| "unknown".into(), |s| format!("{:?}", s.suite()));
        // RFC 9266 §3: tls-exporter only with TLS 1.3 here (TLS 1.2 would
        // need the extended master secret, which we do not check).
        let tls_exporter = if tls13 {
            conn.export_keying_material(vec![0u8; EXPORTER_LEN], EXPORTER_LABEL, None)
                .ok()
        } else {
            None
        };
        let info = TlsInfo {
            version,
            cipher,
            server_name: conn.server_name().map(str::to_string),
        };
        Some(TlsState {
            info,
            binding: ChannelBinding {
                tls_exporter,
                tls_server_end_point: server_end_point,
            },
        })
    }
}
