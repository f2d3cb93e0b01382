//! Feature `tracing`: debug mode's reports, the runtime's start and stop, task spans and the
//! accept back-off reach a subscriber. A small recording subscriber stands in for a real
//! one; it is set for the test's thread only (`with_default`), and each runtime here has
//! one core, on that thread. Without a subscriber, reports still go to stderr
//! (tests/runtime_debug.rs runs with the feature on in CI).

mod support;

use ringio::task::Builder;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One event or new span as recorded: where it came from and its fields as text.
#[derive(Debug, Clone)]
struct Seen {
    kind: &'static str,
    target: String,
    name: String,
    level: Level,
    fields: Vec<(String, String)>,
}

impl Seen {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
}

/// Records every event and span, at every level.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    next_id: Arc<Mutex<u64>>,
    entered: Arc<Mutex<Vec<u64>>>,
}

impl Recorder {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn push(&self, kind: &'static str, meta: &Metadata<'_>, fields: Fields) {
        self.seen.lock().unwrap().push(Seen {
            kind,
            target: meta.target().to_string(),
            name: meta.name().to_string(),
            level: *meta.level(),
            fields: fields.0,
        });
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        span.record(&mut fields);
        self.push("span", span.metadata(), fields);
        let mut next = self.next_id.lock().unwrap();
        *next += 1;
        Id::from_u64(*next)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.push("event", event.metadata(), fields);
    }

    fn enter(&self, span: &Id) {
        self.entered.lock().unwrap().push(span.into_u64());
    }

    fn exit(&self, _: &Id) {}
}

/// RLIMIT_NOFILE's soft limit lowered for the life of the value (setrlimit(2)).
struct NofileSoftLimit(libc::rlimit);

impl NofileSoftLimit {
    fn lower_to(soft: u64) -> NofileSoftLimit {
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain syscalls on a local struct.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
            let new = libc::rlimit {
                rlim_cur: soft.min(old.rlim_cur),
                rlim_max: old.rlim_max,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &new), 0);
        }
        NofileSoftLimit(old)
    }
}

impl Drop for NofileSoftLimit {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &self.0) };
    }
}

fn events(seen: &[Seen], target: &str) -> Vec<Seen> {
    seen.iter()
        .filter(|s| s.kind == "event" && s.target == target)
        .cloned()
        .collect()
}

fn message(s: &Seen) -> &str {
    s.field("message").unwrap_or("")
}

/// Set in the child that runs the debug-mode case, so its stderr can be checked.
const CHILD: &str = "RINGIO_TRACING_TEST_CHILD";

#[test]
fn debug_reports_go_to_the_subscriber_and_not_to_stderr() {
    let _serial = support::serial();
    if std::env::var_os(CHILD).is_some() {
        debug_reports_and_the_runtime_events_go_to_the_subscriber();
        return;
    }
    let out = support::child::run_test(
        "debug_reports_go_to_the_subscriber_and_not_to_stderr",
        &[(CHILD, Some("1")), ("RINGIO_DEBUG", None)],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "child failed\n--- stdout\n{}\n--- stderr\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        !out.stderr.contains("ringio debug:"),
        "a report went to stderr beside the subscriber:\n{}",
        out.stderr
    );
}

fn debug_reports_and_the_runtime_events_go_to_the_subscriber() {
    let rec = Recorder::default();
    tracing::subscriber::with_default(rec.clone(), || {
        let rt = ringio::Runtime::builder()
            .workers(1)
            .debug(true)
            .build()
            .unwrap();
        rt.block_on(async {
            Builder::new()
                .name("sleeper")
                .spawn(async { std::thread::sleep(Duration::from_millis(200)) })
                .await
                .unwrap();
            let failing = Builder::new()
                .name("failing")
                .spawn(async { panic!("on purpose") });
            while !failing.is_finished() {
                ringio::yield_now().await;
            }
            drop(failing);
        });
    });
    let seen = rec.seen();

    let debug = events(&seen, "ringio::debug");
    let slow: Vec<_> = debug
        .iter()
        .filter(|e| message(e).starts_with("slow poll") && e.field("task") == Some("sleeper"))
        .collect();
    // (A panicking poll may be slow too when the panic hook prints a backtrace.)
    assert_eq!(slow.len(), 1, "the sleeper reported once: {debug:#?}");
    assert_eq!(slow[0].level, Level::WARN);
    assert!(
        slow[0]
            .field("spawned_at")
            .is_some_and(|at| at.contains("tracing_events.rs")),
        "{slow:#?}"
    );
    assert!(slow[0].field("held_us").unwrap().parse::<u64>().unwrap() >= 200_000);
    let lost: Vec<_> = debug
        .iter()
        .filter(|e| message(e).starts_with("never retrieved"))
        .collect();
    assert_eq!(lost.len(), 1, "{debug:#?}");
    assert_eq!(lost[0].field("task"), Some("failing"));
    assert!(lost[0].field("error").unwrap().contains("on purpose"));

    let runtime = events(&seen, "ringio::runtime");
    let said = |m: &str| runtime.iter().filter(|e| message(e) == m).count();
    assert_eq!(
        (said("core started"), said("core stopped")),
        (1, 1),
        "{runtime:#?}"
    );
    let started = runtime
        .iter()
        .find(|e| message(e) == "core started")
        .unwrap();
    assert_eq!(
        started.field("backend"),
        Some(support::backend().to_string().as_str())
    );
    assert!(
        seen.iter()
            .any(|s| s.kind == "span" && s.name == "core" && s.field("index") == Some("0")),
        "a span for core 0"
    );
}

