//! `--dashboard[=ADDR]`: a live page of the run, served on loopback.
//!
//! `GET /` is the page; `GET /events` is a Server-Sent Events stream with
//! one `update` a second: the counts so far and the report of the run so
//! far (the HTML report's own body, charts as server-rendered SVG, every
//! string escaped by the report), then the final result with its verdict.
//! `POST /stop` (with the header `X-Cliffload-Stop`, which a cross-site form
//! cannot send) ends the run like Ctrl-C: in-flight requests finish and the
//! results are written. The page is self-contained: no CDN, no external URL.
//!
//! Every request must name this server in its `Host` (an IP address or
//! `localhost`, with the bound port), or it is refused with 421: a page of
//! another site whose name an attacker points at 127.0.0.1 (DNS rebinding)
//! sends its own name, so it can neither read the event stream nor stop
//! the run. `POST /stop` from a browser must also come from this server's
//! own page (its `Origin`), or it is refused with 403.
//!
//! The dashboard reads each second's merged record (the same stream as the
//! Prometheus exporter), never per-request state, and renders only while a
//! page is watching.

use std::convert::Infallible;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use cliffload_engine::{CancellationToken, INTERVAL, Merger, Recorded};
use cliffload_monitor::{Sampler, Watched};
use cliffload_report::{RunMeta, RunResult, Warning};
use cliffload_scenario::Scenario;
use futures_util::Stream;
use tokio::sync::watch;

/// The header `POST /stop` must carry.
pub const STOP_HEADER: &str = "x-cliffload-stop";

/// The page's shell; `{{TITLE}}` and `{{STYLE}}` are filled in.
const PAGE: &str = include_str!("dashboard.html");

/// One update of the page.
#[derive(Debug, Default)]
struct Update {
    /// What the event stream sends: the figures and `html`.
    json: String,
    /// The report so far (empty before the first second).
    html: String,
    state: &'static str,
    label: String,
}

/// The dashboard server and the latest update it shows.
#[derive(Debug)]
pub struct Dashboard {
    latest: watch::Sender<Arc<Update>>,
    seq: AtomicU64,
    /// Which load the page shows: a load's updates that arrive after it
    /// has finished (its last second, rendered late) must not cover the
    /// final result. Held while an update is sent.
    epoch: Mutex<u64>,
    addr: SocketAddr,
    title: String,
}

/// Where the run stands, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Starting (services, preflight) or between two scenarios of a suite.
    Waiting,
    Running,
    Passed,
    Failed,
    Interrupted,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Running => "running",
            State::Passed => "passed",
            State::Failed => "failed",
            State::Interrupted => "interrupted",
        }
    }

    /// The state of a finished run.
    pub fn of(r: &RunResult) -> Self {
        if r.interrupted {
            State::Interrupted
        } else if r.verdict.passed() {
            State::Passed
        } else {
            State::Failed
        }
    }
}

