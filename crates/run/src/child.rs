//! `cliffload __child PARENT_PID PROGRAM [ARGS…]`: runs PROGRAM so that it
//! dies with PARENT_PID, however that process ends (SIGKILL included).
//!
//! Linux's parent-death signal is set in the child, between fork and exec,
//! which std only allows through `unsafe` `pre_exec`; this crate forbids
//! `unsafe`. So the child is cliffload itself: it sets the signal on itself
//! (through rustix's safe wrapper) and then execs the program, which keeps
//! it. The signal fires when the *thread* that spawned the child exits:
//! cliffload spawns from its main thread, which lives as long as it does.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

/// The first argument that selects this mode.
pub const ARG: &str = "__child";

/// The cliffload executable, once the binary has said it is one.
static BINARY: OnceLock<Option<PathBuf>> = OnceLock::new();

/// The running program is cliffload: it answers `__child` and `serve`, so
/// the embedded start may run it as the services' process and as the
/// launcher that ties a server to this process. Called first by `main`.
pub fn register_binary() {
    BINARY.get_or_init(|| std::env::current_exe().ok());
}

/// The cliffload executable, when [`register_binary`] was called (a test
/// of the library is not cliffload: it cannot `serve`).
pub fn binary() -> Option<PathBuf> {
    BINARY.get().cloned().flatten()
}

/// The launcher prefix that makes a program die with this process (none
/// outside the cliffload binary).
pub fn launcher() -> Option<Vec<OsString>> {
    let exe = binary()?;
    Some(vec![
        exe.into_os_string(),
        ARG.into(),
        std::process::id().to_string().into(),
    ])
}

/// Execs the program when cliffload was started as `__child`; `None` otherwise.
pub fn exec_if_requested() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != ARG {
        return None;
    }
    let parent = args.next().and_then(|p| p.to_str()?.parse::<i32>().ok());
    let (Some(parent), Some(program)) = (parent, args.next()) else {
        eprintln!("usage: cliffload {ARG} PARENT_PID PROGRAM [ARGS...] (internal)");
        return Some(ExitCode::from(2));
    };
    if let Err(e) =
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
    {
        eprintln!(
            "cannot tie {} to its parent: {e}",
            program.to_string_lossy()
        );
        return Some(ExitCode::from(2));
    }
    // The parent may have died before the signal was set: nothing would come.
    if rustix::process::getppid().map(|p| p.as_raw_nonzero().get()) != Some(parent) {
        return Some(ExitCode::from(2));
    }
    let err = std::process::Command::new(&program).args(args).exec();
    eprintln!("cannot run {}: {err}", program.to_string_lossy());
    // 127, as a shell: the program is not there.
    Some(ExitCode::from(127))
}
