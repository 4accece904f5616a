//! The README's environment-variable table is the configuration code's list: every
//! `ROOTWARDEN_*` variable of `rootwarden_core::config::vars`, none other, and marked required
//! exactly when `Config::from_lookup` refuses to start without it. `docs/configuration.md`'s
//! detailed table lists the same variables.
//!
//! A table sits between `<!-- env-table -->` and `<!-- /env-table -->`; each row starts with the
//! variable in backticks. In the README, the second column says whether it is required: `yes`
//! (start-up fails without it), `no` (optional, has a default or turns a feature off), or
//! `when …` (needed only by the components that use it, which fail naming it).

use std::collections::BTreeSet;
use std::path::Path;

use rootwarden_core::config::{vars, Config, ConfigError};

const START: &str = "<!-- env-table -->";
const END: &str = "<!-- /env-table -->";

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The rows of the marked table: (variable, cells after it).
fn table(text: &str, file: &str) -> Vec<(String, Vec<String>)> {
    assert_eq!(
        text.matches(START).count(),
        1,
        "{file}: expected exactly one {START} marker"
    );
    let start = text.find(START).unwrap() + START.len();
    let end = start
        + text[start..]
            .find(END)
            .unwrap_or_else(|| panic!("{file}: no {END} after {START}"));
    let rows: Vec<(String, Vec<String>)> = text[start..end]
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("| `ROOTWARDEN_"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect();
            (cells[0].trim_matches('`').to_owned(), cells[1..].to_vec())
        })
        .collect();
    assert!(!rows.is_empty(), "{file}: the marked table has no rows");
    rows
}

fn names(rows: &[(String, Vec<String>)], file: &str) -> BTreeSet<String> {
    let set: BTreeSet<String> = rows.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(set.len(), rows.len(), "{file}: a variable is listed twice");
    set
}

fn code_names() -> BTreeSet<String> {
    vars::ALL.iter().map(|v| v.to_string()).collect()
}

/// Asserts the two sets are equal, naming what is missing from and extra in the table.
fn assert_same(table: &BTreeSet<String>, code: &BTreeSet<String>, file: &str) {
    let missing: Vec<&String> = code.difference(table).collect();
    let extra: Vec<&String> = table.difference(code).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{file}'s environment table differs from rootwarden_core::config::vars:\n  \
         missing from the table: {missing:?}\n  in the table but not in the code: {extra:?}"
    );
}

/// The variables `Config::from_lookup` cannot start without: add each one it names as missing
/// until it succeeds. Every required variable is a name (table, key, bucket), so one valid
/// table name satisfies each.
fn required_by_code() -> (BTreeSet<String>, Config) {
    let mut set: BTreeSet<String> = BTreeSet::new();
    for _ in 0..=vars::ALL.len() {
        let given = set.clone();
        match Config::from_lookup(|k| given.contains(k).then(|| "rw-readme-test".to_owned())) {
            Ok(config) => return (set, config),
            Err(ConfigError::Missing { var }) => {
                assert!(set.insert(var.to_owned()), "{var} named twice");
            }
            Err(e) => panic!("unexpected error while finding required variables: {e}"),
        }
    }
    panic!("Config::from_lookup never succeeded");
}

/// Variables the code needs only in some components: start-up accepts their absence, and the
/// accessor (or the feature that names them) fails naming the variable.
fn conditional_by_code(required: &BTreeSet<String>, config: &Config) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for missing in [
        config.digest_key().unwrap_err(),
        config.access_policy().unwrap_err(),
        config.rotation_state_machine().unwrap_err(),
    ] {
        match missing {
            ConfigError::Missing { var } => set.insert(var.to_owned()),
            other => panic!("expected a missing variable, got {other}"),
        };
    }
    // A webhook URL needs the secret holding its signing key.
    let err = Config::from_lookup(|k| {
        (required.contains(k) || k == vars::WEBHOOK_URL).then(|| {
            if k == vars::WEBHOOK_URL {
                "https://hooks.example/rw".to_owned()
            } else {
                "rw-readme-test".to_owned()
            }
        })
    })
    .unwrap_err();
    assert_eq!(
        err,
        ConfigError::Missing {
            var: vars::WEBHOOK_SECRET_ARN
        }
    );
    set.insert(vars::WEBHOOK_SECRET_ARN.to_owned());
    set
}

#[test]
fn readme_env_table_lists_exactly_the_configuration_variables() {
    let readme = read("../README.md");
    let rows = table(&readme, "README.md");
    assert_same(&names(&rows, "README.md"), &code_names(), "README.md");
}

#[test]
fn readme_env_table_marks_required_exactly_what_the_code_requires() {
    let readme = read("../README.md");
    let rows = table(&readme, "README.md");
    let (required, config) = required_by_code();
    assert!(!required.is_empty(), "no required variable found");
    let conditional = conditional_by_code(&required, &config);

    let mut problems = Vec::new();
    for (name, cells) in &rows {
        let cell = cells.first().map(String::as_str).unwrap_or("");
        let word = cell.split_whitespace().next().unwrap_or("").to_lowercase();
        let marked = match word.as_str() {
            "yes" => "yes",
            "no" => "no",
            "when" => "when",
            _ => {
                problems.push(format!(
                    "{name}: required? is {cell:?}, not `yes`, `no` or `when …`"
                ));
                continue;
            }
        };
        let expected = if required.contains(name) {
            "yes"
        } else if conditional.contains(name) {
            "when"
        } else {
            // Optional, or needed outside `Config` (the CLI's access URL): `no` or `when …`.
            ""
        };
        match (expected, marked) {
            ("yes", "yes") | ("when", "when") | ("", "no") | ("", "when") => {}
            ("yes", _) => problems.push(format!(
                "{name}: Config::from_env fails without it, but the table says {cell:?}"
            )),
            ("when", _) => problems.push(format!(
                "{name}: needed by some components (they fail naming it), mark it `when …`, not {cell:?}"
            )),
            _ => problems.push(format!(
                "{name}: the table says {cell:?}, but Config::from_env starts without it"
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "README.md:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn configuration_chapter_table_lists_exactly_the_configuration_variables() {
    let text = read("../docs/configuration.md");
    let rows = table(&text, "docs/configuration.md");
    assert_same(
        &names(&rows, "docs/configuration.md"),
        &code_names(),
        "docs/configuration.md",
    );
}

/// The same check as the unit test in `config.rs`, run here too: `vars::ALL` holds exactly the
/// `pub const X: &str = "ROOTWARDEN_…";` lines of `mod vars`.
#[test]
fn vars_all_is_every_constant_of_the_vars_module() {
    let source = read("src/config.rs");
    let start = source.find("pub mod vars {").expect("mod vars");
    let end = start + source[start..].find("\n}\n").expect("end of mod vars");
    let declared: BTreeSet<String> = source[start..end]
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("pub const ") && l.contains(": &str = \""))
        .filter_map(|l| l.split('"').nth(1))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        declared.len(),
        vars::ALL.len(),
        "vars::ALL: {:?}",
        vars::ALL
    );
    assert_same(
        &code_names(),
        &declared,
        "vars::ALL (vs core/src/config.rs)",
    );
}