impl Dashboard {
    /// Binds `addr` and serves the page until `shutdown`; `stop` is
    /// cancelled by the page's Stop button. Returns the server's task too:
    /// await it after `shutdown` so the last update reaches the page.
    pub async fn start(
        addr: SocketAddr,
        title: &str,
        stop: CancellationToken,
        shutdown: CancellationToken,
    ) -> Result<(Arc<Self>, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("--dashboard: cannot bind {addr}"))?;
        let addr = listener.local_addr()?;
        let (latest, _) = watch::channel(Arc::new(Update::default()));
        let dash = Arc::new(Self {
            latest,
            seq: AtomicU64::new(0),
            epoch: Mutex::new(0),
            addr,
            title: title.to_owned(),
        });
        dash.publish(None, State::Waiting, title, None);
        let app = routes(dash.clone(), stop, shutdown.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await;
        });
        Ok((dash, server))
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Sends an update: the state, the figures of `r` and its report; with
    /// `Some(epoch)`, only while the page still shows that load; with `None`,
    /// as the start of a new one. Returns the epoch of the page now.
    fn publish(&self, epoch: Option<u64>, state: State, label: &str, r: Option<&RunResult>) -> u64 {
        let html = match (r, state) {
            (None, _) => String::new(),
            (Some(r), State::Running) => cliffload_report::html::live_body(r),
            (Some(r), _) => cliffload_report::html::body(r),
        };
        let (t_s, requests, successes, failures) = r.map_or((0.0, 0, 0, 0), |r| {
            let s = &r.summary;
            (r.duration_s, s.requests, s.successes, s.failures)
        });
        let mut body = serde_json::json!({
            "state": state.name(),
            "label": label,
            "t_s": t_s,
            "requests": requests,
            "successes": successes,
            "failures": failures,
            "html": html,
        });
        let mut now = self.epoch.lock().unwrap_or_else(|e| e.into_inner());
        match epoch {
            Some(e) if e != *now => return *now,
            Some(_) => {}
            None => *now += 1,
        }
        body["seq"] = (self.seq.fetch_add(1, Ordering::Relaxed) + 1).into();
        body["watchers"] = self.latest.receiver_count().into();
        self.latest.send_replace(Arc::new(Update {
            json: body.to_string(),
            html,
            state: state.name(),
            label: label.to_owned(),
        }));
        *now
    }

    /// A scenario is about to run (preflight, then the load): the epoch
    /// of its updates.
    fn starting(&self, scenario: &str) -> u64 {
        self.publish(None, State::Waiting, scenario, None)
    }

    /// The live view of one load of `scenario`: feed it each second's record.
    pub fn live(
        self: &Arc<Self>,
        scenario: &Scenario,
        watched: Vec<Watched>,
        max_increase_mib: Option<f64>,
    ) -> Live {
        let origin = std::time::Instant::now();
        Live {
            epoch: self.starting(&scenario.name),
            dash: self.clone(),
            scenario: scenario.clone(),
            merger: Merger::new(
                1,
                scenario.tasks.len(),
                origin.into(),
                scenario.arrival.is_some(),
            ),
            sampler: Sampler::new(watched, origin).ok(),
            max_increase_mib,
            started_at: SystemTime::now(),
        }
    }

    /// The run's final result and verdict.
    pub fn finish(&self, r: &RunResult) {
        self.publish(None, State::of(r), &r.scenario, Some(r));
    }
}

/// One load as it goes.
#[derive(Debug)]
pub struct Live {
    dash: Arc<Dashboard>,
    /// The page's epoch for this load.
    epoch: u64,
    scenario: Scenario,
    merger: Merger,
    sampler: Option<Sampler>,
    max_increase_mib: Option<f64>,
    started_at: SystemTime,
}

impl Live {
    /// Adds second `index`'s record and sends the page the report of the
    /// run so far (a few milliseconds of rendering, once a second).
    pub fn add(&mut self, index: u32, rec: Recorded) {
        if index == 0 {
            // The load started one interval before its first record closed.
            self.started_at = SystemTime::now()
                .checked_sub(INTERVAL)
                .unwrap_or(self.started_at);
            if let Some(s) = &mut self.sampler {
                let now = std::time::Instant::now();
                s.set_origin(now.checked_sub(INTERVAL).unwrap_or(now));
            }
        }
        self.merger.add(0, index, rec);
        self.merger.close_complete(|_, _| {});
        if let Some(s) = &mut self.sampler {
            s.sample();
        }
        let r = self.so_far(INTERVAL * (index + 1));
        self.dash.publish(
            Some(self.epoch),
            State::Running,
            &self.scenario.name,
            Some(&r),
        );
    }

