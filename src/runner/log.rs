//! Logging through `tracing`, mapped onto workflow commands under a runner (`::error::`,
//! `::warning::`, `::debug::` only with `RUNNER_DEBUG=1`) and onto plain stderr lines otherwise.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level as TraceLevel, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use super::command::{Annotation, Level, annotate, format_command, println_raw};
use super::mask::redact;

/// Installs the subscriber. `DEPLOY_TCB_LOG` (or `RUST_LOG`) sets the filter; under a runner,
/// `RUNNER_DEBUG=1` turns on debug for this crate.
pub fn init() {
    let default = if super::debug_enabled() {
        "deploy_tcb=debug,info"
    } else {
        "info"
    };
    let filter = std::env::var("DEPLOY_TCB_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(RunnerLayer)
        .try_init();
}

/// A `tracing` layer that prints each event as the runner or a person expects it.
pub struct RunnerLayer;

#[derive(Default)]
struct Fields {
    message: String,
    extra: String,
    at: Annotation,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "file" => self.at.file = Some(value.to_string()),
            "title" => self.at.title = Some(value.to_string()),
            name => {
                let _ = write!(self.extra, " {name}={value}");
            }
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "line" => self.at.line = Some(value as usize),
            "col" => self.at.col = Some(value as usize),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            let _ = write!(self.extra, " {}={value:?}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for RunnerLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let text = format!("{}{}", fields.message, fields.extra);
        match *event.metadata().level() {
            TraceLevel::ERROR => annotate(Level::Error, &fields.at, &text),
            TraceLevel::WARN => annotate(Level::Warning, &fields.at, &text),
            TraceLevel::INFO => print_info(&text),
            _ => print_debug(&text),
        }
    }
}

fn print_info(text: &str) {
    if super::in_actions() {
        if looks_like_command(text) {
            // The runner trims leading whitespace before it looks for a command (so indenting
            // is no protection) and reads every line on its own: pause command processing
            // around the text with a one-time token instead.
            let token = format!("deploy-tcb-{}", uuid::Uuid::new_v4().simple());
            println_raw(&format_command("stop-commands", &[], &token));
            println_raw(text);
            println_raw(&format!("::{token}::"));
        } else {
            println_raw(text);
        }
    } else {
        eprintln!("{}", redact(text));
    }
}

/// True when a line of `text` would be taken for a workflow command (`::x::` or legacy `##[x]`).
fn looks_like_command(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("::") || line.starts_with("##[")
    })
}

fn print_debug(text: &str) {
    if super::in_actions() {
        if super::debug_enabled() {
            println_raw(&format_command("debug", &[], text));
        }
    } else {
        eprintln!("debug: {}", redact(text));
    }
}
