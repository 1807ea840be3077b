// --dashboard (issue 17): the live page and its event stream over HTTP during
// a real run, its Stop button, and the page drawn by a headless Chromium.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::harness::{Env, cliffload, free_port, read_result, run, stderr};

/// Starts `cliffload run ping` against `env` with the dashboard on a free
/// port (`duration`, results in OUT, then `extra`); the child, the page's
/// base URL once cliffload has printed it (20 s at most), and the rest of
/// its stderr, line by line.
async fn run_with_dashboard(
    env: &Env,
    duration: &str,
    out: &std::path::Path,
    extra: &[&str],
) -> (
    tokio::process::Child,
    String,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let port = free_port();
    let mut child = cliffload()
        .args(["run", "ping", "--nats-url", env.url(), "-d", duration])
        .arg(format!("--dashboard=127.0.0.1:{port}"))
        .args(["--out", out.to_str().expect("utf-8")])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.split("live dashboard at ").nth(1) {
                return url.trim().to_owned();
            }
        }
        panic!("cliffload exited without printing the dashboard's address");
    })
    .await
    .expect("the dashboard's address in 20 s");
    assert_eq!(url, format!("http://127.0.0.1:{port}/"));
    // Keep reading stderr so cliffload never blocks on a full pipe.
    let (tx, rest) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    (child, url, rest)
}

/// The page at `url` (`GET /`), as text.
async fn page(url: &str) -> String {
    reqwest::get(url)
        .await
        .expect("the page is served")
        .text()
        .await
        .expect("text")
}

/// Presses the page's Stop (`POST /stop` with its header, answered 202) and
/// waits, 20 s at most, for the run to end; its exit code.
async fn stop(url: &str, child: &mut tokio::process::Child) -> Option<i32> {
    let stop = reqwest::Client::new()
        .post(format!("{url}stop"))
        .header("X-Cliffload-Stop", "1")
        .send()
        .await
        .expect("POST");
    assert_eq!(stop.status(), 202);
    tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the run ends after Stop")
        .expect("exit status")
        .code()
}

/// The `update` events of an SSE stream, read as they arrive.
pub struct Updates {
    response: reqwest::Response,
    buffer: String,
}

impl Updates {
    pub async fn open(url: &str) -> Self {
        let response = reqwest::get(format!("{url}events")).await.expect("events");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "an event stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next update, or `None` when the stream ended (10 s at most).
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if !event.lines().any(|l| l == "event: update") {
                    continue; // a keep-alive comment
                }
                let data = event
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("data");
                return Some(serde_json::from_str(data).expect("JSON"));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .expect("the stream reads");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk?));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_rises_each_second_and_the_stop_button_ends_the_run_with_results() {
    let env = Env::with_test_service().await;
    let out = env.out();
    let (mut child, url, _) = run_with_dashboard(&env, "60s", &out, &[]).await;

    let page = page(&url).await;
    assert!(
        page.contains("<title>cliffload live · ping</title>"),
        "{page}"
    );
    assert!(page.contains("id=\"stop\""), "a Stop button");
    for external in ["src=\"http", "href=\"http", "url(http", "//cdn"] {
        assert!(!page.contains(external), "self-contained: {external}");
    }

    // One update a second, with the counts rising, each with the report so far.
    let mut updates = Updates::open(&url).await;
    let mut running = Vec::new();
    while running.len() < 3 {
        let u = updates.next().await.expect("the stream goes on");
        if u["state"] == "running" {
            running.push(u);
        }
    }
    for pair in running.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(b["requests"].as_u64() > a["requests"].as_u64(), "{a} → {b}");
        assert!(b["t_s"].as_f64() > a["t_s"].as_f64());
        assert!(b["seq"].as_u64() > a["seq"].as_u64());
    }
    let html = running[2]["html"].as_str().expect("html");
    assert!(html.matches("<svg").count() >= 4, "charts in the update");
    assert!(
        html.contains("requests_completed"),
        "the checks as they stand"
    );

    // A cross-site form cannot stop the run: the header is required.
    let client = reqwest::Client::new();
    let refused = client
        .post(format!("{url}stop"))
        .send()
        .await
        .expect("POST");
    assert_eq!(refused.status(), 403);
    let u = updates.next().await.expect("still running");
    assert_eq!(u["state"], "running", "{u}");

    assert_eq!(stop(&url, &mut child).await, Some(130), "Stop is Ctrl-C");
    let r = read_result(&out);
    assert_eq!(r["interrupted"], true);
    // The page got the final result, with the counts of result.json.
    let mut last = None;
    while let Some(u) = updates.next().await {
        last = Some(u);
    }
    let last = last.expect("a final update");
    assert_eq!(last["state"], "interrupted", "{last}");
    assert_eq!(last["requests"], r["summary"]["requests"]);
    assert_eq!(last["failures"], r["summary"]["failures"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_dashboard_shows_the_result_until_ctrl_c_which_only_closes_it() {
    let env = Env::with_test_service().await;
    let out = env.out();
    let (mut child, url, mut stderr) =
        run_with_dashboard(&env, "2s", &out, &["--keep-dashboard"]).await;
    // The run ends and writes its results; the page stays up.
    let note = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.recv().await {
            if line.contains("the dashboard stays up at") {
                return line;
            }
        }
        panic!("cliffload exited without keeping the dashboard up");
    })
    .await
    .expect("the run ends within 30 s");
    assert!(note.contains(&url), "{note}");
    let r = read_result(&out);
    assert_eq!(r["interrupted"], false);
    let page = page(&url).await;
    assert!(page.contains("data-state=\""), "{page}");
    assert!(
        !page.contains("data-state=\"running\""),
        "the page shows the final result"
    );

    // Ctrl-C now only closes the page: the exit code is the verdict's, and
    // nothing speaks of in-flight requests or an interruption.
    let want = if r["verdict"]["passed"] == true { 0 } else { 1 };
    assert_eq!(
        crate::harness::interrupt(&mut child, Duration::from_secs(20)).await,
        Some(want)
    );
    let mut rest = Vec::new();
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(5), stderr.recv()).await {
        rest.push(line);
    }
    assert!(
        rest.iter().any(|l| l == "closing the dashboard"),
        "{rest:?}"
    );
    assert!(
        !rest
            .iter()
            .any(|l| l.contains("interrupted") || l.contains("in-flight")),
        "{rest:?}"
    );
    assert_eq!(
        read_result(&out)["interrupted"],
        false,
        "the result as written"
    );
}

