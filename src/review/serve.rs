//! `review --serve`: the review page, live, on a local port. Marks are POSTed to
//! `/api/mark` and answered only once selects.yaml is renamed into place (fsynced),
//! so killing the server loses nothing it acknowledged. Loopback by default; any
//! request whose Host or Origin is not this server is refused (DNS rebinding,
//! cross-site posts), and only the campaign's own clips and images are served.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use super::{Campaign, ReviewArgs, TakeStatus, page, posters};
use crate::exit;
use crate::selects::{self, Mark, Verdict};

struct Server {
    manifest: PathBuf,
    out: Option<PathBuf>,
    rehearse: bool,
    /// `host:port` values a request may name (Host, and Origin after `http://`).
    hosts: Vec<String>,
    /// One mark at a time: read, change, write selects.yaml.
    write: tokio::sync::Mutex<()>,
}

impl Server {
    fn campaign(&self) -> Result<Campaign, String> {
        super::open(&self.manifest, self.out.as_deref(), self.rehearse)
    }
}

/// What the page sends for one take.
#[derive(Debug, serde::Deserialize)]
struct MarkRequest {
    job: String,
    variant: u32,
    #[serde(default)]
    mark: Option<Verdict>,
    #[serde(default)]
    note: String,
}

/// Runs the server until Ctrl-C.
pub fn serve(args: &ReviewArgs, addr: SocketAddr) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shotlist review: cannot start the async runtime: {e}");
            return exit::code(exit::INVALID);
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("shotlist review: cannot listen on {addr}: {e}");
                return exit::code(exit::INVALID);
            }
        };
        let local = listener.local_addr().unwrap_or(addr);
        if !local.ip().is_loopback() {
            eprintln!(
                "shotlist review: listening on {local}, which is not loopback: anyone who can reach it can mark takes"
            );
        }
        let server = Arc::new(Server {
            manifest: args.manifest.clone(),
            out: args.out.clone(),
            rehearse: args.rehearse,
            hosts: allowed_hosts(local),
            write: tokio::sync::Mutex::new(()),
        });
        let app = axum::Router::new()
            .route("/", get(index))
            .route("/review.html", get(index))
            .route("/api/mark", post(mark))
            .route("/{*path}", get(file))
            .layer(middleware::from_fn_with_state(server.clone(), same_origin))
            .with_state(server);
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "shotlist review: serving http://{local}/ (Ctrl-C to stop)");
            let _ = out.flush();
        }
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
            Ok(()) => exit::code(exit::OK),
            Err(e) => {
                eprintln!("shotlist review: {e}");
                exit::code(exit::INVALID)
            }
        }
    })
}

