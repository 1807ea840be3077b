//! Sets `CLIFFLOAD_COMMIT` for `cliffload --version`: the commit the binary
//! was built from (`git rev-parse --short=12 HEAD` in a git checkout), or the
//! `CLIFFLOAD_COMMIT` given to the build (an image built from a tarball),
//! or `unknown`. Cargo runs this again when HEAD moves.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CLIFFLOAD_COMMIT");
    let commit = std::env::var("CLIFFLOAD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=CLIFFLOAD_COMMIT={}", commit.trim());
}

/// HEAD's short hash, watching the files that move it; `None` outside a
/// checkout or without git.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    // HEAD itself, the folder of the branch it names (a commit rewrites
    // its file; a new one appears there once packed refs are unpacked) and
    // packed refs: any of them moves it. Only paths that exist: cargo runs a
    // script again on every build while a path it watches is missing.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let folder = branch.rsplit_once('/').map_or("refs", |(f, _)| f);
        watched.push(git(&["rev-parse", "--git-path", folder]));
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    for path in watched.into_iter().flatten() {
        // Relative paths are relative to this crate's folder, as cargo reads them.
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    Some(commit)
}
