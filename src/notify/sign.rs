//! Webhook signing for DingTalk and Feishu / Lark. Both are HMAC-SHA256 over
//! `"{timestamp}\n{secret}"`, base64, but inverted: DingTalk keys the HMAC with the secret and
//! signs the string (milliseconds, URL-encoded into the query); Feishu keys the HMAC with the
//! string and signs nothing (seconds, sent in the JSON body).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// DingTalk: `base64(HMAC-SHA256(key = secret, msg = "{timestamp_ms}\n{secret}"))`.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    hmac_base64(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    )
}

/// The DingTalk signature as it goes into the query string (`+`, `/`, `=` escaped).
pub fn dingtalk_sign_query_value(secret: &str, timestamp_ms: i64) -> String {
    utf8_percent_encode(&dingtalk_sign(secret, timestamp_ms), NON_ALPHANUMERIC).to_string()
}

/// The DingTalk webhook URL with `&timestamp=…&sign=…` appended.
pub fn dingtalk_signed_url(webhook: &str, secret: &str, timestamp_ms: i64) -> String {
    let separator = if webhook.contains('?') { '&' } else { '?' };
    format!(
        "{webhook}{separator}timestamp={timestamp_ms}&sign={}",
        dingtalk_sign_query_value(secret, timestamp_ms)
    )
}

/// Feishu / Lark: `base64(HMAC-SHA256(key = "{timestamp_s}\n{secret}", msg = ""))`.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    hmac_base64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vectors of ../shared/vectors/notify.json, pinned here so the unit tests run anywhere;
    // tests/github.rs checks the file itself.
    #[test]
    fn dingtalk_matches_the_vector() {
        let secret = "SEC0123456789abcdef";
        assert_eq!(
            dingtalk_sign(secret, 1_700_000_000_000),
            "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
        );
        assert_eq!(
            dingtalk_sign_query_value(secret, 1_700_000_000_000),
            "TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"
        );
        let url = dingtalk_signed_url(
            "https://x/robot/send?access_token=t",
            secret,
            1_700_000_000_000,
        );
        assert!(url.ends_with(
            "&timestamp=1700000000000&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"
        ));
    }

    #[test]
    fn feishu_matches_the_vector() {
        assert_eq!(
            feishu_sign("feishu-secret", 1_700_000_000),
            "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU="
        );
    }
}
