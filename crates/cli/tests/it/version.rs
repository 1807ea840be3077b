// Issue 32: `cliffload --version` says the version and the commit it was
// built from (scripts/check-install installs it and reads it from a PATH
// that lacks the build directory).

use std::time::Duration;

use crate::harness::run;

#[tokio::test]
async fn version_names_the_release_and_the_commit_it_was_built_from() {
    let o = run(&["--version"], Duration::from_secs(30)).await;
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    let want = format!("cliffload {} (commit ", env!("CARGO_PKG_VERSION"));
    let commit = out
        .trim()
        .strip_prefix(&want)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not `{want}HASH)`: {out}"));
    // In a git checkout (as the tests run), the commit is HEAD's.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|h| h.status.success())
        .map(|h| String::from_utf8_lossy(&h.stdout).trim().to_owned());
    match head {
        Some(head) => assert_eq!(commit, head, "{out}"),
        None => assert!(
            commit == "unknown" || commit.bytes().all(|b| b.is_ascii_hexdigit()),
            "{out}"
        ),
    }
}
