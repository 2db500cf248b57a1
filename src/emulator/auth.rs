//! Who may call: TC3-HMAC-SHA256 verification with the emulator's key pair and the temporary
//! credentials its sts issued. Signing itself is `crate::tcb::tc3`, shared with the client.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::rng::SeededRng;
use super::state::ApiError;
use crate::tcb::tc3::{self, Authorization};

/// The largest clock skew the cloud accepts, in seconds.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// A temporary credential issued by `sts:AssumeRoleWithWebIdentity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TempCredential {
    pub secret_key: String,
    pub token: String,
    /// Unix seconds.
    pub expires: i64,
}

impl TempCredential {
    /// Issues a fresh triple; returns the secret id with it.
    pub fn issue(
        rng: &mut SeededRng,
        now_unix: i64,
        duration_seconds: i64,
    ) -> (String, TempCredential) {
        let secret_id = format!("AKID{}", rng.alphanumeric(32));
        let credential = TempCredential {
            secret_key: rng.alphanumeric(32),
            token: rng.alphanumeric(96),
            expires: now_unix + duration_seconds,
        };
        (secret_id, credential)
    }
}

/// Request headers by lower-case name.
pub type Headers = BTreeMap<String, String>;

/// A header lookup by lower-case name.
pub fn lookup<'m>(headers: &'m Headers) -> impl Fn(&str) -> Option<&'m str> + 'm {
    move |name| headers.get(name).map(String::as_str)
}

/// The same lookup with `host` replaced.
fn with_host<'m>(headers: &'m Headers, host: &'m str) -> impl Fn(&str) -> Option<&'m str> + 'm {
    move |name| {
        if name == "host" {
            Some(host)
        } else {
            headers.get(name).map(String::as_str)
        }
    }
}

/// The request as the verifier sees it.
pub struct SignedRequest<'a> {
    pub headers: &'a Headers,
    pub body: &'a [u8],
    /// The credential-scope service the action belongs to (`tcbr`, `sts`, `tcr`).
    pub service: &'a str,
}

