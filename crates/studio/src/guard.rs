//! Who may talk to the studio: only pages from the studio itself on this machine.
//!
//! - The server listens on 127.0.0.1 only.
//! - Every request carries the random per-run token (query `token=` or header `X-Studio-Token`),
//!   which only the printed URL holds: other local users' processes and other sites cannot guess it.
//! - The `Host` header must be `127.0.0.1:PORT` or `localhost:PORT`: a foreign name that resolves
//!   to 127.0.0.1 (DNS rebinding) is refused even with the token.
//! - An `Origin` header, where the browser sends one, must be the studio's own: no cross-site
//!   request is accepted, whatever it carries.

use axum::http::{HeaderMap, StatusCode, Uri};

/// The checks, for one server.
#[derive(Debug, Clone)]
pub struct Guard {
    token: String,
    port: u16,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: &'static str,
}

impl Guard {
    pub fn new(token: String, port: u16) -> Self {
        Self { token, port }
    }

    /// A fresh random token: 128 bits from the kernel, as hex.
    pub fn random_token() -> std::io::Result<String> {
        use std::io::Read;
        let mut bytes = [0u8; 16];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Checks a request's Host, Origin and token.
    pub fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok());
        if !host.is_some_and(|h| self.is_own_host(h)) {
            return Err(Refusal {
                status: StatusCode::FORBIDDEN,
                message: "refused: the Host header is not this studio's (127.0.0.1 or localhost \
                          with its port)",
            });
        }
        if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
            let own = origin.to_str().ok().is_some_and(|o| {
                o.strip_prefix("http://")
                    .is_some_and(|host| self.is_own_host(host))
            });
            if !own {
                return Err(Refusal {
                    status: StatusCode::FORBIDDEN,
                    message: "refused: a cross-origin request (the studio answers only its own \
                              page)",
                });
            }
        }
        let given = headers
            .get("x-studio-token")
            .and_then(|t| t.to_str().ok())
            .map(str::to_owned)
            .or_else(|| query_token(uri));
        match given {
            Some(t) if same(t.as_bytes(), self.token.as_bytes()) => Ok(()),
            Some(_) => Err(Refusal {
                status: StatusCode::FORBIDDEN,
                message: "refused: wrong token (open the URL the studio printed, with its \
                          ?token=...)",
            }),
            None => Err(Refusal {
                status: StatusCode::UNAUTHORIZED,
                message: "refused: no token (open the URL the studio printed, with its \
                          ?token=...)",
            }),
        }
    }

    fn is_own_host(&self, host: &str) -> bool {
        let Some((name, port)) = host.rsplit_once(':') else {
            return false;
        };
        port.parse::<u16>().is_ok_and(|p| p == self.port)
            && (name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost"))
    }
}

fn query_token(uri: &Uri) -> Option<String> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(str::to_owned)
}

/// Compares without stopping at the first difference (no timing hint about the token).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_str(host).expect("header"));
        if let Some(o) = origin {
            h.insert("origin", HeaderValue::from_str(o).expect("header"));
        }
        h
    }

    #[test]
    fn checks_host_origin_and_token() {
        let g = Guard::new("abc123".into(), 8123);
        let ok: Uri = "/api/state?token=abc123".parse().expect("uri");
        assert!(g.check(&ok, &headers("127.0.0.1:8123", None)).is_ok());
        assert!(g.check(&ok, &headers("localhost:8123", None)).is_ok());
        assert!(
            g.check(
                &ok,
                &headers("127.0.0.1:8123", Some("http://127.0.0.1:8123"))
            )
            .is_ok()
        );
        let refused = |uri: &Uri, h: HeaderMap| g.check(uri, &h).map_err(|r| r.status);
        assert_eq!(
            refused(&ok, headers("evil.example:8123", None)),
            Err(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            refused(&ok, headers("127.0.0.1:9999", None)),
            Err(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            refused(
                &ok,
                headers("127.0.0.1:8123", Some("http://evil.example:8123"))
            ),
            Err(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            refused(&ok, headers("127.0.0.1:8123", Some("null"))),
            Err(StatusCode::FORBIDDEN)
        );
        let none: Uri = "/api/state".parse().expect("uri");
        assert_eq!(
            refused(&none, headers("127.0.0.1:8123", None)),
            Err(StatusCode::UNAUTHORIZED)
        );
        let wrong: Uri = "/api/state?token=abc124".parse().expect("uri");
        assert_eq!(
            refused(&wrong, headers("127.0.0.1:8123", None)),
            Err(StatusCode::FORBIDDEN)
        );
    }

    #[test]
    fn tokens_are_random_and_long() {
        let (a, b) = (
            Guard::random_token().expect("urandom"),
            Guard::random_token().expect("urandom"),
        );
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
