//! Chat notifications: WeCom, DingTalk (signed), Feishu / Lark (signed), Slack.
//!
//! One [`Notification`] is rendered per channel (`render`), signed where the chat wants it
//! (`sign`), and posted with `reqwest`. Webhook URLs and secrets are [`Secret`]s: masked when
//! parsed, never in an error. A failed webhook is a [`NotifyError`], which callers report as a
//! `::warning::` ([`Notifier::send_and_warn`]); a notification never fails an action.

pub mod render;
pub mod sign;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::cli::NotifyArgs;
use crate::error::Error;
use crate::runner::mask::redact;
use crate::runner::{Annotation, Level, Secret, command::annotate};

/// What happened, in every channel's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Started,
    Succeeded,
    Failed,
    RolledBack,
    Warning,
}

/// A message about one action's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub title: String,
    pub status: Status,
    pub environment: Option<String>,
    pub version: Option<String>,
    /// A link for details: the service URL or the workflow run.
    pub url: Option<String>,
    /// More `key: value` facts, in order.
    pub details: Vec<(String, String)>,
}

impl Notification {
    pub fn new(title: &str, status: Status) -> Self {
        Notification {
            title: title.to_string(),
            status,
            environment: None,
            version: None,
            url: None,
            details: Vec::new(),
        }
    }
}

/// One configured chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    WeCom {
        webhook: Secret,
    },
    DingTalk {
        webhook: Secret,
        secret: Option<Secret>,
    },
    Feishu {
        webhook: Secret,
        secret: Option<Secret>,
    },
    Slack {
        webhook: Secret,
    },
}

impl Channel {
    pub fn name(&self) -> &'static str {
        match self {
            Channel::WeCom { .. } => "WeCom",
            Channel::DingTalk { .. } => "DingTalk",
            Channel::Feishu { .. } => "Feishu",
            Channel::Slack { .. } => "Slack",
        }
    }

    /// The URL and JSON body to post, at `now_ms` (Unix milliseconds; signatures use it).
    pub fn request(&self, n: &Notification, now_ms: i64) -> (String, Value) {
        match self {
            Channel::WeCom { webhook } => (webhook.expose().to_string(), render::wecom(n)),
            Channel::DingTalk { webhook, secret } => {
                let url = match secret {
                    Some(secret) => {
                        sign::dingtalk_signed_url(webhook.expose(), secret.expose(), now_ms)
                    }
                    None => webhook.expose().to_string(),
                };
                (url, render::dingtalk(n))
            }
            Channel::Feishu { webhook, secret } => {
                let now_s = now_ms.div_euclid(1000);
                let signature = secret
                    .as_ref()
                    .map(|s| (now_s, sign::feishu_sign(s.expose(), now_s)));
                (webhook.expose().to_string(), render::feishu(n, signature))
            }
            Channel::Slack { webhook } => (webhook.expose().to_string(), render::slack(n)),
        }
    }

    /// Reads the chat's answer: all four answer 200 to many failures, so the body decides.
    pub fn check_answer(&self, status: u16, body: &str) -> Result<(), String> {
        let json: Option<Value> = serde_json::from_str(body).ok();
        let code = |key: &str| {
            json.as_ref()
                .and_then(|j| j.get(key))
                .and_then(Value::as_i64)
        };
        let text = |key: &str| {
            json.as_ref()
                .and_then(|j| j.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let verdict = match self {
            Channel::Slack { .. } if status == 200 && body.trim() == "ok" => Ok(()),
            Channel::Slack { .. } => Err(body.trim().chars().take(200).collect()),
            _ if !(200..300).contains(&status) => Err(body.chars().take(200).collect()),
            Channel::WeCom { .. } | Channel::DingTalk { .. } => match code("errcode") {
                Some(0) => Ok(()),
                Some(c) => Err(format!("errcode {c}: {}", text("errmsg"))),
                None => Err("the answer has no errcode".to_string()),
            },
            Channel::Feishu { .. } => match code("code").or_else(|| code("StatusCode")) {
                Some(0) => Ok(()),
                Some(c) => Err(format!(
                    "code {c}: {}{}",
                    text("msg"),
                    text("StatusMessage")
                )),
                None => Err("the answer has no code".to_string()),
            },
        };
        verdict.map_err(|problem| format!("HTTP {status}, {problem}"))
    }
}

/// A notification that did not arrive. Warning level: log it, never fail on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{channel} notification failed: {problem}")]
pub struct NotifyError {
    pub channel: &'static str,
    /// Redacted: never holds the webhook URL or a secret.
    pub problem: String,
}

impl NotifyError {
    fn new(channel: &'static str, problem: &str) -> Self {
        NotifyError {
            channel,
            problem: redact(problem),
        }
    }

    /// Reports the failure as a `::warning::`.
    pub fn warn(&self) {
        annotate(
            Level::Warning,
            &Annotation::titled("Notification failed"),
            &self.to_string(),
        );
    }
}

type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Sends notifications to every configured chat.
#[derive(Clone)]
pub struct Notifier {
    channels: Vec<Channel>,
    http: reqwest::Client,
    now_ms: Clock,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.channels.iter().map(Channel::name).collect();
        f.debug_struct("Notifier")
            .field("channels", &names)
            .finish()
    }
}