fn auth_error(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

/// Verifies a signed request. `long_term` is the key pair the emulator was started with.
pub fn verify(
    request: &SignedRequest<'_>,
    long_term: (&str, &str),
    temporary: &BTreeMap<String, TempCredential>,
    now_unix: i64,
) -> Result<(), ApiError> {
    let header = lookup(request.headers);
    let raw = header("authorization").ok_or_else(|| {
        ApiError::new(
            "AuthFailure.InvalidAuthorization",
            "the Authorization header is missing",
        )
    })?;
    let auth = Authorization::parse(raw)
        .map_err(|e| auth_error("AuthFailure.InvalidAuthorization", e.to_string()))?;
    let timestamp = timestamp(request.headers)?;
    if (now_unix - timestamp).abs() > MAX_SKEW_SECONDS {
        return Err(auth_error(
            "AuthFailure.SignatureExpire",
            format!(
                "the request timestamp {timestamp} is more than 5 minutes from the server time {now_unix}"
            ),
        ));
    }
    if !auth.date_matches(timestamp) {
        return Err(auth_error(
            "AuthFailure.SignatureFailure",
            format!(
                "the credential date {} is not the UTC date of X-TC-Timestamp",
                auth.date
            ),
        ));
    }
    if auth.service != request.service {
        return Err(auth_error(
            "AuthFailure.InvalidAuthorization",
            format!(
                "the credential scope names service `{}`, but this action belongs to `{}`",
                auth.service, request.service
            ),
        ));
    }
    let secret_key = secret_key_for(&auth, request.headers, long_term, temporary, now_unix)?;
    if signature_matches(&auth, &secret_key, timestamp, request.headers, request.body) {
        Ok(())
    } else {
        Err(auth_error(
            "AuthFailure.SignatureFailure",
            "the request signature does not match: check the SecretKey and sign the exact body and Host sent",
        ))
    }
}

fn timestamp(headers: &Headers) -> Result<i64, ApiError> {
    let raw = lookup(headers)("x-tc-timestamp").ok_or_else(|| {
        ApiError::new("MissingParameter", "the request is missing X-TC-Timestamp")
    })?;
    raw.trim().parse().map_err(|_| {
        ApiError::new(
            "InvalidParameter",
            format!("X-TC-Timestamp `{raw}` is not Unix seconds"),
        )
    })
}

/// The key that signs for `auth.secret_id`; a temporary one also needs its token.
fn secret_key_for(
    auth: &Authorization,
    headers: &Headers,
    long_term: (&str, &str),
    temporary: &BTreeMap<String, TempCredential>,
    now_unix: i64,
) -> Result<String, ApiError> {
    if auth.secret_id == long_term.0 {
        return Ok(long_term.1.to_string());
    }
    let Some(temp) = temporary.get(&auth.secret_id) else {
        return Err(auth_error(
            "AuthFailure.SecretIdNotFound",
            "the SecretId is not known to this emulator",
        ));
    };
    if temp.expires < now_unix {
        return Err(auth_error(
            "AuthFailure.TokenFailure",
            "the temporary credential has expired",
        ));
    }
    match headers.get("x-tc-token") {
        Some(token) if tc3::constant_time_eq(token.as_bytes(), temp.token.as_bytes()) => {
            Ok(temp.secret_key.clone())
        }
        Some(_) => Err(auth_error(
            "AuthFailure.TokenFailure",
            "X-TC-Token does not belong to this SecretId",
        )),
        None => Err(auth_error(
            "AuthFailure.TokenFailure",
            "a temporary SecretId needs its session token in X-TC-Token",
        )),
    }
}

/// Checks the signature over the Host as sent and, when it carries a port, over the bare host
/// too (some clients sign the host without the port they connect to).
fn signature_matches(
    auth: &Authorization,
    secret_key: &str,
    timestamp: i64,
    headers: &Headers,
    body: &[u8],
) -> bool {
    let header = lookup(headers);
    if auth.verify(secret_key, timestamp, &header, body) {
        return true;
    }
    let Some(host) = header("host") else {
        return false;
    };
    let Some((bare, port)) = host.rsplit_once(':') else {
        return false;
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    auth.verify(secret_key, timestamp, with_host(headers, bare), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcb::tc3::{CallInput, SigningKey, sign_request};

    const ID: &str = "AKIDTEST";
    const KEY: &str = "test-key";

    fn signed(
        host: &str,
        signed_host: &str,
        ts: i64,
        body: &[u8],
        key: &SigningKey<'_>,
    ) -> Headers {
        let call = CallInput {
            service: "tcbr",
            host: signed_host,
            action: "DescribeCloudRunServers",
            version: "2022-02-17",
            region: None,
            timestamp: ts,
            body,
        };
        sign_request(&call, Some(key))
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    if k == "Host" { host.to_string() } else { v },
                )
            })
            .collect()
    }

    fn check(
        headers: &Headers,
        body: &[u8],
        temp: &BTreeMap<String, TempCredential>,
        now: i64,
    ) -> Result<(), ApiError> {
        let request = SignedRequest {
            headers,
            body,
            service: "tcbr",
        };
        verify(&request, (ID, KEY), temp, now)
    }

    fn code(result: Result<(), ApiError>) -> String {
        result.err().map(|e| e.code).unwrap_or_else(|| "ok".into())
    }

    #[test]
    fn accepts_a_good_signature_with_or_without_the_port_in_the_signed_host() {
        let key = SigningKey {
            secret_id: ID,
            secret_key: KEY,
            token: None,
        };
        let body = br#"{"EnvId":"env-1"}"#;
        let none = BTreeMap::new();
        let with_port = signed(
            "127.0.0.1:9000",
            "127.0.0.1:9000",
            1_700_000_000,
            body,
            &key,
        );
        assert_eq!(code(check(&with_port, body, &none, 1_700_000_100)), "ok");
        let bare = signed("127.0.0.1:9000", "127.0.0.1", 1_700_000_000, body, &key);
        assert_eq!(code(check(&bare, body, &none, 1_700_000_000)), "ok");
    }

    #[test]
    fn rejects_wrong_key_tampered_body_stale_time_and_unknown_id() {
        let body = br#"{"EnvId":"env-1"}"#;
        let none = BTreeMap::new();
        let wrong = SigningKey {
            secret_id: ID,
            secret_key: "nope",
            token: None,
        };
        let h = signed("h:1", "h:1", 1_700_000_000, body, &wrong);
        assert_eq!(
            code(check(&h, body, &none, 1_700_000_000)),
            "AuthFailure.SignatureFailure"
        );
        let good = SigningKey {
            secret_id: ID,
            secret_key: KEY,
            token: None,
        };
        let h = signed("h:1", "h:1", 1_700_000_000, body, &good);
        assert_eq!(
            code(check(&h, br#"{"EnvId":"env-2"}"#, &none, 1_700_000_000)),
            "AuthFailure.SignatureFailure"
        );
        assert_eq!(
            code(check(&h, body, &none, 1_700_000_301)),
            "AuthFailure.SignatureExpire"
        );
        let stranger = SigningKey {
            secret_id: "AKIDOTHER",
            secret_key: KEY,
            token: None,
        };
        let h = signed("h:1", "h:1", 1_700_000_000, body, &stranger);
        assert_eq!(
            code(check(&h, body, &none, 1_700_000_000)),
            "AuthFailure.SecretIdNotFound"
        );
        let mut h = signed("h:1", "h:1", 1_700_000_000, body, &good);
        h.remove("authorization");
        assert_eq!(
            code(check(&h, body, &none, 1_700_000_000)),
            "AuthFailure.InvalidAuthorization"
        );
    }

    #[test]
    fn temporary_credentials_need_their_token_and_expire() {
        let mut rng = SeededRng::new(1);
        let (id, temp) = TempCredential::issue(&mut rng, 1_700_000_000, 600);
        let mut issued = BTreeMap::new();
        issued.insert(id.clone(), temp.clone());
        let body = b"{}";
        let with_token = SigningKey {
            secret_id: &id,
            secret_key: &temp.secret_key,
            token: Some(&temp.token),
        };
        let h = signed("h", "h", 1_700_000_100, body, &with_token);
        assert_eq!(code(check(&h, body, &issued, 1_700_000_100)), "ok");
        let without = SigningKey {
            token: None,
            ..with_token
        };
        let h2 = signed("h", "h", 1_700_000_100, body, &without);
        assert_eq!(
            code(check(&h2, body, &issued, 1_700_000_100)),
            "AuthFailure.TokenFailure"
        );
        let late = signed("h", "h", 1_700_000_700, body, &with_token);
        assert_eq!(
            code(check(&late, body, &issued, 1_700_000_700)),
            "AuthFailure.TokenFailure"
        );
    }
}
