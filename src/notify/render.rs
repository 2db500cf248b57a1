//! One [`Notification`] rendered for each chat: WeCom markdown, DingTalk markdown, a Feishu /
//! Lark interactive card, Slack blocks with a text fallback. Pure functions of the notification.

use serde_json::{Value, json};

use super::{Notification, Status};

/// WeCom markdown content is limited to 4096 bytes.
pub const WECOM_MAX_BYTES: usize = 4096;
/// DingTalk has no documented markdown limit; 20,000 bytes keeps messages well under its body cap.
pub const DINGTALK_MAX_BYTES: usize = 20_000;
/// Feishu rejects bodies over about 20 KB; the card text stays well below.
pub const FEISHU_MAX_BYTES: usize = 18_000;
/// Slack section text is limited to 3000 characters.
pub const SLACK_SECTION_MAX_CHARS: usize = 3000;

impl Status {
    /// The word shown for the status.
    pub fn label(self) -> &'static str {
        match self {
            Status::Started => "started",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::RolledBack => "rolled back",
            Status::Warning => "needs attention",
        }
    }

    fn emoji(self) -> &'static str {
        match self {
            Status::Started => "🚀",
            Status::Succeeded => "✅",
            Status::Failed => "❌",
            Status::RolledBack => "↩️",
            Status::Warning => "⚠️",
        }
    }

    /// WeCom's three font colours: info (green), comment (grey), warning (orange-red).
    fn wecom_color(self) -> &'static str {
        match self {
            Status::Succeeded => "info",
            Status::Started => "comment",
            Status::Failed | Status::RolledBack | Status::Warning => "warning",
        }
    }

    /// Feishu card header templates.
    fn feishu_template(self) -> &'static str {
        match self {
            Status::Succeeded => "green",
            Status::Started => "blue",
            Status::Failed => "red",
            Status::RolledBack | Status::Warning => "orange",
        }
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
pub fn fit_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let marker = "\n…";
    let mut end = max.saturating_sub(marker.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{marker}", &text[..end])
}

/// The `key: value` lines every channel shows under the title.
fn fact_lines(n: &Notification) -> Vec<(String, String)> {
    let mut facts = Vec::new();
    if let Some(environment) = &n.environment {
        facts.push(("Environment".to_string(), environment.clone()));
    }
    if let Some(version) = &n.version {
        facts.push(("Version".to_string(), version.clone()));
    }
    facts.extend(n.details.iter().cloned());
    facts
}

/// Markdown shared by WeCom, DingTalk and Feishu (`lark_md`): bold keys, one fact per line.
fn markdown_facts(n: &Notification) -> String {
    let mut text = String::new();
    for (key, value) in fact_lines(n) {
        text.push_str(&format!("**{key}**: {value}\n"));
    }
    if let Some(url) = &n.url {
        text.push_str(&format!("[Details]({url})\n"));
    }
    text
}

/// WeCom group bot markdown message.
pub fn wecom(n: &Notification) -> Value {
    let head = format!(
        "### {} {}\n<font color=\"{}\">{}</font>\n",
        n.status.emoji(),
        n.title,
        n.status.wecom_color(),
        n.status.label()
    );
    let content = fit_bytes(&format!("{head}{}", markdown_facts(n)), WECOM_MAX_BYTES);
    json!({"msgtype": "markdown", "markdown": {"content": content}})
}

/// DingTalk robot markdown message (signing goes into the URL, not the body).
pub fn dingtalk(n: &Notification) -> Value {
    let title = format!("{} {}", n.title, n.status.label());
    let text = format!(
        "#### {} {}\n> {}\n\n{}",
        n.status.emoji(),
        n.title,
        n.status.label(),
        markdown_facts(n).replace('\n', "\n\n")
    );
    json!({
        "msgtype": "markdown",
        "markdown": {"title": title, "text": fit_bytes(&text, DINGTALK_MAX_BYTES)},
        "at": {"isAtAll": false},
    })
}

