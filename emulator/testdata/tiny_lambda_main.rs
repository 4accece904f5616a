//! Tiny test lambda for the Root Warden emulator function host.
//! Event {"mode": "ok"|"error"|"panic"|"env", ...}.
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let (payload, ctx) = event.into_parts();
    match payload.get("mode").and_then(Value::as_str).unwrap_or("ok") {
        "error" => Err(Diagnostic {
            error_type: payload
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or("TinyError")
                .to_string(),
            error_message: "tiny lambda failed on purpose".to_string(),
        }),
        "panic" => panic!("tiny lambda panicked"),
        "sleep" => {
            let ms = payload.get("ms").and_then(Value::as_u64).unwrap_or(100);
            std::thread::sleep(std::time::Duration::from_millis(ms));
            Ok(json!({"slept": ms}))
        }
        _ => {
            let env: serde_json::Map<String, Value> = std::env::vars()
                .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("ROOTWARDEN") || k.starts_with("TINY"))
                .filter(|(k, _)| k != "AWS_SECRET_ACCESS_KEY")
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            Ok(json!({"ok": true, "input": payload, "request_id": ctx.request_id, "pid": std::process::id(), "env": env}))
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(handler)).await
}
