//! Tests of the summary's text and JSON forms.

use super::*;

fn sample() -> Report {
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for v in 1..=1000 {
        h.record(v).unwrap();
    }
    let mut errors = ErrorCounts::default();
    errors.add(ErrorKind::Verify);
    errors.add(ErrorKind::Verify);
    errors.add(ErrorKind::Reset);
    Report {
        conns: 4,
        conns_up: 3,
        size: 64,
        workers: 1,
        rate: 0,
        warmup: Duration::from_secs(2),
        measured: Duration::from_secs(10),
        requests: 12_346,
        requests_total: 15_000,
        behind: 0,
        latency: Latency::of(&h),
        send_lag: Latency::default(),
        bytes_verified: 960_000,
        errors,
        server_usage: None,
        backend: Backend::IoUring,
        fallback_reason: None,
    }
}

#[test]
fn percentiles_of_a_uniform_histogram() {
    let l = sample().latency;
    assert_eq!(
        (l.p50, l.p90, l.p99, l.p999, l.max),
        (500, 900, 990, 999, 1000)
    );
    let empty = Histogram::<u64>::new(3).unwrap();
    assert_eq!(Latency::of(&empty), Latency::default());
}

#[test]
fn io_errors_are_sorted_into_kinds() {
    let k = |kind| ErrorKind::of_io(&io::Error::from(kind));
    assert_eq!(k(io::ErrorKind::ConnectionReset), ErrorKind::Reset);
    assert_eq!(k(io::ErrorKind::BrokenPipe), ErrorKind::Reset);
    assert_eq!(k(io::ErrorKind::UnexpectedEof), ErrorKind::Eof);
    assert_eq!(k(io::ErrorKind::TimedOut), ErrorKind::Other);
}

#[test]
fn text_summary_has_every_figure() {
    let t = format_text(&sample(), None);
    assert!(t.contains("connections     4 (3 up)"), "{t}");
    assert!(t.contains("req/s           1235\n"), "{t}");
    assert!(
        t.contains("p50 500  p90 900  p99 990  p99.9 999  max 1000"),
        "{t}"
    );
    assert!(
        t.contains("errors          3 (connect 0, reset 1, eof 0, verify 2, other 0)"),
        "{t}"
    );
    assert!(!t.contains("server"), "{t}");
}

#[test]
fn json_summary_is_one_flat_line_with_server_figures() {
    let f = ServerFigures {
        enters: 1000,
        ops_submitted: 24_690,
        ring_flags: "SINGLE_ISSUER".into(),
        cpus: (0, 1),
        backend: Backend::IoUring,
        fallback_reason: None,
    };
    let j = format_json(&sample(), Some(&f));
    assert!(
        j.starts_with('{') && j.ends_with('}') && !j.contains('\n'),
        "{j}"
    );
    assert_eq!(j.matches('{').count(), j.matches('}').count(), "{j}");
    for field in [
        "\"requests\":12346,",
        "\"req_per_s\":1234.6,",
        "\"p999\":999,",
        "\"errors\":3,",
        "\"verify\":2,",
        "\"enters_per_request\":0.0810,",
        "\"ops_per_enter\":24.69}",
        "{\"backend\":\"io_uring\",\"connections\":4,",
        "\"server\":{\"backend\":\"io_uring\",\"cpu\":0,",
    ] {
        assert!(j.contains(field), "{field} missing in {j}");
    }
}

#[test]
fn backend_and_fallback_reason_are_reported() {
    let mut r = sample();
    r.backend = Backend::Epoll;
    r.fallback_reason = Some("io_uring_setup was denied (EPERM): \"seccomp\"\n");
    let f = ServerFigures {
        enters: 10,
        backend: Backend::Epoll,
        ..ServerFigures::default()
    };
    let t = format_text(&r, Some(&f));
    assert!(
        t.contains(
            "client backend  epoll (io_uring unavailable: io_uring_setup was denied \
             (EPERM): \"seccomp\"\n)"
        ),
        "{t}"
    );
    assert!(t.contains("server backend  epoll\n"), "{t}");
    assert!(t.contains(" epoll_pwait2 per request "), "{t}");
    let j = format_json(&r, Some(&f));
    assert!(
        j.starts_with(
            "{\"backend\":\"epoll\",\"fallback_reason\":\"io_uring_setup was denied \
             (EPERM): \\\"seccomp\\\"\\u000a\",\"connections\":4,"
        ),
        "{j}"
    );
    assert!(
        j.contains("\"server\":{\"backend\":\"epoll\",\"cpu\":"),
        "{j}"
    );
    assert!(!j.contains('\n'), "{j}");
}

#[test]
fn ratios_never_divide_by_zero() {
    let r = Report::default();
    assert_eq!(r.req_per_s(), 0.0);
    let f = ServerFigures::default();
    assert_eq!((f.ops_per_enter(), f.enters_per_request(0)), (0.0, 0.0));
    assert!(!format_json(&r, Some(&f)).contains("NaN"));
}

#[test]
fn open_loop_and_server_usage_are_reported() {
    let mut r = sample();
    r.rate = 2000;
    r.behind = 7;
    r.workers = 2;
    r.send_lag = Latency {
        p50: 400,
        p90: 800,
        p99: 990,
        p999: 999,
        max: 1500,
    };
    r.server_usage = Some(ServerUsage {
        cpu_s: 1.2346,
        peak_rss_kib: 9000,
        rss_kib: 8000,
    });
    let t = format_text(&r, None);
    assert!(
        t.contains("open loop at 2000 req/s offered; 7 requests sent late"),
        "{t}"
    );
    assert!(
        t.contains("send lag (µs)   p50 400  p99 990  max 1500"),
        "{t}"
    );
    assert!(t.contains("client cores    2"), "{t}");
    assert!(
        t.contains("server CPU      1.23 s in the window, 100.00 µs per request"),
        "{t}"
    );
    assert!(
        t.contains("server RSS      peak 9000 KiB, now 8000 KiB"),
        "{t}"
    );
    let j = format_json(&r, None);
    for field in [
        "\"workers\":2,",
        "\"rate\":2000,",
        "\"behind\":7,",
        "\"send_lag_us\":{\"p50\":400,\"p99\":990,\"max\":1500},",
        "\"server_cpu_s\":1.235,",
        "\"server_cpu_us_per_req\":100.000,",
        "\"server_peak_rss_kib\":9000,",
        "\"server_rss_kib\":8000}",
    ] {
        assert!(j.contains(field), "{field} missing in {j}");
    }
    assert_eq!(j.matches('{').count(), j.matches('}').count(), "{j}");
    // Closed loop without a server pid: no open-loop line, no server fields.
    let t = format_text(&sample(), None);
    assert!(t.contains("closed loop") && !t.contains("send lag"), "{t}");
    assert!(!format_json(&sample(), None).contains("server_cpu_s"));
}
