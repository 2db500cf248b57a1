//! TC3-HMAC-SHA256, Tencent Cloud's request signature (API 3.0), for both sides of the wire.
//!
//! A client calls [`sign_request`] to build every header of a call. A server (the emulator)
//! parses the `Authorization` header with [`Authorization::parse`] and recomputes the signature
//! with [`expected_signature`] (or [`Authorization::verify`]) over the raw body bytes it received.
//!
//! The algorithm, step by step (each step is a public function so tests can pin the
//! intermediates against the official SDK's):
//! 1. canonical request: method, `/`, query, `content-type:<ct>\nhost:<host>\n`, the signed
//!    header list and the hex SHA-256 of the body;
//! 2. string to sign: algorithm, timestamp, credential scope `<date>/<service>/tc3_request` and
//!    the hex SHA-256 of the canonical request;
//! 3. signing key: HMAC chain `"TC3"+key` → date → service → `tc3_request`;
//! 4. signature: hex HMAC of the string to sign with the signing key.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The algorithm name, first word of the `Authorization` header.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The headers this client signs, as the official SDKs do.
pub const SIGNED_HEADERS: &str = "content-type;host";
/// The content type every JSON call sends (and signs).
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// The last element of every credential scope.
pub const SCOPE_TERMINATOR: &str = "tc3_request";
/// How far a request's `X-TC-Timestamp` may be from the server's clock, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;
/// The `Authorization` value of a deliberately unsigned call (sts:AssumeRoleWithWebIdentity).
pub const SKIP: &str = "SKIP";

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// `YYYY-MM-DD`, the UTC date of a Unix timestamp, as the credential scope spells it.
pub fn scope_date(timestamp: i64) -> String {
    chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// `<date>/<service>/tc3_request`.
pub fn credential_scope(date: &str, service: &str) -> String {
    format!("{date}/{service}/{SCOPE_TERMINATOR}")
}

/// The canonical request over any set of signed headers. `headers` are (lower-case name,
/// value) pairs in the order of `signed_headers`; values are trimmed as the SDK sends them.
pub fn canonical_request_with(
    method: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{}:{}\n", name.to_ascii_lowercase(), value.trim()))
        .collect();
    let signed: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    format!(
        "{method}\n/\n{query}\n{canonical_headers}\n{}\n{}",
        signed.join(";"),
        sha256_hex(body)
    )
}

/// The canonical request of a `POST /` signed over `content-type;host`.
pub fn canonical_request(content_type: &str, host: &str, body: &[u8]) -> String {
    canonical_request_with(
        "POST",
        "",
        &[("content-type", content_type), ("host", host)],
        body,
    )
}

/// `TC3-HMAC-SHA256\n<timestamp>\n<scope>\n<sha256(canonical request)>`.
pub fn string_to_sign(timestamp: i64, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The derived key: `HMAC(HMAC(HMAC("TC3"+secret_key, date), service), "tc3_request")`.
pub fn signing_key(secret_key: &str, date: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let k_service = hmac(&k_date, service.as_bytes());
    hmac(&k_service, SCOPE_TERMINATOR.as_bytes())
}

/// Hex HMAC of the string to sign under the derived key.
pub fn signature(secret_key: &str, date: &str, service: &str, string_to_sign: &str) -> String {
    hex::encode(hmac(
        &signing_key(secret_key, date, service),
        string_to_sign.as_bytes(),
    ))
}

/// What one signature covers (the parts of a call a client or a server knows).
#[derive(Clone, Copy)]
pub struct SignatureInput<'a> {
    pub service: &'a str,
    pub host: &'a str,
    pub content_type: &'a str,
    pub timestamp: i64,
    pub body: &'a [u8],
}

impl fmt::Debug for SignatureInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureInput")
            .field("service", &self.service)
            .field("host", &self.host)
            .field("content_type", &self.content_type)
            .field("timestamp", &self.timestamp)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The full `Authorization` header value for `secret_id`/`secret_key` over `input`.
pub fn authorization(secret_id: &str, secret_key: &str, input: &SignatureInput<'_>) -> String {
    let date = scope_date(input.timestamp);
    let scope = credential_scope(&date, input.service);
    let canonical = canonical_request(input.content_type, input.host, input.body);
    let to_sign = string_to_sign(input.timestamp, &scope, &canonical);
    let signature = signature(secret_key, &date, input.service, &to_sign);
    format!(
        "{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
    )
}

/// One API call, as the client signs it.
#[derive(Clone, Copy)]
pub struct CallInput<'a> {
    /// Credential-scope service: `tcbr`, `sts`, `tcr` (taken from the API, not the endpoint).
    pub service: &'a str,
    /// The `Host` header value, with `:port` when the endpoint has a non-default port.
    pub host: &'a str,
    pub action: &'a str,
    pub version: &'a str,
    pub region: Option<&'a str>,
    pub timestamp: i64,
    pub body: &'a [u8],
}