#[test]
fn each_task_gets_a_span_entered_while_it_runs() {
    let _serial = support::serial();
    let rec = Recorder::default();
    tracing::subscriber::with_default(rec.clone(), || {
        ringio::run(async {
            Builder::new()
                .name("worker")
                .spawn(async {
                    ringio::yield_now().await;
                    tracing::info!(target: "in_task", "inside");
                })
                .await
                .unwrap();
        });
    });
    let seen = rec.seen();
    let task_spans: Vec<_> = seen
        .iter()
        .filter(|s| s.kind == "span" && s.target == "ringio::task")
        .collect();
    assert_eq!(task_spans.len(), 1, "{task_spans:#?}");
    assert_eq!(task_spans[0].field("name"), Some("worker"));
    assert!(
        task_spans[0]
            .field("spawned_at")
            .is_some_and(|at| at.contains("tracing_events.rs"))
    );
    // Spans got ids in order: core first, then the task. The task's span is entered
    // once per poll: two polls (one before the yield, one after).
    let order: Vec<_> = seen.iter().filter(|s| s.kind == "span").collect();
    let task_id = 1 + order
        .iter()
        .position(|s| s.target == "ringio::task")
        .unwrap() as u64;
    let entered = rec.entered.lock().unwrap().clone();
    assert_eq!(
        entered.iter().filter(|&&id| id == task_id).count(),
        2,
        "{entered:?}"
    );
    assert!(events(&seen, "in_task").len() == 1);
}

#[test]
fn accepts_out_of_descriptors_are_reported_with_their_pause() {
    let _serial = support::serial();
    let rec = Recorder::default();
    tracing::subscriber::with_default(rec.clone(), || {
        ringio::run(async {
            let listener = ringio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            // The connection waits in the backlog; then every free descriptor is taken, so
            // the accept fails with EMFILE.
            let _client = std::net::TcpStream::connect(addr).unwrap();
            let limit = NofileSoftLimit::lower_to(support::fd_count() as u64 + 16);
            let mut hogs = Vec::new();
            while let Ok(f) = std::fs::File::open("/dev/null") {
                hogs.push(f);
            }
            let err = listener.accept().await.unwrap_err();
            drop(hogs);
            drop(limit);
            assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
            // After the pause, the connection is taken.
            listener.accept().await.unwrap();
        });
    });
    let net = events(&rec.seen(), "ringio::net");
    let paused: Vec<_> = net
        .iter()
        .filter(|e| message(e).starts_with("accept: out of descriptors"))
        .collect();
    assert_eq!(paused.len(), 1, "{net:#?}");
    assert_eq!(paused[0].level, Level::WARN);
    assert_eq!(paused[0].field("pause_ms"), Some("10"));
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_refused_buffer_pool_is_reported_once_per_core() {
    use ringio::fault::{self, Missing};
    let _serial = support::serial();
    let rec = Recorder::default();
    tracing::subscriber::with_default(rec.clone(), || {
        fault::reset();
        fault::pretend_missing(Missing::BufferRing);
        ringio::run(async {
            let (a, b) = support::tcp_pair().await;
            for _ in 0..3 {
                a.write_all(b"ping").await.0.unwrap();
                let buf = b.recv_pooled().await.unwrap();
                assert_eq!(&buf[..], b"ping");
            }
            drop((a, b));
        });
        fault::reset();
    });
    let net = events(&rec.seen(), "ringio::net");
    let refused: Vec<_> = net
        .iter()
        .filter(|e| message(e).starts_with("buffer pool refused"))
        .collect();
    assert_eq!(refused.len(), 1, "{net:#?}");
    assert!(refused[0].field("error").unwrap().contains("5.19"));
}
