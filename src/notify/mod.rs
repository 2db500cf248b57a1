//! Chat notifications: WeCom, DingTalk (signed), Feishu / Lark (signed), Slack.