/// Feishu / Lark interactive card; `signature` is `(timestamp_s, sign)` when a secret is set.
pub fn feishu(n: &Notification, signature: Option<(i64, String)>) -> Value {
    let mut elements = vec![json!({
        "tag": "div",
        "text": {"tag": "lark_md", "content": fit_bytes(&markdown_facts(n), FEISHU_MAX_BYTES)},
    })];
    if let Some(url) = &n.url {
        elements.push(json!({
            "tag": "action",
            "actions": [{
                "tag": "button",
                "text": {"tag": "plain_text", "content": "Details"},
                "type": "primary",
                "url": url,
            }],
        }));
    }
    let mut body = json!({
        "msg_type": "interactive",
        "card": {
            "header": {
                "title": {"tag": "plain_text", "content": format!("{} {} {}", n.status.emoji(), n.title, n.status.label())},
                "template": n.status.feishu_template(),
            },
            "elements": elements,
        },
    });
    if let Some((timestamp, sign)) = signature {
        body["timestamp"] = json!(timestamp.to_string());
        body["sign"] = json!(sign);
    }
    body
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Slack incoming-webhook message: `text` (the notification fallback) plus Block Kit blocks.
pub fn slack(n: &Notification) -> Value {
    let headline = format!("{} {} {}", n.status.emoji(), n.title, n.status.label());
    let facts: Vec<String> = fact_lines(n)
        .iter()
        .map(|(k, v)| format!("*{}*: {}", slack_escape(k), slack_escape(v)))
        .collect();
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": fit_chars(&headline, 150), "emoji": true},
    })];
    if !facts.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": fit_chars(&facts.join("\n"), SLACK_SECTION_MAX_CHARS)},
        }));
    }
    if let Some(url) = &n.url {
        blocks.push(json!({
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Details"}, "url": url}],
        }));
    }
    json!({"text": headline, "blocks": blocks})
}

fn fit_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(status: Status) -> Notification {
        Notification {
            title: "Deploy shop-api".into(),
            status,
            environment: Some("production".into()),
            version: Some("shop-api-042".into()),
            url: Some("https://example.com/run/1".into()),
            details: vec![(
                "Image".into(),
                "ccr.ccs.tencentyun.com/acme/shop:1.4.2".into(),
            )],
        }
    }

    #[test]
    fn wecom_is_markdown_with_colour_and_facts() {
        let body = wecom(&sample(Status::Failed));
        assert_eq!(body["msgtype"], "markdown");
        let content = body["markdown"]["content"].as_str().unwrap();
        assert!(content.contains("<font color=\"warning\">failed</font>"));
        assert!(content.contains("**Version**: shop-api-042"));
        assert!(content.contains("[Details](https://example.com/run/1)"));
    }

    #[test]
    fn wecom_content_fits_4096_bytes() {
        let mut n = sample(Status::Succeeded);
        n.details = (0..400)
            .map(|i| (format!("k{i}"), "值".repeat(10)))
            .collect();
        let body = wecom(&n);
        assert!(body["markdown"]["content"].as_str().unwrap().len() <= WECOM_MAX_BYTES);
    }

    #[test]
    fn dingtalk_has_title_and_text() {
        let body = dingtalk(&sample(Status::Succeeded));
        assert_eq!(body["markdown"]["title"], "Deploy shop-api succeeded");
        assert!(
            body["markdown"]["text"]
                .as_str()
                .unwrap()
                .starts_with("#### ✅ Deploy shop-api")
        );
    }

    #[test]
    fn feishu_card_is_top_level_and_carries_signature_as_strings() {
        let body = feishu(
            &sample(Status::RolledBack),
            Some((1_700_000_000, "sig".into())),
        );
        assert_eq!(body["msg_type"], "interactive");
        assert_eq!(body["card"]["header"]["template"], "orange");
        assert_eq!(body["timestamp"], "1700000000");
        assert_eq!(body["sign"], "sig");
        assert!(body.get("content").is_none());
    }

    #[test]
    fn slack_has_fallback_text_and_escaped_blocks() {
        let mut n = sample(Status::Succeeded);
        n.details.push(("Note".into(), "a < b & c".into()));
        let body = slack(&n);
        assert_eq!(body["text"], "✅ Deploy shop-api succeeded");
        let section = body["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(section.contains("a &lt; b &amp; c"));
    }
}
