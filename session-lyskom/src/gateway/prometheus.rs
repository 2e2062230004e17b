//! `GET /metrics`: the gateway's metrics in the Prometheus text exposition format (0.0.4),
//! named as Prometheus names things: `kom_gateway_` first, `_total` for counters,
//! `_seconds` for durations, a `# HELP` and a `# TYPE` line before each family.

use std::fmt::Write as _;

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use http_body_util::Full;

use super::http_metrics::HttpMetrics;
use super::registry::MetricsSnapshot;
use super::response::Resp;

/// The content type of the text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `200` answer carrying `text`, rendered by [`render`].
pub(super) fn response(text: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    r
}

/// One metric family's `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A family of one unlabelled sample.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// Renders every metric.
pub(super) fn render(m: &MetricsSnapshot, http: &HttpMetrics) -> String {
    let mut out = String::with_capacity(4096);
    single(
        &mut out,
        "kom_gateway_connections_open",
        "gauge",
        "LysKOM connections open now (or being opened).",
        m.open as u64,
    );
    single(
        &mut out,
        "kom_gateway_connections_opened_total",
        "counter",
        "LysKOM connections opened.",
        m.opened,
    );
    let name = "kom_gateway_connections_closed_total";
    family(
        &mut out,
        name,
        "counter",
        "LysKOM connections closed: by their client, after being idle, or dropped by the server.",
    );
    for (reason, value) in [("client", m.closed), ("idle", m.reaped), ("lost", m.lost)] {
        let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {value}");
    }
    single(
        &mut out,
        "kom_gateway_connections_refused_total",
        "counter",
        "LysKOM connections refused at a cap (in total or per client address).",
        m.refused,
    );
    single(
        &mut out,
        "kom_gateway_connect_failures_total",
        "counter",
        "LysKOM connections that could not reach their server.",
        m.connect_failures,
    );
    let name = "kom_gateway_logins_total";
    family(
        &mut out,
        name,
        "counter",
        "Logins through POST /<server>/sessions/current/login, by result.",
    );
    for (result, value) in [("success", m.logins), ("failure", m.login_failures)] {
        let _ = writeln!(out, "{name}{{result=\"{result}\"}} {value}");
    }
    single(
        &mut out,
        "kom_gateway_websockets_open",
        "gauge",
        "WebSockets open now.",
        m.websockets_open,
    );
    single(
        &mut out,
        "kom_gateway_websockets_opened_total",
        "counter",
        "WebSockets opened.",
        m.websockets_opened,
    );
    let name = "kom_gateway_http_requests_total";
    family(
        &mut out,
        name,
        "counter",
        "HTTP requests answered, by status class.",
    );
    for (class, value) in http.by_class() {
        let _ = writeln!(out, "{name}{{class=\"{class}\"}} {value}");
    }
    let name = "kom_gateway_http_request_duration_seconds";
    family(
        &mut out,
        name,
        "histogram",
        "Time from a request's arrival to its answer.",
    );
    for (bound, value) in http.buckets() {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {value}");
    }
    let count = http.count();
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {}", http.sum_seconds());
    let _ = writeln!(out, "{name}_count {count}");
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::StatusCode;

    use super::*;

    #[test]
    fn every_sample_follows_its_help_and_type_and_has_a_number() {
        let http = HttpMetrics::default();
        http.observe(StatusCode::CREATED, Duration::from_millis(20));
        let snapshot = MetricsSnapshot {
            open: 2,
            logins: 3,
            login_failures: 1,
            ..MetricsSnapshot::default()
        };
        let text = render(&snapshot, &http);
        assert!(text.contains("kom_gateway_connections_open 2\n"));
        assert!(text.contains("kom_gateway_logins_total{result=\"success\"} 3\n"));
        assert!(text.contains("kom_gateway_logins_total{result=\"failure\"} 1\n"));
        assert!(text.contains("kom_gateway_http_requests_total{class=\"2xx\"} 1\n"));
        assert!(
            text.contains("kom_gateway_http_request_duration_seconds_bucket{le=\"0.025\"} 1\n")
        );
        assert!(text.contains("kom_gateway_http_request_duration_seconds_bucket{le=\"0.01\"} 0\n"));
        assert!(text.contains("kom_gateway_http_request_duration_seconds_count 1\n"));
        let mut typed = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                typed.push(rest.split(' ').next().unwrap().to_owned());
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let family = typed.last().unwrap();
            assert!(series.starts_with(family.as_str()), "{line} under {family}");
        }
    }
}
