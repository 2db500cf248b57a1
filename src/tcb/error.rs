//! The Tencent Cloud error envelope and the client's typed errors.
//!
//! The cloud answers HTTP 200 even on errors, with
//! `{"Response":{"Error":{"Code":"…","Message":"…"},"RequestId":"…"}}`; a success is
//! `{"Response":{…fields…,"RequestId":"…"}}`. Anything that is not HTTP 200 is a transport
//! failure (the official SDK's `ServerNetworkError`).

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::runner::mask;

/// An error the cloud answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `RequestLimitExceeded`, `ResourceInUse`, `AuthFailure.SignatureFailure`, …
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl ApiError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            code: code.into(),
            message: message.into(),
            request_id: None,
        }
    }

    fn code_is(&self, family: &str) -> bool {
        self.code == family
            || self
                .code
                .strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('.'))
    }

    /// `RequestLimitExceeded` and its sub-codes: the call was refused, not run.
    pub fn is_throttled(&self) -> bool {
        self.code_is("RequestLimitExceeded")
    }

    /// `InternalError*` and `ServiceUnavailable`: the server failed; the call may or may not
    /// have taken effect.
    pub fn is_internal(&self) -> bool {
        self.code_is("InternalError") || self.code_is("ServiceUnavailable")
    }

    /// `ResourceInUse*`: another release task is running on the service.
    pub fn is_resource_in_use(&self) -> bool {
        self.code_is("ResourceInUse")
    }

    /// `AuthFailure*` and `UnauthorizedOperation*`: bad or expired credentials, or CAM denies.
    pub fn is_auth(&self) -> bool {
        self.code_is("AuthFailure") || self.code_is("UnauthorizedOperation")
    }

    /// The temporary credentials' token is invalid or expired: refresh them and try again.
    pub fn is_token_expired(&self) -> bool {
        self.code == "AuthFailure.TokenFailure"
    }

    /// The timestamp was more than 5 minutes off: sign again with a fresh one.
    pub fn is_signature_expired(&self) -> bool {
        self.code == "AuthFailure.SignatureExpire"
    }

    /// The thing asked about does not exist. CloudBase Run also answers `InvalidParameter`
    /// with "service data illegal" for a service that does not exist (what manager-node reads).
    pub fn is_not_found(&self) -> bool {
        self.code_is("ResourceNotFound")
            || (self.code == "InvalidParameter" && self.message.contains("service data illegal"))
    }

    /// The envelope the cloud sends for this error.
    pub fn to_envelope(&self, request_id: &str) -> Value {
        json!({"Response": {
            "Error": {"Code": self.code, "Message": self.message},
            "RequestId": request_id,
        }})
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, mask::redact(&self.message))?;
        if let Some(id) = &self.request_id {
            write!(f, " (RequestId {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// The success envelope around a response's fields (the emulator's side).
pub fn success_envelope(mut fields: Value, request_id: &str) -> Value {
    if let Value::Object(map) = &mut fields {
        map.insert("RequestId".into(), Value::String(request_id.to_string()));
    }
    json!({ "Response": fields })
}

/// Reads an envelope: the inner `Response` object on success, the [`ApiError`] it carries
/// otherwise. `Err(None)` when the body is not an envelope at all.
pub fn parse_envelope(body: &[u8]) -> Result<Value, Option<ApiError>> {
    let value: Value = serde_json::from_slice(body).map_err(|_| None)?;
    let Some(Value::Object(response)) = value.get("Response") else {
        return Err(None);
    };
    let request_id = response
        .get("RequestId")
        .and_then(Value::as_str)
        .map(str::to_string);
    match response.get("Error") {
        None | Some(Value::Null) => Ok(Value::Object(response.clone())),
        Some(error) => Err(Some(ApiError {
            code: text(error, "Code").unwrap_or("InternalError").to_string(),
            message: text(error, "Message").unwrap_or_default().to_string(),
            request_id,
        })),
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// Why the transport failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// No answer within the per-call timeout.
    Timeout,
    /// Could not connect, or the connection broke.
    Connect,
    /// An HTTP status other than 200.
    Status(u16),
    /// The body could not be read.
    Body,
}

/// Everything a call can fail with. Messages never carry a secret: they pass through the mask.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The cloud answered with an error envelope.
    #[error("{action}: {error}")]
    Api { action: String, error: ApiError },
    /// The request did not get an answer.
    #[error("{action}: {}", transport_message(*kind, detail))]
    Transport {
        action: String,
        kind: TransportKind,
        detail: String,
    },
    /// The cloud answered 200 with something that is not the response we expect.
    #[error("{action}: unexpected response ({})", mask::redact(detail))]
    Decode { action: String, detail: String },
    /// No credentials could be had (the credential source failed).
    #[error("credentials: {}", mask::redact(.0))]
    Credentials(String),
    /// A mutating call failed in a way that may or may not have changed state, and its re-check
    /// could not tell, so it was not sent again.
    #[error("{action}: gave up after {attempts} attempt(s) over {elapsed:?}: {last}")]
    GaveUp {
        action: String,
        attempts: u32,
        elapsed: Duration,
        last: Box<ClientError>,
    },
}

fn transport_message(kind: TransportKind, detail: &str) -> String {
    let detail = mask::redact(detail);
    match kind {
        TransportKind::Timeout => format!("timed out ({detail})"),
        TransportKind::Connect => format!("network error ({detail})"),
        TransportKind::Status(code) => format!("HTTP {code} ({detail})"),
        TransportKind::Body => format!("could not read the response ({detail})"),
    }
}

impl ClientError {
    /// The cloud's error, when the cloud answered with one (also inside `GaveUp`).
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ClientError::Api { error, .. } => Some(error),
            ClientError::GaveUp { last, .. } => last.api(),
            _ => None,
        }
    }

    /// The cloud's error code, if any.
    pub fn code(&self) -> Option<&str> {
        self.api().map(|e| e.code.as_str())
    }

    /// True for failures a read may simply be sent again for: throttling, internal errors and
    /// transport failures. A 4xx status other than 408 and 429 means the endpoint is wrong (a
    /// proxy or another server answered), which no retry cures.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Api { error, .. } => error.is_throttled() || error.is_internal(),
            ClientError::Transport {
                kind: TransportKind::Status(code),
                ..
            } => !(400..500).contains(code) || matches!(code, 408 | 429),
            ClientError::Transport { .. } => true,
            _ => false,
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ClientError::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        )
    }
}

