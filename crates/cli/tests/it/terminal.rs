// What a person sees in an 80-column terminal: the run under a real
// pseudo-terminal, its output replayed through a terminal emulator (vt100).

use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Duration;

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{Winsize, tcsetwinsize};

use crate::harness::{Env, cliffload};

const COLS: u16 = 80;
const ROWS: u16 = 200;

/// A pseudo-terminal `COLS` wide: (master, slave).
fn pty() -> (OwnedFd, std::fs::File) {
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().expect("utf-8 pty name"))
        .expect("open the pty's slave");
    let size = Winsize {
        ws_row: ROWS,
        ws_col: COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    tcsetwinsize(&slave, size).expect("set the pty's size");
    (master, slave)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_summary_fit_an_80_column_terminal() {
    let env = Env::with_test_service().await;
    let (master, slave) = pty();
    let out = env.out();
    let mut child = cliffload()
        .args(["run", "ping", "--nats-url", env.url(), "--duration", "3s"])
        .args(["--out", out.to_str().expect("utf-8")])
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(slave.try_clone().expect("dup"))
        .stderr(slave)
        .spawn()
        .expect("spawn");
    // Read everything the terminal is sent, until the child (the slave's
    // last holder) exits and reading fails with EIO.
    let reader = std::thread::spawn(move || {
        let mut master = std::fs::File::from(master);
        let mut bytes = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
        }
        bytes
    });
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the run ended in time")
        .expect("waited");
    let bytes = tokio::task::spawn_blocking(move || reader.join().expect("reader"))
        .await
        .expect("joined");
    let raw = String::from_utf8_lossy(&bytes);
    crate::harness::assert_passed_but_for_speed(
        status.code(),
        &crate::harness::read_result(&out),
        &raw,
    );

    let mut term = vt100::Parser::new(
        std::num::NonZero::new(ROWS).expect("rows"),
        std::num::NonZero::new(COLS).expect("cols"),
        0,
    );
    term.process(&bytes);
    let screen = term.screen();
    let rows: Vec<String> = screen.rows(0, COLS).collect();
    let shown = rows.join("\n");

    // The progress line was drawn (it rewrote itself each second) and is
    // gone at the end: no stale copy left behind by a line that wrapped.
    let progress = "s/3s · 0 failed · 0 rejected ·";
    assert!(raw.matches(progress).count() >= 2, "{raw}");
    assert!(!shown.contains(progress), "a stale progress line:\n{shown}");
    // Issue 27: failures are the last thing an 80-column line cuts (the
    // pattern above holds them); users come after the rate and latency.

    // The summary table fits: no row of it wraps onto the next line.
    let header = rows
        .iter()
        .position(|r| r.trim_start().starts_with("task "))
        .unwrap_or_else(|| panic!("no table header:\n{shown}"));
    let total = rows
        .iter()
        .position(|r| r.trim_start().starts_with("total "))
        .unwrap_or_else(|| panic!("no total row:\n{shown}"));
    for row in header..=total {
        assert!(
            !screen.row_wrapped(u16::try_from(row).expect("row")),
            "row {row} wraps:\n{shown}"
        );
    }
    assert!(rows[header].contains("p50") && rows[header].contains("p99"));
    assert!(shown.contains("not shown, to fit:"), "{shown}");
    // The files keep every column.
    let summary = std::fs::read_to_string(out.join("summary.txt")).expect("summary.txt");
    assert!(summary.contains("p99.9"), "{summary}");
}