fn allowed_hosts(local: SocketAddr) -> Vec<String> {
    let port = local.port();
    let mut hosts = vec![local.to_string()];
    if local.ip().is_loopback() {
        hosts.extend([format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")]);
    }
    if local.ip().is_unspecified() {
        // Bound to every interface (asked for): any of the machine's addresses, as an
        // IP literal with this port. Hostnames stay refused (DNS rebinding).
        hosts.push(format!("*:{port}"));
    }
    hosts
}

fn host_allowed(hosts: &[String], host: &str) -> bool {
    hosts.iter().any(|h| h == host)
        || host.parse::<SocketAddr>().is_ok_and(|a| hosts.contains(&format!("*:{}", a.port())))
}

/// Refuses a request naming another host (Host), sent from another origin (Origin),
/// or a state change that does not say where it comes from.
async fn same_origin(State(server): State<Arc<Server>>, request: Request, next: Next) -> Response {
    if let Err(why) = check_origin(&server.hosts, request.method(), request.headers()) {
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    next.run(request).await
}

fn check_origin(hosts: &[String], method: &Method, headers: &HeaderMap) -> Result<(), String> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase);
    let host = text(header::HOST).ok_or("no Host header")?;
    if !host_allowed(hosts, &host) {
        return Err(format!("refused: Host {host} is not this server"));
    }
    match text(header::ORIGIN) {
        // Same origin: the page was loaded from the host the request is sent to.
        Some(origin) if origin == format!("http://{host}") => Ok(()),
        Some(origin) => Err(format!("refused: requests from {origin} are not allowed")),
        None if method == Method::GET || method == Method::HEAD => Ok(()),
        None => Err("refused: a change must come from the review page (no Origin header)".into()),
    }
}

async fn index(State(server): State<Arc<Server>>) -> Response {
    let campaign = match server.campaign() {
        Ok(c) => c,
        Err(msg) => return (StatusCode::INTERNAL_SERVER_ERROR, msg).into_response(),
    };
    let posters = tokio::task::spawn_blocking(move || {
        let p = posters::make(&campaign);
        (campaign, p)
    })
    .await;
    match posters {
        Ok((campaign, posters)) => Html(page::render(&campaign, &posters, page::Mode::Live)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn mark(State(server): State<Arc<Server>>, Json(req): Json<MarkRequest>) -> Response {
    let _one = server.write.lock().await;
    let campaign = match server.campaign() {
        Ok(c) => c,
        Err(msg) => return (StatusCode::INTERNAL_SERVER_ERROR, msg).into_response(),
    };
    let Some(take) = campaign.takes().find(|t| t.row.job_key == req.job && t.row.variant == req.variant) else {
        return (StatusCode::NOT_FOUND, "no such take in this campaign").into_response();
    };
    if req.mark == Some(Verdict::Select) && take.status != TakeStatus::Done {
        return (StatusCode::CONFLICT, "only a done take can be a select").into_response();
    }
    let mark = Mark {
        job: req.job,
        variant: req.variant,
        shot: take.row.shot_id.clone(),
        mark: req.mark,
        note: req.note,
        at: crate::run::journal::now(),
    };
    let out = campaign.out.clone();
    let saved = tokio::task::spawn_blocking(move || -> Result<Mark, String> {
        let mut all = selects::load(&out).map_err(|e| e.to_string())?;
        all.set(mark.clone());
        selects::save(&out, &all).map_err(|e| e.to_string())?;
        // The report and the static page show the marks too. They are views: a
        // failure to refresh them does not undo the saved mark.
        let mut campaign = campaign;
        campaign.selects = all;
        let report = out.join("report.csv");
        if report.exists() {
            let rows: Vec<_> = campaign.takes().map(|t| t.row.clone()).collect();
            if let Err(e) = crate::run::report::write(&report, &rows) {
                eprintln!("shotlist review: cannot refresh {}: {e}", report.display());
            }
        }
        if let Err(e) = super::write_page(&campaign) {
            eprintln!("shotlist review: cannot refresh review.html: {e}");
        }
        Ok(mark)
    })
    .await;
    match saved {
        Ok(Ok(mark)) => Json(serde_json::json!({
            "job": mark.job, "variant": mark.variant, "shot": mark.shot,
            "mark": mark.mark, "note": mark.note, "at": mark.at,
        }))
        .into_response(),
        Ok(Err(msg)) => (StatusCode::INTERNAL_SERVER_ERROR, msg).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A clip, poster or contact sheet of the campaign; nothing else in the folder.
async fn file(State(server): State<Arc<Server>>, UrlPath(path): UrlPath<String>) -> Response {
    let campaign = match server.campaign() {
        Ok(c) => c,
        Err(msg) => return (StatusCode::INTERNAL_SERVER_ERROR, msg).into_response(),
    };
    let is_clip = campaign.takes().any(|t| t.file_exists && t.row.file == path);
    let is_image = !is_clip && path.ends_with(".jpg") && {
        let c = campaign.clone();
        let p = path.clone();
        tokio::task::spawn_blocking(move || {
            let made = posters::make(&c);
            made.poster.values().any(|x| *x == p) || made.contact_sheet.values().any(|x| *x == p)
        })
        .await
        .unwrap_or(false)
    };
    if !is_clip && !is_image {
        return (StatusCode::NOT_FOUND, "not part of this review").into_response();
    }
    match tokio::fs::read(campaign.out.join(&path)).await {
        Ok(bytes) => {
            let kind = if is_clip { "video/mp4" } else { "image/jpeg" };
            ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], bytes).into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_this_server_s_host_and_origin_pass() {
        let hosts = allowed_hosts("127.0.0.1:8932".parse().unwrap());
        let ok = |m: Method, h: &[(&str, &str)]| check_origin(&hosts, &m, &headers(h)).is_ok();
        assert!(ok(Method::GET, &[("host", "127.0.0.1:8932")]));
        assert!(ok(Method::GET, &[("host", "localhost:8932")]));
        assert!(ok(Method::POST, &[("host", "127.0.0.1:8932"), ("origin", "http://127.0.0.1:8932")]));
        assert!(!ok(Method::GET, &[("host", "evil.example:8932")]), "DNS rebinding");
        assert!(!ok(Method::GET, &[]), "no Host");
        assert!(!ok(Method::POST, &[("host", "127.0.0.1:8932"), ("origin", "http://evil.example")]));
        assert!(!ok(Method::POST, &[("host", "127.0.0.1:8932"), ("origin", "null")]), "file:// pages");
        assert!(!ok(Method::POST, &[("host", "127.0.0.1:8932")]), "a change without Origin");
        assert!(!ok(Method::POST, &[("host", "127.0.0.1:8932"), ("origin", "http://localhost:8932")]), "cross-origin");
        let any = allowed_hosts("0.0.0.0:8932".parse().unwrap());
        let ok_any = |h: &[(&str, &str)]| check_origin(&any, &Method::POST, &headers(h)).is_ok();
        assert!(ok_any(&[("host", "192.168.1.20:8932"), ("origin", "http://192.168.1.20:8932")]));
        assert!(!ok_any(&[("host", "evil.example:8932"), ("origin", "http://evil.example:8932")]), "hostnames");
        assert!(!ok_any(&[("host", "192.168.1.20:9999"), ("origin", "http://192.168.1.20:9999")]), "another port");
    }
}
