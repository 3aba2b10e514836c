//! The request log: the last [`CAPACITY`] requests to Keystone and Cinder with their
//! operation, project, status, latency and the fault rule that fired, if any. Filled by
//! one middleware over the whole router; the dispatcher and the fault hooks write into
//! the request's [`Trace`]. A request whose client goes away (a hang) is still logged,
//! by a drop guard.
//!
//! The same middleware writes the access log: one `info` line per request (target
//! `cinderbox::access`) with the operation, method, path (never the query), status,
//! latency, request id and the rule that fired. Headers and bodies — tokens, passwords —
//! are never logged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

/// How many requests the log keeps.
pub const CAPACITY: usize = 1000;

/// The path prefix of the control API, which is not logged.
pub const CONTROL_PREFIX: &str = "/_cinderbox";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogEntry {
    pub seq: u64,
    /// RFC 3339, when the request arrived.
    pub time: String,
    pub method: String,
    pub path: String,
    pub operation: Option<String>,
    pub project_id: Option<String>,
    /// `None` when no response was sent (connection closed, client gone).
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// The id of the fault rule that fired on this request.
    pub rule: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    inner: Mutex<(u64, VecDeque<LogEntry>)>,
}

impl RequestLog {
    fn push(&self, mut e: LogEntry) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        e.seq = g.0;
        if g.1.len() == CAPACITY {
            g.1.pop_front();
        }
        g.1.push_back(e);
    }

    /// The last `limit` entries, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<LogEntry> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let skip = g.1.len().saturating_sub(limit);
        g.1.iter().skip(skip).cloned().collect()
    }

    pub fn clear(&self) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clear();
    }
}

/// What the pipeline learns about one request, shared with the log middleware.
#[derive(Debug, Clone, Default)]
pub struct Trace(Arc<Mutex<TraceInfo>>);

#[derive(Debug, Clone, Default)]
struct TraceInfo {
    operation: Option<String>,
    project_id: Option<String>,
    rule: Option<String>,
    note: Option<String>,
    /// The response was replaced by a closed connection.
    closed: bool,
}

impl Trace {
    fn with<R>(&self, f: impl FnOnce(&mut TraceInfo) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn set_request(&self, operation: &str, project_id: Option<&str>) {
        self.with(|t| {
            t.operation = Some(operation.to_string());
            t.project_id = project_id.map(str::to_string);
        });
    }

    pub fn set_rule(&self, id: &str) {
        self.with(|t| t.rule = Some(id.to_string()));
    }

    pub fn note(&self, note: &str) {
        self.with(|t| t.note = Some(note.to_string()));
    }

    pub fn closed(&self, note: &str) {
        self.with(|t| {
            t.closed = true;
            t.note = Some(note.to_string());
        });
    }
}

/// Logs the request when it ends, or when it is dropped unfinished.
struct Pending {
    log: Arc<RequestLog>,
    trace: Trace,
    time: String,
    method: String,
    path: String,
    started: Instant,
    done: bool,
}

impl Pending {
    fn record(&mut self, status: Option<u16>, request_id: Option<&str>) {
        self.done = true;
        let t = self.trace.with(|t| t.clone());
        let status = if t.closed { None } else { status };
        let latency_ms = self.started.elapsed().as_millis() as u64;
        tracing::info!(
            target: "cinderbox::access",
            operation = %t.operation.as_deref().unwrap_or("-"),
            method = %self.method,
            path = %self.path,
            status = %status.map_or_else(|| "-".to_string(), |s| s.to_string()),
            latency_ms,
            request_id = %request_id.unwrap_or("-"),
            rule = %t.rule.as_deref().unwrap_or("-"),
            note = ?t.note.as_deref().unwrap_or("-"),
            "request"
        );
        self.log.push(LogEntry {
            seq: 0,
            time: self.time.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            operation: t.operation,
            project_id: t.project_id,
            status,
            latency_ms,
            rule: t.rule,
            note: t.note,
        });
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            let had_note = self.trace.with(|t| t.note.is_some());
            if !had_note {
                self.trace.note("client went away");
            }
            self.record(None, None);
        }
    }
}

/// Middleware: gives each request a [`Trace`] and logs it (control API excluded).
pub async fn record(State(log): State<Arc<RequestLog>>, mut req: Request, next: Next) -> Response {
    if req.uri().path().starts_with(CONTROL_PREFIX) {
        return next.run(req).await;
    }
    let trace = Trace::default();
    req.extensions_mut().insert(trace.clone());
    let mut pending = Pending {
        log,
        trace,
        time: crate::timefmt::keystone(crate::timefmt::now_us()),
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        started: Instant::now(),
        done: false,
    };
    let resp = next.run(req).await;
    let request_id = resp
        .headers()
        .get("x-openstack-request-id")
        .and_then(|v| v.to_str().ok());
    pending.record(Some(resp.status().as_u16()), request_id);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> LogEntry {
        LogEntry {
            seq: 0,
            time: String::new(),
            method: "GET".into(),
            path: path.into(),
            operation: None,
            project_id: None,
            status: Some(200),
            latency_ms: 0,
            rule: None,
            note: None,
        }
    }

    #[test]
    fn the_log_is_bounded_and_keeps_the_newest() {
        let log = RequestLog::default();
        for i in 0..CAPACITY + 5 {
            log.push(entry(&format!("/{i}")));
        }
        let all = log.recent(usize::MAX);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0].path, "/5");
        assert_eq!(all.last().unwrap().seq, (CAPACITY + 5) as u64);
        let two = log.recent(2);
        assert_eq!(
            two.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            [format!("/{}", CAPACITY + 3), format!("/{}", CAPACITY + 4)]
        );
        log.clear();
        assert!(log.recent(10).is_empty());
    }
}