fn webhook(input: &str, value: &Option<Secret>) -> crate::error::Result<Option<Secret>> {
    let Some(secret) = value else { return Ok(None) };
    let url = secret.expose();
    if url.is_empty() {
        return Ok(None);
    }
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || reqwest::Url::parse(url).is_err()
    {
        // Never echo the value: the URL is the credential.
        return Err(Error::input(
            input,
            "is not an http(s) URL",
            "pass the whole webhook URL the chat gave you, from a repository secret",
        ));
    }
    Ok(Some(secret.clone()))
}

fn signing_secret(
    input: &str,
    webhook_input: &str,
    value: &Option<Secret>,
    has_webhook: bool,
) -> crate::error::Result<Option<Secret>> {
    match value {
        Some(secret) if !secret.expose().is_empty() && !has_webhook => Err(Error::input(
            input,
            format!("is set but `{webhook_input}` is not"),
            format!("set `{webhook_input}` too, or remove `{input}`"),
        )),
        Some(secret) if !secret.expose().is_empty() => Ok(Some(secret.clone())),
        _ => Ok(None),
    }
}

/// The chats configured by the notification inputs, validated (exit 2 on a bad value).
pub fn channels(args: &NotifyArgs) -> crate::error::Result<Vec<Channel>> {
    let mut channels = Vec::new();
    if let Some(webhook) = webhook("wecom_webhook", &args.wecom_webhook)? {
        channels.push(Channel::WeCom { webhook });
    }
    let ding = webhook("dingtalk_webhook", &args.dingtalk_webhook)?;
    let ding_secret = signing_secret(
        "dingtalk_secret",
        "dingtalk_webhook",
        &args.dingtalk_secret,
        ding.is_some(),
    )?;
    if let Some(webhook) = ding {
        channels.push(Channel::DingTalk {
            webhook,
            secret: ding_secret,
        });
    }
    let feishu = webhook("feishu_webhook", &args.feishu_webhook)?;
    let feishu_secret = signing_secret(
        "feishu_secret",
        "feishu_webhook",
        &args.feishu_secret,
        feishu.is_some(),
    )?;
    if let Some(webhook) = feishu {
        channels.push(Channel::Feishu {
            webhook,
            secret: feishu_secret,
        });
    }
    if let Some(webhook) = webhook("slack_webhook", &args.slack_webhook)? {
        channels.push(Channel::Slack { webhook });
    }
    Ok(channels)
}

impl Notifier {
    pub fn new(channels: Vec<Channel>) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("deploy-tcb/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Notifier {
            channels,
            http,
            now_ms: Arc::new(|| chrono::Utc::now().timestamp_millis()),
        }
    }

    /// A notifier for the chats in `args`; errors name the bad input.
    pub fn from_args(args: &NotifyArgs) -> crate::error::Result<Notifier> {
        Ok(Notifier::new(channels(args)?))
    }

    /// Replaces the clock (Unix milliseconds) used for signatures.
    pub fn with_clock(mut self, now_ms: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.now_ms = Arc::new(now_ms);
        self
    }

    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Posts to every chat concurrently; returns the failures (empty when all arrived).
    pub async fn send(&self, n: &Notification) -> Vec<NotifyError> {
        let mut tasks = tokio::task::JoinSet::new();
        for channel in &self.channels {
            let (http, channel, n) = (self.http.clone(), channel.clone(), n.clone());
            let now_ms = (self.now_ms)();
            tasks.spawn(async move { send_one(&http, &channel, &n, now_ms).await });
        }
        let mut failures = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(failure)) => failures.push(failure),
                Err(panic) => failures.push(NotifyError::new("notify", &panic.to_string())),
            }
        }
        failures
    }

    /// Posts to every chat and turns each failure into a `::warning::`; returns how many arrived.
    pub async fn send_and_warn(&self, n: &Notification) -> usize {
        let failures = self.send(n).await;
        failures.iter().for_each(NotifyError::warn);
        self.channels.len() - failures.len()
    }
}

