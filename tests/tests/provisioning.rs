//! The local stack is provisioned from `infra/template.yaml` itself, so the two cannot drift:
//! this test reads the template independently and checks every resource against the emulator.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use rootwarden_tests::{repo_root, Emulator};
use serde_norway::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(repo_root().join("infra/template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_template_resource_exists_as_declared() {
    let emu = Emulator::with_stack().await.unwrap();
    let conf = emu.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let kms = aws_sdk_kms::Client::new(&conf);
    let sfn = aws_sdk_sfn::Client::new(&conf);
    let lambda = aws_sdk_lambda::Client::new(&conf);
    let stack = emu.stack();
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    assert!(!resources.is_empty());

    let mut checked = BTreeSet::new();
    for (logical, res) in resources {
        let logical = s(logical);
        let kind = s(&res["Type"]);
        let props = &res["Properties"];
        if res.get("Condition").is_some() && !stack.resources.contains_key(&logical) {
            // Conditional resource whose condition is false with default parameters
            // (e.g. the alarm e-mail subscription): correctly absent.
            continue;
        }
        let got = stack
            .resources
            .get(&logical)
            .unwrap_or_else(|| panic!("{logical} ({kind}) was not provisioned or listed"));
        assert_eq!(got.kind, kind, "{logical}");
        match kind.as_str() {
            "AWS::DynamoDB::Table" => {
                let name = got.physical_id.clone().unwrap();
                let desc = ddb
                    .describe_table()
                    .table_name(&name)
                    .send()
                    .await
                    .unwrap()
                    .table
                    .unwrap();
                let want_keys: BTreeSet<(String, String)> = props["KeySchema"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|k| (s(&k["AttributeName"]), s(&k["KeyType"])))
                    .collect();
                let have_keys: BTreeSet<(String, String)> = desc
                    .key_schema()
                    .iter()
                    .map(|k| {
                        (
                            k.attribute_name().to_owned(),
                            k.key_type().as_str().to_owned(),
                        )
                    })
                    .collect();
                assert_eq!(have_keys, want_keys, "{logical} key schema");
                let want_attrs: BTreeSet<(String, String)> = props["AttributeDefinitions"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|a| (s(&a["AttributeName"]), s(&a["AttributeType"])))
                    .collect();
                let have_attrs: BTreeSet<(String, String)> = desc
                    .attribute_definitions()
                    .iter()
                    .map(|a| {
                        (
                            a.attribute_name().to_owned(),
                            a.attribute_type().as_str().to_owned(),
                        )
                    })
                    .collect();
                assert_eq!(have_attrs, want_attrs, "{logical} attributes");
                let want_gsis: BTreeSet<String> = props["GlobalSecondaryIndexes"]
                    .as_sequence()
                    .map(|g| g.iter().map(|i| s(&i["IndexName"])).collect())
                    .unwrap_or_default();
                let have_gsis: BTreeSet<String> = desc
                    .global_secondary_indexes()
                    .iter()
                    .filter_map(|g| g.index_name().map(str::to_owned))
                    .collect();
                assert_eq!(have_gsis, want_gsis, "{logical} GSIs");
                if let Some(attr) = props["TimeToLiveSpecification"]["AttributeName"].as_str() {
                    let ttl = ddb
                        .describe_time_to_live()
                        .table_name(&name)
                        .send()
                        .await
                        .unwrap();
                    let ttl = ttl.time_to_live_description.unwrap();
                    assert_eq!(ttl.attribute_name(), Some(attr), "{logical} TTL");
                }
                checked.insert(logical);
            }
            "AWS::KMS::Key" => {
                let id = got.physical_id.clone().unwrap();
                let meta = kms
                    .describe_key()
                    .key_id(&id)
                    .send()
                    .await
                    .unwrap()
                    .key_metadata
                    .unwrap();
                if let Some(spec) = props["KeySpec"].as_str() {
                    assert_eq!(meta.key_spec().map(|k| k.as_str()), Some(spec), "{logical}");
                }
                if let Some(usage) = props["KeyUsage"].as_str() {
                    assert_eq!(
                        meta.key_usage().map(|k| k.as_str()),
                        Some(usage),
                        "{logical}"
                    );
                }
                checked.insert(logical);
            }
            "AWS::KMS::Alias" => {
                let alias = got.physical_id.clone().unwrap();
                assert!(
                    alias.starts_with(&format!("alias/{}", stack.name)),
                    "{alias}"
                );
                let target_logical = s(&props["TargetKeyId"]["Ref"]);
                let target = stack.resources[&target_logical]
                    .physical_id
                    .clone()
                    .unwrap();
                let meta = kms
                    .describe_key()
                    .key_id(&alias)
                    .send()
                    .await
                    .unwrap()
                    .key_metadata
                    .unwrap();
                assert_eq!(
                    meta.key_id(),
                    target,
                    "{logical} points at {target_logical}"
                );
                checked.insert(logical);
            }
            "AWS::Serverless::StateMachine" => {
                let arn = got.arn.clone().or(got.physical_id.clone()).unwrap();
                let desc = sfn
                    .describe_state_machine()
                    .state_machine_arn(&arn)
                    .send()
                    .await
                    .unwrap();
                let file = repo_root().join("infra").join(s(&props["DefinitionUri"]));
                let mut want = std::fs::read_to_string(file).unwrap();
                for (name, value) in props["DefinitionSubstitutions"].as_mapping().unwrap() {
                    let target = s(&value["Fn::GetAtt"][0]);
                    let arn = stack.resources[&target].arn.clone().unwrap();
                    want = want.replace(&format!("${{{}}}", s(name)), &arn);
                }
                assert!(!want.contains("${"), "every substitution is resolved");
                let have: serde_json::Value = serde_json::from_str(desc.definition()).unwrap();
                let want: serde_json::Value = serde_json::from_str(&want).unwrap();
                assert_eq!(have, want, "{logical} definition");
                checked.insert(logical);
            }
            "AWS::Serverless::Function" => {
                let name = got.physical_id.clone().unwrap();
                let f = lambda
                    .get_function()
                    .function_name(&name)
                    .send()
                    .await
                    .unwrap();
                let conf = f.configuration.unwrap();
                let vars = conf
                    .environment
                    .and_then(|e| e.variables)
                    .unwrap_or_default();
                // Globals plus the function's own variables, resolved.
                for (k, v) in &stack.env {
                    assert_eq!(vars.get(k), Some(v), "{logical} env {k}");
                }
                let own = props["Environment"]["Variables"].as_mapping();
                for (k, _) in own.into_iter().flatten() {
                    assert!(vars.contains_key(&s(k)), "{logical} env {}", s(k));
                }
                let binary = s(&res["Metadata"]["BuildProperties"]["Binary"]);
                assert_eq!(
                    vars.get("ROOTWARDEN_BINARY"),
                    Some(&binary),
                    "{logical} binary"
                );
                checked.insert(logical);
            }
            _ => {}
        }
    }
    // The resources the code depends on were all checked, and the env the code reads is complete.
    for needed in [
        "AuditTable",
        "DataKey",
        "DataKeyAlias",
        "AuditVerifierFunction",
        "AuditIntegrityStateMachine",
        "AuditDigestStateMachine",
    ] {
        assert!(checked.contains(needed), "{needed} not checked");
    }
    let globals = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap();
    let want_env: BTreeSet<String> = globals.keys().map(s).collect();
    let have_env: BTreeSet<String> = stack.env.keys().cloned().collect();
    assert_eq!(have_env, want_env);
    assert_eq!(
        stack.env["ROOTWARDEN_AUDIT_TABLE"],
        stack.resources["AuditTable"].physical_id.clone().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_stacks_coexist_and_the_emulator_stops_by_pid() {
    let a = Emulator::with_stack().await.unwrap();
    let b = Emulator::with_stack().await.unwrap();
    assert_ne!(a.port, b.port);
    // Copies of one provisioned state (the zygote) or two launches: either way, what one
    // emulator stores the other never sees.
    let audit = a.env("ROOTWARDEN_AUDIT_TABLE");
    let item = |v: &str| {
        [
            ("stream", AttributeValue::S("isolation-check".into())),
            ("seq", AttributeValue::N(v.into())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect::<std::collections::HashMap<_, _>>()
    };
    let da = aws_sdk_dynamodb::Client::new(&a.sdk_config().await);
    let db = aws_sdk_dynamodb::Client::new(&b.sdk_config().await);
    da.put_item()
        .table_name(&audit)
        .set_item(Some(item("1")))
        .send()
        .await
        .unwrap();
    let seen = |out: aws_sdk_dynamodb::operation::get_item::GetItemOutput| out.item.is_some();
    let get = |c: &aws_sdk_dynamodb::Client| {
        c.get_item()
            .table_name(&audit)
            .set_key(Some(item("1")))
            .send()
    };
    assert!(seen(get(&da).await.unwrap()), "a lost its own write");
    assert!(!seen(get(&db).await.unwrap()), "b sees a's write");
    let pid = a.pid;
    let port = a.port;
    assert!(rootwarden_tests::pid_alive(pid));
    drop(a);
    assert!(
        !rootwarden_tests::pid_alive(pid),
        "launcher {pid} still running after drop"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still open"
    );
    // The other emulator is untouched.
    assert!(std::net::TcpStream::connect(("127.0.0.1", b.port)).is_ok());
}
