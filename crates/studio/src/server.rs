//! The HTTP server: routes, the shared state behind them, and the threads beside it (drawing,
//! watching).

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::frames::{FrameQueue, Outcome};
use crate::guard::Guard;
use crate::jobs::{JobView, Jobs, POLL, SaveError};
use crate::render::{Phase, RenderView, Renders};
use crate::{Backend, FrameRequest, Options, StudioError};

/// The page: HTML, CSS and script in one file, compiled in.
const PAGE: &str = include_str!("page/index.html");

/// A running studio's address, for the one line the binary prints.
#[derive(Debug, Clone)]
pub struct Studio {
    pub addr: SocketAddr,
    /// The page's URL, token included.
    pub url: String,
}

struct Shared {
    backend: Arc<dyn Backend>,
    guard: Guard,
    jobs: Jobs,
    /// The job's folder (canonical): files under it may be served.
    folder: PathBuf,
    scale: f64,
    frames: FrameQueue,
    renders: Arc<Renders>,
    events: broadcast::Sender<(&'static str, String)>,
    timeline: Mutex<Option<(u64, Bytes)>>,
    /// Held while a timeline is made, so concurrent requests make it once.
    timeline_busy: tokio::sync::Mutex<()>,
    stop: AtomicBool,
    /// Set on Ctrl-C: ends the event streams, which would otherwise keep the graceful shutdown
    /// waiting for ever.
    closing: watch::Sender<bool>,
}

#[derive(Serialize)]
struct StateJson<'a> {
    #[serde(flatten)]
    job: &'a JobView,
    render: &'a RenderView,
    /// The page's default preview scale (`--scale`).
    scale: f64,
}

impl Shared {
    fn state_json(&self, job: &JobView) -> String {
        self.renders
            .locked(|render| self.state_json_with(job, render))
    }

    fn state_json_with(&self, job: &JobView, render: &RenderView) -> String {
        serde_json::to_string(&StateJson {
            job,
            render,
            scale: self.scale,
        })
        .unwrap_or_default()
    }

    /// Sends a state event. The render's view stays locked until it is sent, as render events
    /// are sent, so a state event never carries an older render than one sent before it.
    fn publish_state(&self, job: &JobView) {
        self.renders.locked(|render| {
            let _ = self
                .events
                .send(("state", self.state_json_with(job, render)));
        });
    }
}

/// Serves the studio for the job in `options` until Ctrl-C (or SIGTERM): binds 127.0.0.1, loads
/// the job, calls `ready` with the page's URL, then answers requests.
pub fn serve(
    backend: impl Backend,
    options: Options,
    ready: impl FnOnce(&Studio),
) -> Result<(), StudioError> {
    if !(0.05..=1.0).contains(&options.scale) {
        return Err(StudioError::Scale(options.scale));
    }
    let job = std::fs::canonicalize(&options.job).map_err(|source| StudioError::Job {
        path: options.job.clone(),
        source,
    })?;
    if !job.is_file() {
        return Err(StudioError::Job {
            path: options.job.clone(),
            source: std::io::Error::other("not a file"),
        });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("studio-http")
        .enable_all()
        .build()?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind((
            Ipv4Addr::LOCALHOST,
            options.port,
        )))
        .map_err(|source| StudioError::Bind {
            port: options.port,
            source,
        })?;
    let addr = listener.local_addr()?;
    let token = Guard::random_token()?;
    let folder = job.parent().map(Path::to_owned).unwrap_or_default();
    let shared = Arc::new(Shared {
        backend: Arc::new(backend),
        guard: Guard::new(token.clone(), addr.port()),
        jobs: Jobs::new(job),
        folder,
        scale: options.scale,
        frames: FrameQueue::default(),
        renders: Arc::default(),
        events: broadcast::channel(64).0,
        timeline: Mutex::new(None),
        timeline_busy: tokio::sync::Mutex::new(()),
        stop: AtomicBool::new(false),
        closing: watch::channel(false).0,
    });
    shared.jobs.reload(&*shared.backend);
    let drawing = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("studio-draw".into())
            .spawn(move || shared.frames.run(&*shared.backend))?
    };
    let watching = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("studio-watch".into())
            .spawn(move || watch(&shared))?
    };
    let studio = Studio {
        addr,
        url: format!("http://{addr}/?token={token}"),
    };
    ready(&studio);
    let app = router(shared.clone());
    let closing = shared.clone();
    let served = runtime.block_on(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                log::info!("studio: stopping (Ctrl-C again to quit at once)");
                closing.closing.send_replace(true);
                closing.renders.cancel();
                tokio::spawn(async {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        std::process::exit(130);
                    }
                });
            })
            .await
    });
    shared.stop.store(true, Ordering::Relaxed);
    shared.frames.close();
    // A cancelled render removes its partial file and stops its encoder: wait for it.
    shared.renders.stop();
    let _ = drawing.join();
    let _ = watching.join();
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served.map_err(StudioError::Io)
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// Re-reads the job whenever a watched file changes.
fn watch(shared: &Shared) {
    while !shared.stop.load(Ordering::Relaxed) {
        std::thread::sleep(POLL);
        if let Some(view) = shared.jobs.reload_if_changed(&*shared.backend) {
            shared.publish_state(&view);
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/state", get(state))
        .route("/api/events", get(events))
        .route("/api/timeline", get(timeline))
        .route("/api/frame", get(frame))
        .route("/api/audio", get(audio))
        .route("/api/job", axum::routing::put(save))
        .route("/api/render", post(render))
        .route("/api/render/cancel", post(cancel))
        .route("/api/output", get(output))
        .route("/files/{*path}", get(file))
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

/// Every request passes the [`Guard`]; every answer is private and uncached.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if let Err(refusal) = shared.guard.check(request.uri(), request.headers()) {
        return (refusal.status, refusal.message).into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 img-src 'self' blob: data:; media-src 'self'; connect-src 'self'; \
                 frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ),
        ],
        PAGE,
    )
        .into_response()
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn state(State(shared): State<Arc<Shared>>) -> Response {
    json(shared.state_json(&shared.jobs.view()))
}

