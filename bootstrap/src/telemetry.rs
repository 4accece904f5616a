//! Structured JSON logs with Powertools-style keys.
//!
//! Every line is one JSON object with `timestamp`, `level`, `message`, `service`, and, inside an
//! invocation span, `cold_start`, `function_request_id` and `correlation_id`, plus the event's own
//! fields, all at the top level (as AWS Lambda Powertools emits them). The level comes from
//! Lambda's `AWS_LAMBDA_LOG_LEVEL` (or `RUST_LOG`), default `INFO`.
//!
//! Never log a secret: log kinds, ids and versions, not values.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

static COLD: AtomicBool = AtomicBool::new(true);

/// True exactly once per process: on the first invocation.
pub fn take_cold_start() -> bool {
    COLD.swap(false, Ordering::Relaxed)
}

/// Installs the JSON subscriber on stdout (Lambda ships stdout to CloudWatch Logs).
pub fn init(service: &str) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|l| l.to_ascii_lowercase())
        .or_else(|| std::env::var("RUST_LOG").ok());
    install(service, level, "info", std::io::stdout);
}

/// Installs the same format on stderr (CLI: stdout is for results).
pub fn init_stderr(service: &str, default_level: &str) {
    install(
        service,
        std::env::var("RUST_LOG").ok(),
        default_level,
        std::io::stderr,
    );
}

fn install<W>(service: &str, level: Option<String>, default_level: &str, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = level
        .and_then(|l| EnvFilter::try_new(l).ok())
        .or_else(|| EnvFilter::try_new(default_level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(JsonFields::new())
        .event_format(PowertoolsFormat {
            service: service.to_owned(),
        })
        .with_writer(writer)
        .try_init();
}

/// The span every handler runs in; its fields appear on every log line inside it.
pub fn invocation_span(function_request_id: &str, correlation_id: &str) -> tracing::Span {
    tracing::info_span!(
        "invocation",
        cold_start = take_cold_start(),
        function_request_id = function_request_id,
        correlation_id = correlation_id,
    )
}

struct PowertoolsFormat {
    service: String,
}

impl<S, N> FormatEvent<S, N> for PowertoolsFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut map = Map::new();
        map.insert(
            "timestamp".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        map.insert(
            "level".into(),
            Value::String(event.metadata().level().to_string()),
        );
        map.insert("service".into(), Value::String(self.service.clone()));
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>() {
                    if let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(fields.as_str()) {
                        map.extend(obj);
                    }
                }
            }
        }
        event.record(&mut JsonVisitor(&mut map));
        map.entry("message").or_insert(Value::String(String::new()));
        map.insert(
            "target".into(),
            Value::String(event.metadata().target().to_owned()),
        );
        writeln!(writer, "{}", Value::Object(map))
    }
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().into(), Value::String(value.to_owned()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_flat_json_with_powertools_keys() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(PowertoolsFormat {
                service: "audit-verifier".into(),
            })
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "invocation",
                cold_start = true,
                function_request_id = "req-1",
                correlation_id = "corr-9"
            );
            let _g = span.enter();
            tracing::info!(chains = 3, "verified");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["service"], "audit-verifier");
        assert_eq!(line["cold_start"], true);
        assert_eq!(line["function_request_id"], "req-1");
        assert_eq!(line["correlation_id"], "corr-9");
        assert_eq!(line["message"], "verified");
        assert_eq!(line["chains"], 3);
        assert_eq!(line["level"], "INFO");
    }

    #[test]
    fn cold_start_is_true_once() {
        // Other tests may have taken it; after one take it must stay false.
        let _ = take_cold_start();
        assert!(!take_cold_start());
    }
}
