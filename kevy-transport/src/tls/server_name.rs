//! Server-certificate verification for kevy's own TLS clients (the
//! replication link): the chain must lead to a trusted CA, as in Redis, but
//! the certificate need not name the address dialled. Redis's replicas do
//! not check host names (a primary is usually reached by IP and its
//! certificate rarely lists it), so a kevy replica must accept the same
//! certificates a Redis replica accepts.
//!
//! Everything is delegated to rustls's WebPKI verifier; only its verdict
//! "valid chain, wrong name" is turned into success. WebPKI checks the chain
//! before the name, so that verdict is only reached for a trusted chain.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

use super::TlsError;

/// Verifies a server's chain against the CA and ignores its name.
#[derive(Debug)]
pub(crate) struct ChainOnlyServerVerifier {
    webpki: Arc<WebPkiServerVerifier>,
}

impl ChainOnlyServerVerifier {
    pub(crate) fn new(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider).build()?;
        Ok(ChainOnlyServerVerifier { webpki })
    }
}

impl ServerCertVerifier for ChainOnlyServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