/// The key pair (and optional session token) that signs a call.
pub struct SigningKey<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    pub token: Option<&'a str>,
}

/// Every header of a signed JSON call, in the order the official SDK sends them:
/// `Content-Type`, `Host`, `X-TC-Action`, `X-TC-Timestamp`, `X-TC-Version`, `X-TC-Region`
/// (when a region is given), `X-TC-Token` (when a token is given), `Authorization`.
/// `key: None` builds an unsigned call (`Authorization: SKIP`, no token), as sts expects for
/// AssumeRoleWithWebIdentity.
pub fn sign_request(
    call: &CallInput<'_>,
    key: Option<&SigningKey<'_>>,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("Content-Type", JSON_CONTENT_TYPE.to_string()),
        ("Host", call.host.to_string()),
        ("X-TC-Action", call.action.to_string()),
        ("X-TC-Timestamp", call.timestamp.to_string()),
        ("X-TC-Version", call.version.to_string()),
    ];
    if let Some(region) = call.region.filter(|r| !r.is_empty()) {
        headers.push(("X-TC-Region", region.to_string()));
    }
    let authorization = match key {
        Some(key) => {
            if let Some(token) = key.token.filter(|t| !t.is_empty()) {
                headers.push(("X-TC-Token", token.to_string()));
            }
            let input = SignatureInput {
                service: call.service,
                host: call.host,
                content_type: JSON_CONTENT_TYPE,
                timestamp: call.timestamp,
                body: call.body,
            };
            authorization(key.secret_id, key.secret_key, &input)
        }
        None => SKIP.to_string(),
    };
    headers.push(("Authorization", authorization));
    headers
}

/// Why an `Authorization` header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the Authorization header is empty")]
    Empty,
    #[error("the signature algorithm `{0}` is not TC3-HMAC-SHA256")]
    Algorithm(String),
    #[error("the Authorization header has no `{0}=` part")]
    MissingPart(&'static str),
    #[error("the credential `{0}` is not <SecretId>/<date>/<service>/tc3_request")]
    Credential(String),
    #[error("the signed headers `{0}` must include content-type and host")]
    SignedHeaders(String),
    #[error("the signature is not 64 lower-case hex digits")]
    Signature,
}

/// A parsed `Authorization: TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    pub secret_id: String,
    /// The credential-scope date, `YYYY-MM-DD`.
    pub date: String,
    /// The credential-scope service (`tcbr`, `sts`, …).
    pub service: String,
    /// Lower-case header names, in the order the client listed them.
    pub signed_headers: Vec<String>,
    /// Lower-case hex.
    pub signature: String,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("secret_id", &self.secret_id)
            .field("date", &self.date)
            .field("service", &self.service)
            .field("signed_headers", &self.signed_headers)
            .finish_non_exhaustive()
    }
}