    /// The result of the run so far, `elapsed` after its start, with the
    /// checks as they stand.
    fn so_far(&self, elapsed: Duration) -> RunResult {
        let out = self.merger.snapshot(self.started_at, elapsed, 1);
        let meta = RunMeta {
            started_at: self.started_at,
            elapsed,
            interrupted: false,
            ..cliffload_run::output::meta(&self.scenario, &out, String::new(), false)
        };
        let mut r = RunResult::build(meta, &out.totals, &out.intervals);
        // Users still ramping up are not users that never started.
        r.warnings
            .retain(|w| !matches!(w, Warning::UsersNeverStarted { .. }));
        if let Some(s) = &self.sampler {
            cliffload_report::processes::apply(
                &mut r,
                INTERVAL.as_secs_f64(),
                s.series().to_vec(),
                None,
                self.max_increase_mib,
            );
        }
        r
    }
}

fn routes(
    dash: Arc<Dashboard>,
    stop: CancellationToken,
    shutdown: CancellationToken,
) -> axum::Router {
    let shown = dash.clone();
    let port = dash.addr.port();
    axum::Router::new()
        .route(
            "/",
            axum::routing::get(move || {
                let latest = shown.latest.borrow().clone();
                let title = shown.title.clone();
                async move { Html(page(&title, &latest)) }
            }),
        )
        .route(
            "/events",
            axum::routing::get(move || {
                let stream = updates(dash.latest.subscribe(), shutdown.clone());
                async move { Sse::new(stream).keep_alive(KeepAlive::default()) }
            }),
        )
        .route(
            "/stop",
            axum::routing::post(move |headers: HeaderMap| async move {
                stop_run(&headers, port, &stop)
            }),
        )
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| async move {
                match foreign_host(req.headers(), port) {
                    Some(refused) => refused,
                    None => next.run(req).await,
                }
            },
        ))
}

/// Whether `authority` (a `Host` header, or an `Origin` without its
/// scheme) names this server: `localhost` or an IP address, with `port`.
///
/// Any IP address rather than only the bound one: DNS rebinding needs a
/// name the attacker controls, and a browser sends an address in `Host`
/// only when the page itself was loaded from that address and port, that
/// is from this server. It also lets a dashboard bound to 0.0.0.0 be
/// opened at whichever of the machine's addresses reaches it.
pub fn names_this_server(authority: &str, port: u16) -> bool {
    let (name, given) = match authority.rsplit_once(':') {
        Some((name, p)) if !p.contains(']') => (name, p.parse().ok()),
        // No port (`[::1]` has colons but none after it): HTTP's 80,
        // which a browser leaves out.
        _ => (authority, Some(80)),
    };
    if given != Some(port) {
        return false;
    }
    let address = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
        None => name.parse::<Ipv4Addr>().is_ok(),
    };
    address || name.eq_ignore_ascii_case("localhost")
}

/// A plain-text answer.
fn text(status: StatusCode, why: String) -> axum::response::Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        why,
    )
        .into_response()
}

/// The refusal of a request whose `Host` is not this server (421), if it is not.
fn foreign_host(headers: &HeaderMap, port: u16) -> Option<axum::response::Response> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if host.is_some_and(|h| names_this_server(h, port)) {
        return None;
    }
    let shown = host.map_or_else(
        || "none".to_owned(),
        |h| format!("\"{}\"", cliffload_metrics::visible(h)),
    );
    Some(text(
        StatusCode::MISDIRECTED_REQUEST,
        format!(
            "refused: the Host header ({shown}) is not this dashboard; open it at \
             http://127.0.0.1:{port}/ or at the IP address it listens on (a page of \
             another site, pointed here by DNS, must not read or stop the run)\n"
        ),
    ))
}

/// The page as of `latest`, with the report's stylesheet: the report so
/// far is in it, so it shows the run before its first event arrives.
fn page(title: &str, latest: &Update) -> String {
    let escape = cliffload_report::html::escape;
    let report = if latest.html.is_empty() {
        "<p>Waiting for the first second of the load…</p>"
    } else {
        &latest.html
    };
    let label = if latest.label.is_empty() {
        title
    } else {
        &latest.label
    };
    PAGE.replace("{{STYLE}}", cliffload_report::html::style())
        .replace("{{TITLE}}", &escape(title))
        .replace("{{LABEL}}", &escape(label))
        .replace("{{STATE}}", latest.state)
        .replace("{{REPORT}}", report)
}

