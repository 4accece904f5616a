//! What each step of a Lambda's init costs, for `make bench-coldstart` (bench/coldstart.py).
//!
//! Spawned with a function's Lambda environment, it runs the init of the heaviest function
//! (release: telemetry, configuration, the SDK configuration, eight clients) once, timing each
//! step, prints one JSON line and exits. `default-chain` loads the SDK configuration through
//! the default provider chain (what the CLI uses: profile files, IMDS, ECS, SSO, web identity
//! wired in); `lambda` through the bootstrap's Lambda loader (region and credentials from the
//! environment only).

use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let variant = std::env::args().nth(1).unwrap_or_default();
    let mut steps: Vec<(&str, u128)> = Vec::new();
    let mut t = Instant::now();
    let mut lap = |name: &'static str, t: &mut Instant| {
        steps.push((name, t.elapsed().as_nanos()));
        *t = Instant::now();
    };
    rootwarden_bootstrap::telemetry::init("init-steps");
    lap("telemetry", &mut t);
    let _config = rootwarden_core::Config::from_env()?;
    lap("config", &mut t);
    let sdk = match variant.as_str() {
        "default-chain" => rootwarden_aws::sdk::load_sdk_config().await,
        "lambda" => rootwarden_bootstrap::sdk::load_lambda_sdk_config().await?,
        other => return Err(format!("unknown variant {other:?}").into()),
    };
    lap("sdk_config", &mut t);
    let clients = (
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_kms::Client::new(&sdk),
        aws_sdk_sfn::Client::new(&sdk),
        aws_sdk_organizations::Client::new(&sdk),
        aws_sdk_account::Client::new(&sdk),
        aws_sdk_account::Client::new(&sdk),
        aws_sdk_sts::Client::new(&sdk),
        aws_sdk_sts::Client::new(&sdk),
    );
    lap("eight_clients", &mut t);
    drop(clients);
    let fields: Vec<String> = steps
        .iter()
        .map(|(name, ns)| format!("\"{name}\": {ns}"))
        .collect();
    println!("{{{}}}", fields.join(", "));
    Ok(())
}