impl From<ClientError> for crate::error::Error {
    fn from(error: ClientError) -> Self {
        crate::error::Error::Failure(anyhow::Error::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_error_and_success_envelopes() {
        let body = br#"{"Response":{"Error":{"Code":"ResourceInUse","Message":"busy"},"RequestId":"r-1"}}"#;
        let error = parse_envelope(body).unwrap_err().unwrap();
        assert_eq!(error.code, "ResourceInUse");
        assert_eq!(error.request_id.as_deref(), Some("r-1"));
        assert!(error.is_resource_in_use() && !error.is_throttled());
        let ok = parse_envelope(br#"{"Response":{"TaskId":0,"RequestId":"r-2"}}"#).unwrap();
        assert_eq!(ok["TaskId"], 0);
        assert_eq!(parse_envelope(b"<html>"), Err(None));
        assert_eq!(parse_envelope(br#"{"Other":1}"#), Err(None));
    }

    #[test]
    fn classifies_codes_by_family() {
        let is = |code: &str| ApiError::new(code, "m");
        assert!(is("RequestLimitExceeded.UinLimitExceeded").is_throttled());
        assert!(!is("RequestLimitExceededX").is_throttled());
        assert!(is("InternalError.DbError").is_internal());
        assert!(is("ServiceUnavailable").is_internal());
        assert!(is("AuthFailure.SignatureFailure").is_auth());
        assert!(is("UnauthorizedOperation").is_auth());
        assert!(is("AuthFailure.TokenFailure").is_token_expired());
        assert!(is("ResourceNotFound.ServerNotFound").is_not_found());
        assert!(ApiError::new("InvalidParameter", "service data illegal").is_not_found());
        assert!(!is("InvalidParameter").is_not_found());
    }

    #[test]
    fn envelopes_round_trip() {
        let error = ApiError::new("MissingParameter", "missing `EnvId`");
        let body = serde_json::to_vec(&error.to_envelope("req-9")).unwrap();
        let back = parse_envelope(&body).unwrap_err().unwrap();
        assert_eq!(back.request_id.as_deref(), Some("req-9"));
        assert_eq!((back.code, back.message), (error.code, error.message));
        let ok = success_envelope(json!({"TaskId": 3}), "req-10");
        assert_eq!(ok["Response"]["RequestId"], "req-10");
    }

    #[test]
    fn transport_failures_are_transient_except_client_errors() {
        let status = |code| ClientError::Transport {
            action: "A".into(),
            kind: TransportKind::Status(code),
            detail: String::new(),
        };
        assert!(status(502).is_transient() && status(429).is_transient());
        assert!(!status(404).is_transient() && !status(405).is_transient());
        let timeout = ClientError::Transport {
            action: "A".into(),
            kind: TransportKind::Timeout,
            detail: String::new(),
        };
        assert!(timeout.is_transient() && timeout.is_timeout());
    }

    #[test]
    fn messages_are_masked() {
        mask::register("very-secret-token-value");
        let error = ClientError::Decode {
            action: "CreateInstanceToken".into(),
            detail: "invalid type: \"very-secret-token-value\"".into(),
        };
        assert!(!error.to_string().contains("very-secret-token-value"));
    }
}