async fn send_one(
    http: &reqwest::Client,
    channel: &Channel,
    n: &Notification,
    now_ms: i64,
) -> Result<(), NotifyError> {
    let (url, body) = channel.request(n, now_ms);
    let fail = |problem: &str| NotifyError::new(channel.name(), problem);
    let response = http
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| fail(&crate::github::client::error_chain(&e.without_url())))?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    channel.check_answer(status, &text).map_err(|p| fail(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> NotifyArgs {
        NotifyArgs {
            wecom_webhook: None,
            dingtalk_webhook: None,
            dingtalk_secret: None,
            feishu_webhook: None,
            feishu_secret: None,
            slack_webhook: None,
        }
    }

    #[test]
    fn no_inputs_means_no_channels() {
        assert!(channels(&args()).unwrap().is_empty());
    }

    #[test]
    fn a_secret_without_its_webhook_is_an_input_error() {
        let mut a = args();
        a.dingtalk_secret = Some(Secret::new("SEC-unit-test-secret"));
        let error = channels(&a).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("dingtalk_secret"));
        assert!(error.fix().unwrap().contains("dingtalk_webhook"));
    }

    #[test]
    fn a_bad_webhook_is_named_but_not_echoed() {
        let mut a = args();
        a.slack_webhook = Some(Secret::new("not-a-url-secret-value"));
        let error = channels(&a).unwrap_err();
        assert!(error.to_string().contains("slack_webhook"));
        assert!(!format!("{error} {:?}", error.fix()).contains("not-a-url-secret-value"));
    }

    #[test]
    fn dingtalk_request_is_signed_in_the_query() {
        let channel = Channel::DingTalk {
            webhook: Secret::new("https://oapi.dingtalk.com/robot/send?access_token=tok123"),
            secret: Some(Secret::new("SEC0123456789abcdef")),
        };
        let (url, _) = channel.request(
            &Notification::new("t", Status::Succeeded),
            1_700_000_000_000,
        );
        assert!(url.contains("access_token=tok123&timestamp=1700000000000&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"));
    }

    #[test]
    fn feishu_request_uses_seconds() {
        let channel = Channel::Feishu {
            webhook: Secret::new("https://open.feishu.cn/open-apis/bot/v2/hook/abc"),
            secret: Some(Secret::new("feishu-secret")),
        };
        let (_, body) = channel.request(&Notification::new("t", Status::Failed), 1_700_000_000_999);
        assert_eq!(body["timestamp"], "1700000000");
        assert_eq!(body["sign"], "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU=");
    }

    #[test]
    fn answers_are_judged_by_their_body() {
        let wecom = Channel::WeCom {
            webhook: Secret::new("https://q/x?key=k-unit"),
        };
        assert!(
            wecom
                .check_answer(200, r#"{"errcode":0,"errmsg":"ok"}"#)
                .is_ok()
        );
        let err = wecom.check_answer(200, r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#);
        assert!(err.unwrap_err().contains("45009"));
        let feishu = Channel::Feishu {
            webhook: Secret::new("https://f/x-unit"),
            secret: None,
        };
        assert!(
            feishu
                .check_answer(200, r#"{"code":0,"msg":"success","data":{}}"#)
                .is_ok()
        );
        assert!(
            feishu
                .check_answer(200, r#"{"code":19021,"msg":"sign match fail"}"#)
                .is_err()
        );
        let slack = Channel::Slack {
            webhook: Secret::new("https://hooks.slack.com/s/unit"),
        };
        assert!(slack.check_answer(200, "ok").is_ok());
        assert!(
            slack
                .check_answer(404, "channel_not_found")
                .unwrap_err()
                .contains("channel_not_found")
        );
    }
}
