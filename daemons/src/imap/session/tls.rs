//! TLS facts of a connection: protocol, cipher and the channel bindings
//! SCRAM-…-PLUS needs (RFC 9266 tls-exporter, RFC 5929
//! tls-server-end-point). STARTTLS itself is `cmd/starttls.rs`.

use tokio::io::{AsyncRead, AsyncWrite};

use super::io::Conn;
use super::{Session, SessionError};
use crate::imap::backend::Backend;
use crate::sasl::ChannelBinding;

/// RFC 9266 §2: label of the `tls-exporter` channel binding.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";
/// RFC 9266 §2: 32 octets.
const EXPORTER_LEN: usize = 32;

pub struct TlsState {
    pub version: String,
    pub binding: ChannelBinding,
}

impl<S, B> Session<S, B>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    B: Backend,
{
    /// Implicit TLS (RFC 8314 §3.3): the handshake comes before the greeting.
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

    pub(crate) fn tls_state(&self, server_end_point: Option<Vec<u8>>) -> Option<TlsState> {
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
        // RFC 9266 §3: tls-exporter only with TLS 1.3 here (TLS 1.2 would
        // need the extended master secret, which is not checked).
        let tls_exporter = if tls13 {
            conn.export_keying_material(vec![0u8; EXPORTER_LEN], EXPORTER_LABEL, None)
                .ok()
        } else {
            None
        };
        Some(TlsState {
            version,
            binding: ChannelBinding {
                tls_exporter,
                tls_server_end_point: server_end_point,
            },
        })
    }
}
