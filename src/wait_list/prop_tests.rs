//! Property test: `WaitList` against a `VecDeque` model under any sequence of pushes,
//! grants, polls and removals of any waiter.

use std::collections::{HashMap, VecDeque};
use std::task::{Context, Waker};

use proptest::prelude::*;

use super::{WaitList, WaiterKey, WaiterState};
use crate::test_util::proptest_config;

#[derive(Clone, Debug)]
enum Op {
    Push,
    GrantFront,
    /// Polls the owner of the n-th live key (modulo their number).
    Poll(usize),
    /// Drops the owner of the n-th live key (modulo their number).
    Remove(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Push),
        2 => Just(Op::GrantFront),
        1 => any::<usize>().prop_map(Op::Poll),
        2 => any::<usize>().prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(proptest_config(1024))]

    /// Grants go to waiters in push order, a removed waiter is never served, a grant is
    /// taken exactly once, and the counts agree with the model after every step.
    #[test]
    fn wait_list_matches_fifo_model(ops in prop::collection::vec(op(), 0..200)) {
        let mut list: WaitList<u32, u32> = WaitList::new();
        // Waiting owners, oldest first: (key, what it brought).
        let mut queue: VecDeque<(WaiterKey, u32)> = VecDeque::new();
        // Served owners and their grant.
        let mut granted: HashMap<usize, (WaiterKey, u32)> = HashMap::new();
        let mut live: Vec<WaiterKey> = Vec::new();
        let mut next = 0u32;
        let cx = Context::from_waker(Waker::noop());
        for op in ops {
            match op {
                Op::Push => {
                    let key = list.push_back(Waker::noop(), next);
                    queue.push_back((key, next));
                    live.push(key);
                    next += 1;
                }
                Op::GrantFront => {
                    let grant = next + 1_000_000;
                    next += 1;
                    match (list.grant_front(grant), queue.pop_front()) {
                        (Ok((data, _)), Some((key, want))) => {
                            prop_assert_eq!(data, want);
                            granted.insert(key.0, (key, grant));
                        }
                        (Err(back), None) => prop_assert_eq!(back, grant),
                        (got, want) => {
                            let got = got.map(|(d, _)| d);
                            prop_assert!(false, "grant {:?} vs model {:?}", got, want)
                        }
                    }
                }
                Op::Poll(n) if !live.is_empty() => {
                    let key = live[n % live.len()];
                    let got = list.poll_grant(key, &cx);
                    match granted.remove(&key.0) {
                        Some((_, grant)) => {
                            prop_assert_eq!(got, Some(grant));
                            live.retain(|k| *k != key);
                        }
                        None => prop_assert_eq!(got, None),
                    }
                }
                Op::Remove(n) if !live.is_empty() => {
                    let key = live.swap_remove(n % live.len());
                    match (list.remove(key), granted.remove(&key.0)) {
                        (WaiterState::Granted(g), Some((_, want))) => prop_assert_eq!(g, want),
                        (WaiterState::Waiting { data, .. }, None) => {
                            let Some(at) = queue.iter().position(|(k, _)| *k == key) else {
                                let msg = format!("removed waiter {data} was not queued");
                                return Err(TestCaseError::fail(msg));
                            };
                            let (_, want) = queue.remove(at).expect("position found above");
                            prop_assert_eq!(data, want);
                        }
                        (_, want) => {
                            prop_assert!(false, "{:?}: state disagrees with {:?}", key, want)
                        }
                    }
                }
                Op::Poll(_) | Op::Remove(_) => {}
            }
            prop_assert_eq!(list.len(), queue.len());
            prop_assert_eq!(list.is_empty(), queue.is_empty());
            prop_assert_eq!(list.entries(), queue.len() + granted.len());
            prop_assert_eq!(list.front(), queue.front().map(|(_, d)| d));
        }
    }
}