/// Sends `request` (its head: a request line and headers) to the server of
/// `url` over a plain TCP connection, so that `Host` and `Origin` are what the
/// test says; the answer's status and body (10 s at most).
async fn raw(url: &str, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix('/'))
        .expect("http://HOST:PORT/");
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connects");
    let request = format!("{request}Connection: close\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("sends");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("an answer within 10 s")
        .expect("reads");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {answer}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_or_origin_is_refused_and_does_not_stop_the_run() {
    // Issue 26: a page of another site, whose name resolves to 127.0.0.1
    // (DNS rebinding), sends its own name as Host.
    let env = Env::with_test_service().await;
    let out = env.out();
    let (mut child, url, _) = run_with_dashboard(&env, "60s", &out, &[]).await;
    let port = url.rsplit(':').next().expect("port").trim_end_matches('/');
    let rebound = format!("Host: rebind.example:{port}\r\n");
    for request in [
        format!("GET / HTTP/1.1\r\n{rebound}"),
        format!("GET /events HTTP/1.1\r\n{rebound}"),
        format!("POST /stop HTTP/1.1\r\n{rebound}X-Cliffload-Stop: 1\r\n"),
    ] {
        let (status, body) = raw(&url, &request).await;
        assert_eq!(status, 421, "{request}: {body}");
        assert!(body.contains("Host header (\"rebind.example:"), "{body}");
        assert!(!body.contains("<html"), "{body}");
    }
    // This server's Host, but the Stop of another site's page.
    let (status, body) = raw(
        &url,
        &format!(
            "POST /stop HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Cliffload-Stop: 1\r\n\
             Origin: http://rebind.example:{port}\r\n"
        ),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("rebind.example"), "{body}");

    // The run goes on, and the page is served at its own names.
    let mut updates = Updates::open(&url).await;
    while updates.next().await.expect("the run goes on")["state"] != "running" {}
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let (status, body) = raw(&url, &format!("GET / HTTP/1.1\r\nHost: {host}\r\n")).await;
        assert_eq!(status, 200, "{host}");
        assert!(body.contains("id=\"stop\""), "{body}");
    }
    assert!(page(&url).await.contains("id=\"stop\""));
    // The page's own Stop (same origin) still ends the run.
    let (status, body) = raw(
        &url,
        &format!(
            "POST /stop HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Cliffload-Stop: 1\r\n\
             Origin: http://127.0.0.1:{port}\r\n"
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let code = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the run ends after Stop")
        .expect("exit status")
        .code();
    assert_eq!(code, Some(130));
    assert_eq!(read_result(&out)["interrupted"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_still_prints_the_addresses_and_a_non_loopback_bind_is_warned() {
    // Issue 26: --quiet hid where the servers listen; 0.0.0.0 said nothing.
    let env = Env::with_test_service().await;
    let out = env.out();
    let o = run(
        &[
            "run",
            "ping",
            "--nats-url",
            env.url(),
            "-d",
            "1s",
            "--quiet",
            "--dashboard=0.0.0.0:0",
            "--prometheus",
            "127.0.0.1:0",
            // Nothing scrapes: no wait for a final scrape.
            "--prometheus-linger",
            "0s",
            "--out",
            out.to_str().expect("utf-8"),
        ],
        Duration::from_secs(60),
    )
    .await;
    let err = stderr(&o);
    // The verdict's code (a loaded machine may miss ping's speed claim).
    crate::harness::assert_passed_but_for_speed(o.status.code(), &read_result(&out), &err);
    let line = |needle: &str| err.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(line("live dashboard at http://0.0.0.0:"), 1, "{err}");
    assert_eq!(
        line("metrics for Prometheus at http://127.0.0.1:"),
        1,
        "{err}"
    );
    assert_eq!(line("warning: --dashboard listens on 0.0.0.0:"), 1, "{err}");
    assert!(err.contains("anyone who can reach it can read the run and stop it"));
    assert_eq!(line("warning: --prometheus"), 0, "loopback: {err}");
}

/// Chromium: Debian's package, on PATH or where it installs it.
fn chromium() -> &'static str {
    for p in ["/usr/bin/chromium", "/usr/local/bin/chromium"] {
        if std::path::Path::new(p).exists() {
            return p;
        }
    }
    panic!("chromium is not installed: apt-get install chromium (.ci/run does)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_chromium_draws_the_live_charts_with_no_console_errors() {
    let env = Env::with_test_service().await;
    let out = env.out();
    let (mut child, url, _) = run_with_dashboard(&env, "120s", &out, &[]).await;
    let profile = tempfile::tempdir().expect("profile dir");
    // --dump-dom once the page is idle: it holds its event stream open
    // until the final update, so the DOM is the page's last view.
    let browser = tokio::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(&url)
        .kill_on_drop(true)
        .output();
    let browser = tokio::spawn(browser);
    // Chromium takes seconds to start: once its page watches (this test's
    // stream and the page's), two more seconds, then the page's Stop.
    let mut updates = Updates::open(&url).await;
    // Its first start on a machine can take tens of seconds (fonts, D-Bus).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let u = updates.next().await.expect("the run goes on");
        if u["watchers"].as_u64() >= Some(2) && u["state"] == "running" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromium never opened the page's event stream"
        );
    }
    for _ in 0..2 {
        updates.next().await.expect("the run goes on");
    }
    assert_eq!(stop(&url, &mut child).await, Some(130));
    let browser = tokio::time::timeout(Duration::from_secs(30), browser)
        .await
        .expect("chromium ends in 30 s after the run")
        .expect("joined")
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&browser.stdout);
    let log = String::from_utf8_lossy(&browser.stderr);
    let attr = |name: &str| -> Option<u64> {
        let at = dom.find(&format!("{name}=\""))? + name.len() + 2;
        dom[at..].split('"').next()?.parse().ok()
    };
    assert!(
        attr("data-live-updates") >= Some(2),
        "the page drew seconds of the run as they came: {}",
        &dom[..dom.len().min(600)]
    );
    assert!(
        dom.contains("data-state=\"interrupted\""),
        "the final state"
    );
    let r = read_result(&out);
    assert_eq!(attr("data-requests"), r["summary"]["requests"].as_u64());
    // The report's charts, drawn: SVG with lines in them.
    let report = &dom[dom.find("id=\"report\"").expect("the report")..];
    assert!(report.matches("<svg").count() >= 4, "charts");
    assert!(report.matches("<polyline").count() >= 4, "lines with data");
    assert!(
        dom.contains("<pre id=\"js-errors\"></pre>"),
        "no script error"
    );
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
}