impl Authorization {
    /// Parses the header value. Parts may come in any order and with or without spaces after
    /// the commas, as different SDKs write them.
    pub fn parse(header: &str) -> Result<Self, ParseError> {
        let header = header.trim();
        if header.is_empty() {
            return Err(ParseError::Empty);
        }
        let (algorithm, rest) = header.split_once(' ').unwrap_or((header, ""));
        if algorithm != ALGORITHM {
            return Err(ParseError::Algorithm(algorithm.to_string()));
        }
        let part = |name: &'static str| {
            rest.split(',')
                .map(str::trim)
                .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .ok_or(ParseError::MissingPart(name))
        };
        let credential = part("Credential")?;
        let signed = part("SignedHeaders")?;
        let signature = part("Signature")?;
        let (secret_id, date, service) = parse_credential(credential)?;
        let signed_headers: Vec<String> = signed
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let has = |name: &str| signed_headers.iter().any(|h| h == name);
        if !has("content-type") || !has("host") {
            return Err(ParseError::SignedHeaders(signed.to_string()));
        }
        let hex_ok = signature.len() == 64
            && signature
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex_ok {
            return Err(ParseError::Signature);
        }
        Ok(Authorization {
            secret_id,
            date,
            service,
            signed_headers,
            signature: signature.to_string(),
        })
    }

    /// True when the scope's date is the UTC date of `timestamp`, as the signature requires.
    pub fn date_matches(&self, timestamp: i64) -> bool {
        self.date == scope_date(timestamp)
    }

    /// Recomputes the signature with `secret_key` over the request and compares it in constant
    /// time. `header` looks up a request header by lower-case name (needed for every signed
    /// header beyond content-type and host, which clients may add).
    pub fn verify<'h>(
        &self,
        secret_key: &str,
        timestamp: i64,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &[u8],
    ) -> bool {
        let Some(values) = self
            .signed_headers
            .iter()
            .map(|name| header(name).map(|value| (name.as_str(), value)))
            .collect::<Option<Vec<_>>>()
        else {
            return false;
        };
        let canonical = canonical_request_with("POST", "", &values, body);
        let scope = credential_scope(&self.date, &self.service);
        let to_sign = string_to_sign(timestamp, &scope, &canonical);
        let expected = signature(secret_key, &self.date, &self.service, &to_sign);
        constant_time_eq(expected.as_bytes(), self.signature.as_bytes())
    }
}

fn parse_credential(credential: &str) -> Result<(String, String, String), ParseError> {
    let bad = || ParseError::Credential(credential.to_string());
    // The secret id itself never contains '/', so split from the right side of the scope.
    let mut parts = credential.rsplitn(4, '/');
    let terminator = parts.next().ok_or_else(bad)?;
    let service = parts.next().ok_or_else(bad)?;
    let date = parts.next().ok_or_else(bad)?;
    let secret_id = parts.next().ok_or_else(bad)?;
    let date_ok = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok();
    if terminator != SCOPE_TERMINATOR || service.is_empty() || secret_id.is_empty() || !date_ok {
        return Err(bad());
    }
    Ok((secret_id.to_string(), date.to_string(), service.to_string()))
}

/// The signature a server expects for a `content-type;host` signed request, given the key it
/// holds for `auth.secret_id`. Uses the scope (date and service) the client declared.
pub fn expected_signature(
    secret_key: &str,
    auth: &Authorization,
    host: &str,
    content_type: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let canonical = canonical_request(content_type, host, body);
    let scope = credential_scope(&auth.date, &auth.service);
    let to_sign = string_to_sign(timestamp, &scope, &canonical);
    signature(secret_key, &auth.date, &auth.service, &to_sign)
}

/// True when `timestamp` is within [`MAX_SKEW_SECONDS`] of `now` (else the cloud answers
/// `AuthFailure.SignatureExpire`).
pub fn timestamp_is_fresh(timestamp: i64, now: i64) -> bool {
    (timestamp - now).abs() <= MAX_SKEW_SECONDS
}

