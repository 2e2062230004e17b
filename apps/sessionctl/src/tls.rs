//! TLS settings from the command line, as HTTPie reads them: `--verify yes|no|PATH` (a path is
//! a CA bundle that replaces the default roots), `--cert`/`--cert-key` for a client
//! certificate, and `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` when verification is on and no
//! bundle is given (as `requests` does for HTTPie and hac-client-core).

use std::path::PathBuf;

use session_http::transport::{
    ClientCertificate, HttpTransport, TlsConfigError, TlsOptions, TlsProblem, Verify,
};

/// What to add to a TLS error so the user knows which flag fixes it.
pub(crate) fn hint(problem: &TlsProblem) -> &'static str {
    match problem {
        TlsProblem::UntrustedCertificate | TlsProblem::HostnameMismatch { .. } => {
            " [trust a private CA with --verify CA_BUNDLE.pem, or skip verification with --verify no]"
        }
        TlsProblem::ClientCertificateRequired(_) => {
            " [present one with --cert FILE (and --cert-key FILE)]"
        }
        _ => "",
    }
}

/// The verification to use: `flag` (HTTPie's `--verify` value) if it is `no` or a path; else
/// off when `configured_off` (hac-client-cli's `ignore_ssl = true`) and no flag says `yes`;
/// else a bundle from `REQUESTS_CA_BUNDLE` or `CURL_CA_BUNDLE`; else the default roots.
pub(crate) fn verify(
    flag: Option<&str>,
    configured_off: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Verify {
    match flag.map(Verify::from_httpie) {
        // `--verify yes` is HTTPie's default: the environment's bundle still applies.
        Some(Verify::Default) => {}
        Some(explicit) => return explicit,
        None if configured_off => return Verify::Off,
        None => {}
    }
    ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]
        .iter()
        .find_map(|name| env(name).filter(|v| !v.is_empty()))
        .map_or(Verify::Default, |path| {
            Verify::CaBundle(PathBuf::from(path))
        })
}

/// A transport with `verify` and the client certificate, if any. With `warn_when_off`, turning
/// verification off is announced on standard error (not for hac-client-cli's `ignore_ssl`,
/// which hac-client-cli keeps quiet too).
pub(crate) fn transport(
    verify: Verify,
    warn_when_off: bool,
    cert: Option<PathBuf>,
    cert_key: Option<PathBuf>,
) -> Result<HttpTransport, TlsConfigError> {
    if warn_when_off && verify == Verify::Off {
        eprintln!(
            "sessionctl: warning: TLS certificate verification is off; the server is not authenticated"
        );
    }
    let options = TlsOptions {
        verify,
        client_cert: cert.map(|cert| ClientCertificate {
            cert,
            key: cert_key,
        }),
    };
    HttpTransport::new(&options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_config_then_the_environment() {
        let env = |name: &str| (name == "CURL_CA_BUNDLE").then(|| "/env/ca.pem".to_string());
        let none = |_: &str| None;
        assert_eq!(verify(Some("no"), false, &none), Verify::Off);
        assert_eq!(
            verify(Some("yes"), true, &env),
            Verify::CaBundle("/env/ca.pem".into())
        );
        assert_eq!(verify(Some("true"), true, &none), Verify::Default);
        assert_eq!(
            verify(Some("ca.pem"), true, &env),
            Verify::CaBundle("ca.pem".into())
        );
        assert_eq!(verify(None, true, &env), Verify::Off);
        assert_eq!(
            verify(None, false, &env),
            Verify::CaBundle("/env/ca.pem".into())
        );
        assert_eq!(verify(None, false, &none), Verify::Default);
    }
}
