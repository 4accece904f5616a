//! What every `RoleDirectory` promises.

use std::future::Future;

use rootwarden_core::access::identity::RoleDirectory;

use super::fixtures::fresh;

/// `create(name)` creates a role under the path `/rootwarden/` and returns its ARN and unique
/// id. A role is found by its name alone, with its path kept in the ARN; an unknown name is
/// `None`, not an error.
pub async fn role_directory_contract<D, F, Fut>(directory: D, create: F)
where
    D: RoleDirectory,
    F: Fn(String) -> Fut,
    Fut: Future<Output = (String, String)>,
{
    let name = fresh("contract-role");
    let (arn, role_id) = create(name.clone()).await;
    assert!(arn.ends_with(&format!(":role/rootwarden/{name}")), "{arn}");
    let found = directory
        .role(&name)
        .await
        .unwrap()
        .expect("the role exists");
    assert_eq!(
        (found.arn.as_str(), found.role_id.as_str()),
        (arn.as_str(), role_id.as_str())
    );
    assert_eq!(directory.role(&fresh("no-such-role")).await.unwrap(), None);
}