async fn events(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    // Subscribe before reading the state: a change in between is then sent, not lost.
    let updates = BroadcastStream::new(shared.events.subscribe())
        .filter_map(Result::ok)
        .map(|(kind, data)| Some(Event::default().event(kind).data(data)));
    let first = shared.state_json(&shared.jobs.view());
    // Ends when the studio stops (`None`).
    let closing = WatchStream::new(shared.closing.subscribe())
        .filter(|closing| *closing)
        .map(|_| None);
    let stream = tokio_stream::once(Some(Event::default().event("state").data(first)))
        .chain(updates)
        .merge(closing)
        .take_while(Option::is_some)
        .filter_map(|event| event.map(Ok));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn timeline(State(shared): State<Arc<Shared>>) -> Response {
    let cached = || {
        let generation = shared.jobs.generation();
        let cached = shared
            .timeline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match cached {
            Some((g, body)) if g == generation => Ok(body),
            _ => Err(generation),
        }
    };
    if let Ok(body) = cached() {
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    // One at a time (each reads the whole track); a request that waited may find it made.
    let _busy = shared.timeline_busy.lock().await;
    let generation = match cached() {
        Ok(body) => return ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(generation) => generation,
    };
    let backend = shared.backend.clone();
    let made = tokio::task::spawn_blocking(move || backend.timeline()).await;
    match made {
        Ok(Ok(t)) => {
            let body = Bytes::from(serde_json::to_vec(&t).unwrap_or_default());
            *shared
                .timeline
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some((generation, body.clone()));
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Ok(Err(problem)) => (StatusCode::UNPROCESSABLE_ENTITY, problem.message).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct FrameQuery {
    t: Option<f64>,
    scale: Option<f64>,
    off: Option<String>,
}

async fn frame(State(shared): State<Arc<Shared>>, Query(q): Query<FrameQuery>) -> Response {
    let Some((info, generation)) = shared.jobs.loaded() else {
        return (
            StatusCode::CONFLICT,
            "the job has not loaded yet: fix the error shown, and save",
        )
            .into_response();
    };
    let time = q.t.unwrap_or(info.start);
    let scale = q.scale.unwrap_or(shared.scale);
    if !time.is_finite() || !(0.05..=1.0).contains(&scale) {
        return (
            StatusCode::BAD_REQUEST,
            format!(
                "t must be a number of seconds and scale between 0.05 and 1 (got {time}, {scale})"
            ),
        )
            .into_response();
    }
    let mut hidden = Vec::new();
    for part in q.off.as_deref().unwrap_or("").split(',') {
        match part.trim() {
            "" => {}
            n => match n.parse::<usize>() {
                Ok(i) => hidden.push(i),
                Err(_) => {
                    return (
                        StatusCode::BAD_REQUEST,
                        format!("off: \"{n}\" is not a layer index"),
                    )
                        .into_response();
                }
            },
        }
    }
    // The last frame of the span starts one frame before its end.
    let frames = ((info.end - info.start) * info.fps).round().max(1.0);
    let last = info.start + (frames - 1.0) / info.fps;
    let reply = shared.frames.submit(FrameRequest {
        time: time.min(last).max(info.start),
        scale,
        hidden,
    });
    match reply.await {
        Ok(Outcome::Drawn(Ok(frame), took)) => (
            [
                (header::CONTENT_TYPE, "image/png".to_owned()),
                (
                    header::HeaderName::from_static("x-frame-time"),
                    format!("{:.6}", frame.time),
                ),
                (
                    header::HeaderName::from_static("x-render-ms"),
                    format!("{:.1}", took.as_secs_f64() * 1000.0),
                ),
                (
                    header::HeaderName::from_static("x-generation"),
                    generation.to_string(),
                ),
            ],
            frame.png,
        )
            .into_response(),
        Ok(Outcome::Drawn(Err(problem), _)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, problem.message).into_response()
        }
        Ok(Outcome::Superseded) | Err(_) => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn send_file(path: &Path, request: Request) -> Response {
    match ServeFile::new(path).oneshot(request).await {
        Ok(r) => r.map(Body::new),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn audio(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    match shared.jobs.info() {
        Some(info) => send_file(&info.audio, request).await,
        None => (StatusCode::CONFLICT, "the job has not loaded yet").into_response(),
    }
}

#[derive(Deserialize)]
struct SaveQuery {
    force: Option<u8>,
}

async fn save(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<SaveQuery>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let base = headers
        .get("x-base-modified")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let force = q.force == Some(1);
    let worker = shared.clone();
    let saved =
        tokio::task::spawn_blocking(move || worker.jobs.save(&*worker.backend, &body, base, force))
            .await;
    match saved {
        Ok(Ok(view)) => {
            shared.publish_state(&view);
            json(shared.state_json(&view))
        }
        Ok(Err(SaveError::Conflict { modified })) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "conflict": true, "modified": modified }).to_string(),
        )
            .into_response(),
        Ok(Err(SaveError::Io(e))) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: cannot save: {e}", shared.jobs.path.display()),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn render(State(shared): State<Arc<Shared>>) -> Response {
    let view = shared.jobs.view();
    if view.info.is_none() || view.error.is_some() {
        // Rendering the last good version of a job whose file is broken would surprise.
        return (
            StatusCode::CONFLICT,
            "the job file has an error (shown in the page): fix it first",
        )
            .into_response();
    }
    let events = shared.events.clone();
    let started = shared.renders.start(shared.backend.clone(), move |view| {
        let _ = events.send(("render", serde_json::to_string(view).unwrap_or_default()));
    });
    match started {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(why) => (StatusCode::CONFLICT, why).into_response(),
    }
}

async fn cancel(State(shared): State<Arc<Shared>>) -> Response {
    if shared.renders.cancel() {
        StatusCode::ACCEPTED.into_response()
    } else {
        (StatusCode::CONFLICT, "no render is running").into_response()
    }
}

async fn output(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let view = shared.renders.view();
    match (view.state, view.output) {
        (Phase::Done, Some(path)) => send_file(&path, request).await,
        _ => (StatusCode::NOT_FOUND, "no finished render yet").into_response(),
    }
}

/// A file of the job's folder, or one the job names: nothing else (no `..`, no links out).
async fn file(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(path): axum::extract::Path<String>,
    request: Request,
) -> Response {
    match allowed_file(&shared, &path) {
        Some(p) => send_file(&p, request).await,
        None => (
            StatusCode::FORBIDDEN,
            "refused: only files in the job's folder or named by the job are served",
        )
            .into_response(),
    }
}

fn allowed_file(shared: &Shared, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let real = std::fs::canonicalize(shared.folder.join(relative)).ok()?;
    let named = shared.jobs.info().is_some_and(|info| {
        info.files
            .iter()
            .any(|f| std::fs::canonicalize(f).is_ok_and(|f| f == real))
    });
    (real.is_file() && (real.starts_with(&shared.folder) || named)).then_some(real)
}