/// The latest update, then each new one, until `shutdown` (after the last
/// update sent before it).
fn updates(
    rx: watch::Receiver<Arc<Update>>,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(
        (rx, shutdown, true),
        |(mut rx, shutdown, first)| async move {
            if !first {
                tokio::select! {
                    biased;
                    changed = rx.changed() => changed.ok()?,
                    () = shutdown.cancelled() => return None,
                }
            }
            let update = rx.borrow_and_update().clone();
            let event = Event::default().event("update").data(update.json.as_str());
            Some((Ok(event), (rx, shutdown, false)))
        },
    )
}

/// `POST /stop`: ends the run like Ctrl-C. A browser names the page that
/// sends it in `Origin`: it must be this server's (a client that is not a
/// browser sends none).
fn stop_run(headers: &HeaderMap, port: u16, stop: &CancellationToken) -> axum::response::Response {
    if !headers.contains_key(STOP_HEADER) {
        return text(
            StatusCode::FORBIDDEN,
            format!("POST /stop needs the header {STOP_HEADER}: the page's Stop button sends it\n"),
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ours = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|a| names_this_server(a, port));
        if !ours {
            return text(
                StatusCode::FORBIDDEN,
                format!(
                    "refused: POST /stop from the page at \"{}\", not this dashboard's: \
                     press Stop on the dashboard's own page\n",
                    cliffload_metrics::visible(origin.to_str().unwrap_or("(not text)"))
                ),
            );
        }
    }
    if !stop.is_cancelled() {
        eprintln!("\nstopped from the dashboard: finishing in-flight requests and writing results");
        stop.cancel();
    }
    text(
        StatusCode::ACCEPTED,
        "stopping: in-flight requests finish, then the results are written\n".to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_its_title_and_names_no_external_url() {
        let p = page("<img src=x onerror=alert(1)>", &Update::default());
        assert!(p.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!p.contains("<img"));
        assert!(!p.contains("{{"), "every placeholder filled");
        assert!(!p.contains("http://") && !p.contains("https://"));
    }

    #[test]
    fn stop_needs_the_header_a_cross_site_form_cannot_send() {
        let stop = CancellationToken::new();
        let refused = stop_run(&HeaderMap::new(), 8089, &stop);
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(!stop.is_cancelled());
        let mut headers = HeaderMap::new();
        headers.insert(STOP_HEADER, "1".parse().expect("header value"));
        // Issue 26: another site's page, even one with the header.
        headers.insert(
            header::ORIGIN,
            "http://rebind.example:8089".parse().expect("origin"),
        );
        let foreign = stop_run(&headers, 8089, &stop);
        assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
        assert!(!stop.is_cancelled());
        headers.insert(
            header::ORIGIN,
            "http://127.0.0.1:8089".parse().expect("origin"),
        );
        let accepted = stop_run(&headers, 8089, &stop);
        assert_eq!(accepted.status(), StatusCode::ACCEPTED);
        assert!(stop.is_cancelled());
    }

    #[test]
    fn only_an_address_or_localhost_with_the_port_names_this_server() {
        for ours in [
            "127.0.0.1:8089",
            "localhost:8089",
            "LocalHost:8089",
            "[::1]:8089",
            "192.0.2.7:8089",
        ] {
            assert!(names_this_server(ours, 8089), "{ours}");
        }
        for ours in ["127.0.0.1", "[::1]", "localhost:80"] {
            assert!(names_this_server(ours, 80), "{ours}");
        }
        assert!(!names_this_server("rebind.example", 80));
        for foreign in [
            "rebind.example:8089",
            "localhost.rebind.example:8089",
            "127.0.0.1:8090",
            "127.0.0.1",
            "localhost",
            "::1:8089",
            "",
        ] {
            assert!(!names_this_server(foreign, 8089), "{foreign}");
        }
    }
}
