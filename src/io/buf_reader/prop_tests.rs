//! Property test: `read_line`, `read_until` and `read_exact` against a reference split of
//! the same bytes, over a reader that returns random-sized pieces and a future dropped
//! after a random number of polls: no byte lost, duplicated or reordered.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use proptest::prelude::*;

use super::BufReader;
use crate::buf::{BufResult, IoBufMut, copy_into};
use crate::io::AsyncRead;
use crate::test_util::{poll_once, proptest_config};

/// A limit far above any line the generator makes: only the reading is under test.
const NO_LIMIT: usize = 1 << 20;

/// Returns `Pending` once (waking itself), then `Ready`: a point where a read may be dropped.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Hands out `data` in pieces of the sizes in `pieces` (cycled). A read takes its bytes
/// only in the poll that returns them, so a read dropped while pending loses nothing.
struct Chunked {
    data: Vec<u8>,
    pos: Cell<usize>,
    pieces: Vec<usize>,
    next_piece: Cell<usize>,
}

impl AsyncRead for Chunked {
    async fn read<B: IoBufMut>(&self, mut buf: B) -> BufResult<usize, B> {
        YieldOnce(false).await;
        let i = self.next_piece.get();
        self.next_piece.set(i + 1);
        let piece = self.pieces[i % self.pieces.len()];
        let pos = self.pos.get();
        let end = (pos + piece).min(self.data.len());
        let n = copy_into(&mut buf, &self.data[pos..end], &[]);
        self.pos.set(pos + n);
        (Ok(n), buf)
    }
}

#[derive(Clone, Debug)]
enum Read {
    Line,
    Until,
    Exact(usize),
}

fn read() -> impl Strategy<Value = Read> {
    prop_oneof![
        Just(Read::Line),
        Just(Read::Until),
        (0usize..300).prop_map(Read::Exact)
    ]
}

/// Polls `fut` until ready, or drops it after `polls` polls (then `None`).
fn run<F: Future>(fut: F, polls: Option<usize>) -> Option<F::Output> {
    let mut fut = pin!(fut);
    for n in 0.. {
        if polls.is_some_and(|k| n >= k) {
            return None;
        }
        if let Poll::Ready(out) = poll_once(fut.as_mut()) {
            return Some(out);
        }
        assert!(n < 1_000_000, "a read made no progress");
    }
    unreachable!("the loop returns")
}

/// Where a reference split of `rest` ends for `read`, or `None` where the reader would
/// fail (no delimiter before the end, fewer bytes than asked): those are left out.
fn reference_len(read: &Read, rest: &[u8]) -> Option<usize> {
    match *read {
        Read::Line => Some(
            rest.iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1),
        ),
        Read::Until => rest.iter().position(|&b| b == b';').map(|i| i + 1),
        Read::Exact(n) => (n <= rest.len()).then_some(n),
    }
}

proptest! {
    #![proptest_config(proptest_config(1024))]

    #[test]
    fn buf_reader_keeps_every_byte_in_order(
        data in prop::collection::vec(prop::sample::select(b"ab;\n".to_vec()), 0..3000),
        pieces in prop::collection::vec(1usize..100, 1..8),
        capacity in 1usize..80,
        reads in prop::collection::vec((read(), prop::option::weighted(0.3, 0usize..6)), 0..60),
    ) {
        let reader = Chunked {
            data: data.clone(),
            pos: Cell::new(0),
            pieces,
            next_piece: Cell::new(0),
        };
        let mut r = BufReader::with_capacity(capacity, reader).with_limit(NO_LIMIT);
        let mut pos = 0;
        for (read, polls) in reads {
            let Some(len) = reference_len(&read, &data[pos..]) else { continue };
            let want = &data[pos..pos + len];
            let got: Option<Vec<u8>> = match read {
                Read::Line => {
                    let mut line = String::new();
                    let done = run(r.read_line(&mut line), polls);
                    if done.is_none() {
                        prop_assert!(line.is_empty(), "a dropped read_line wrote {:?}", line);
                    }
                    done.map(|res| {
                        assert_eq!(res.expect("read_line succeeds"), len);
                        line.into_bytes()
                    })
                }
                Read::Until => {
                    let mut out = Vec::new();
                    let done = run(r.read_until(b';', &mut out), polls);
                    if done.is_none() {
                        prop_assert!(out.is_empty(), "a dropped read_until wrote {:?}", out);
                    }
                    done.map(|res| {
                        assert_eq!(res.expect("read_until succeeds"), len);
                        out
                    })
                }
                Read::Exact(n) => {
                    run(r.read_exact(n), polls).map(|res| res.expect("read_exact succeeds"))
                }
            };
            if let Some(got) = got {
                prop_assert_eq!(&got[..], want);
                pos += len;
            }
        }
        let mut rest = Vec::new();
        let n = run(r.read_to_end(&mut rest), None)
            .expect("not dropped")
            .expect("read_to_end succeeds");
        prop_assert_eq!(n, data.len() - pos);
        prop_assert_eq!(&rest[..], &data[pos..]);
    }
}
