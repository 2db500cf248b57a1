//! SARIF upload to code scanning (security-scan): the SARIF is gzipped then base64-encoded, as
//! the API requires, and the processing status can be polled.

use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{Client, encode_segment};
use super::error::{GithubError, Result};

/// GitHub's limit on the gzipped SARIF.
pub const MAX_GZIPPED_SARIF: usize = 10 * 1024 * 1024;

/// One SARIF upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SarifUpload {
    /// The analysed commit (40 or 64 hex digits).
    pub commit_sha: String,
    /// `refs/heads/…`, `refs/tags/…` or `refs/pull/<n>/merge|head`.
    pub git_ref: String,
    /// The SARIF document as written (JSON bytes).
    pub sarif: Vec<u8>,
    /// The analysis root as it appears in the SARIF, e.g. `file:///github/workspace/`.
    pub checkout_uri: Option<String>,
    pub tool_name: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
}

/// GitHub's receipt for an upload.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SarifReceipt {
    pub id: String,
    pub url: Option<String>,
}

/// Processing state of an upload: `pending`, `complete` or `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SarifStatus {
    pub processing_status: Option<String>,
    pub analyses_url: Option<String>,
    #[serde(default)]
    pub errors: Option<Vec<String>>,
}

/// Gzips and base64-encodes a SARIF document, the form the upload takes.
pub fn encode_sarif(sarif: &[u8]) -> Result<String> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let gzipped = gz
        .write_all(sarif)
        .and_then(|()| gz.finish())
        .map_err(|e| GithubError::decode("code-scanning/upload-sarif", &e.to_string()))?;
    if gzipped.len() > MAX_GZIPPED_SARIF {
        return Err(GithubError::config(
            format!(
                "the SARIF is {} bytes gzipped; code scanning takes at most 10 MiB",
                gzipped.len()
            ),
            "upload fewer results (raise the severity threshold or split the upload by tool)",
        ));
    }
    Ok(STANDARD.encode(gzipped))
}

fn check_upload(upload: &SarifUpload) -> Result<()> {
    let sha_ok = matches!(upload.commit_sha.len(), 40 | 64)
        && upload.commit_sha.chars().all(|c| c.is_ascii_hexdigit());
    if !sha_ok {
        return Err(GithubError::config(
            format!("`{}` is not a full commit SHA", upload.commit_sha),
            "pass the 40-character commit SHA (GITHUB_SHA)",
        ));
    }
    let ref_ok = ["refs/heads/", "refs/tags/", "refs/pull/"]
        .iter()
        .any(|p| upload.git_ref.starts_with(p));
    if !ref_ok {
        return Err(GithubError::config(
            format!("`{}` is not a full ref", upload.git_ref),
            "pass a ref like refs/heads/main or refs/pull/7/merge (GITHUB_REF)",
        ));
    }
    Ok(())
}

impl Client {
    /// Uploads a SARIF document to code scanning.
    pub async fn upload_sarif(&self, upload: &SarifUpload) -> Result<SarifReceipt> {
        check_upload(upload)?;
        let mut body = json!({
            "commit_sha": upload.commit_sha,
            "ref": upload.git_ref,
            "sarif": encode_sarif(&upload.sarif)?,
        });
        let optional = [
            ("checkout_uri", upload.checkout_uri.clone().map(Value::from)),
            ("tool_name", upload.tool_name.clone().map(Value::from)),
            (
                "started_at",
                upload
                    .started_at
                    .map(|t| Value::from(t.to_rfc3339_opts(SecondsFormat::Secs, true))),
            ),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                body[key] = value;
            }
        }
        let path = self.repo_path("/code-scanning/sarifs");
        self.call(
            "code-scanning/upload-sarif",
            Method::POST,
            &path,
            &[],
            Some(&body),
        )
        .await
    }

    /// The processing status of upload `id`.
    pub async fn sarif_status(&self, id: &str) -> Result<SarifStatus> {
        let path = self.repo_path(&format!("/code-scanning/sarifs/{}", encode_segment(id)));
        self.call("code-scanning/get-sarif", Method::GET, &path, &[], None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn sarif_is_gzipped_then_base64() {
        let encoded = encode_sarif(br#"{"version":"2.1.0","runs":[]}"#).unwrap();
        let gzipped = STANDARD.decode(encoded).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gzipped[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, r#"{"version":"2.1.0","runs":[]}"#);
    }

    #[test]
    fn short_shas_and_bare_refs_are_refused_before_sending() {
        let upload = SarifUpload {
            commit_sha: "abc".into(),
            git_ref: "main".into(),
            sarif: Vec::new(),
            checkout_uri: None,
            tool_name: None,
            started_at: None,
        };
        assert!(
            check_upload(&upload)
                .unwrap_err()
                .to_string()
                .contains("SHA")
        );
        let upload = SarifUpload {
            commit_sha: "a".repeat(40),
            ..upload
        };
        assert!(
            check_upload(&upload)
                .unwrap_err()
                .to_string()
                .contains("not a full ref")
        );
    }
}