/// Byte equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tencent's published example (API 3.0 signature doc, cvm DescribeInstances).
    const DOC_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******";
    const DOC_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3*******";
    const DOC_BODY: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    const DOC_SIGNATURE: &str = "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c";

    fn doc_input() -> SignatureInput<'static> {
        SignatureInput {
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            content_type: "application/json; charset=utf-8",
            timestamp: 1551113065,
            body: DOC_BODY.as_bytes(),
        }
    }

    #[test]
    fn reproduces_the_published_example() {
        let header = authorization(DOC_ID, DOC_KEY, &doc_input());
        assert_eq!(
            header,
            format!(
                "TC3-HMAC-SHA256 Credential={DOC_ID}/2019-02-25/cvm/tc3_request, \
                 SignedHeaders=content-type;host, Signature={DOC_SIGNATURE}"
            )
        );
    }

    #[test]
    fn a_server_verifies_what_a_client_signed() {
        let header = authorization(DOC_ID, DOC_KEY, &doc_input());
        let auth = Authorization::parse(&header).unwrap();
        assert_eq!(auth.secret_id, DOC_ID);
        assert_eq!(
            (auth.date.as_str(), auth.service.as_str()),
            ("2019-02-25", "cvm")
        );
        assert!(auth.date_matches(1551113065));
        let input = doc_input();
        let lookup = |name: &str| match name {
            "content-type" => Some(input.content_type),
            "host" => Some(input.host),
            _ => None,
        };
        assert!(auth.verify(DOC_KEY, input.timestamp, lookup, input.body));
        assert!(!auth.verify("wrong", input.timestamp, lookup, input.body));
        assert!(!auth.verify(DOC_KEY, input.timestamp, lookup, b"{}"));
        assert!(!auth.verify(DOC_KEY, input.timestamp + 1, lookup, input.body));
        let expected = expected_signature(
            DOC_KEY,
            &auth,
            input.host,
            input.content_type,
            input.timestamp,
            input.body,
        );
        assert_eq!(expected, DOC_SIGNATURE);
    }

    #[test]
    fn parse_rejects_malformed_headers() {
        let sig = "a".repeat(64);
        let cases = [
            ("", ParseError::Empty),
            ("SKIP", ParseError::Algorithm("SKIP".into())),
            (
                "TC3-HMAC-SHA256 SignedHeaders=content-type;host, Signature=x",
                ParseError::MissingPart("Credential"),
            ),
            (
                &*format!(
                    "TC3-HMAC-SHA256 Credential=AKID/2019-02-25/cvm, SignedHeaders=content-type;host, Signature={sig}"
                ),
                ParseError::Credential("AKID/2019-02-25/cvm".into()),
            ),
            (
                &*format!(
                    "TC3-HMAC-SHA256 Credential=AKID/2019-02-25/cvm/tc3_request, SignedHeaders=host, Signature={sig}"
                ),
                ParseError::SignedHeaders("host".into()),
            ),
            (
                "TC3-HMAC-SHA256 Credential=AKID/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=XYZ",
                ParseError::Signature,
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(Authorization::parse(header), Err(expected), "{header}");
        }
    }

    #[test]
    fn parse_accepts_parts_in_any_order_without_spaces() {
        let sig = "0".repeat(64);
        let header = format!(
            "TC3-HMAC-SHA256 Signature={sig},Credential=AK/ID/2024-01-02/tcbr/tc3_request,SignedHeaders=Content-Type;Host;X-TC-Action"
        );
        let auth = Authorization::parse(&header).unwrap();
        assert_eq!(auth.secret_id, "AK/ID");
        assert_eq!(auth.signed_headers, ["content-type", "host", "x-tc-action"]);
    }

    #[test]
    fn extra_signed_headers_are_verified() {
        let body = br#"{"EnvId":"env-1"}"#;
        let headers = [
            ("content-type", "application/json"),
            ("host", "127.0.0.1:9000"),
            ("x-tc-action", "describeenvbaseinfo"),
        ];
        let canonical = canonical_request_with("POST", "", &headers, body);
        let scope = credential_scope("2024-01-02", "tcbr");
        let ts = 1704153600;
        let sig = signature(
            "key",
            "2024-01-02",
            "tcbr",
            &string_to_sign(ts, &scope, &canonical),
        );
        let header = format!(
            "TC3-HMAC-SHA256 Credential=id/{scope}, SignedHeaders=content-type;host;x-tc-action, Signature={sig}"
        );
        let auth = Authorization::parse(&header).unwrap();
        let lookup = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        assert!(auth.verify("key", ts, lookup, body));
        assert!(!auth.verify(
            "key",
            ts,
            |n| if n == "x-tc-action" { None } else { lookup(n) },
            body
        ));
    }

    #[test]
    fn unsigned_calls_say_skip_and_send_no_token() {
        let call = CallInput {
            service: "sts",
            host: "sts.tencentcloudapi.com",
            action: "AssumeRoleWithWebIdentity",
            version: "2018-08-13",
            region: Some("ap-guangzhou"),
            timestamp: 1700000000,
            body: b"{}",
        };
        let headers = sign_request(&call, None);
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("Authorization"), Some("SKIP"));
        assert_eq!(get("X-TC-Token"), None);
        assert_eq!(get("X-TC-Region"), Some("ap-guangzhou"));
    }

    #[test]
    fn timestamps_are_fresh_within_five_minutes_either_way() {
        assert!(timestamp_is_fresh(1000, 1300) && timestamp_is_fresh(1300, 1000));
        assert!(!timestamp_is_fresh(1000, 1301) && !timestamp_is_fresh(1301, 1000));
    }

    #[test]
    fn scope_date_is_utc() {
        assert_eq!(scope_date(1700000000), "2023-11-14");
        assert_eq!(scope_date(1735689599), "2024-12-31");
        assert_eq!(scope_date(1735689600), "2025-01-01");
    }
}
