//! Where a secret could leak to, as text to search: every item of every table, the emulator's
//! and the Lambdas' logs, and Step Functions' inputs, outputs and histories.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::Emulator;

/// Every attribute of every item of every table of the stack, as text (binary as hex and raw).
pub async fn everything_stored(emu: &Emulator) -> String {
    let ddb = aws_sdk_dynamodb::Client::new(&emu.sdk_config().await);
    let mut all = String::new();
    for var in [
        "ROOTWARDEN_AUDIT_TABLE",
        "ROOTWARDEN_TICKETS_TABLE",
        "ROOTWARDEN_ACCOUNTS_TABLE",
        "ROOTWARDEN_VAULT_TABLE",
        "ROOTWARDEN_WORKFLOWS_TABLE",
    ] {
        let mut start = None;
        loop {
            let out = ddb
                .scan()
                .table_name(emu.env(var))
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in out.items() {
                for (k, v) in item {
                    let text = match v {
                        AttributeValue::B(b) => String::from_utf8_lossy(b.as_ref()).into_owned(),
                        other => format!("{other:?}"),
                    };
                    all.push_str(&format!("{var}.{k}={text}\n"));
                }
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
    }
    all
}

pub async fn execution_histories(emu: &Emulator, state_machine: &str) -> String {
    let sfn = aws_sdk_sfn::Client::new(&emu.sdk_config().await);
    let mut text = String::new();
    let list = sfn
        .list_executions()
        .state_machine_arn(state_machine)
        .send()
        .await
        .unwrap();
    for e in list.executions() {
        let h = sfn
            .get_execution_history()
            .execution_arn(e.execution_arn())
            .send()
            .await
            .unwrap();
        text.push_str(&format!("{:?}", h.events()));
        let d = sfn
            .describe_execution()
            .execution_arn(e.execution_arn())
            .send()
            .await
            .unwrap();
        text.push_str(&format!("{:?}{:?}", d.input(), d.output()));
    }
    text
}

pub fn logs(emu: &Emulator) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(emu.log_dir()).unwrap().flatten() {
        if let Ok(s) = std::fs::read_to_string(entry.path()) {
            text.push_str(&s);
        }
    }
    text
}
