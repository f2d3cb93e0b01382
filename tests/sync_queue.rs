//! Queues on a real runtime: backpressure, `join`, shutdown, and cancelled
//! getters that never lose an item.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use ringio::sync::queue::{LifoQueue, PriorityQueue, Queue, QueueShutDown};

const ITEMS: usize = 10_000;

#[test]
fn sync_queue_bounded_producers_and_consumers_with_join() {
    ringio::run(async {
        let q = Rc::new(Queue::new(16));
        let sum = Rc::new(Cell::new(0));
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let (q, sum) = (q.clone(), sum.clone());
                ringio::spawn(async move {
                    while let Ok(n) = q.get().await {
                        sum.set(sum.get() + n);
                        assert!(q.len() <= q.maxsize());
                        q.task_done().expect("one task_done per item");
                    }
                })
            })
            .collect();
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let q = q.clone();
                ringio::spawn(async move {
                    for n in (p..ITEMS).step_by(4) {
                        q.put(n).await.expect("open");
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.await.expect("task finished");
        }
        q.join().await;
        assert_eq!(sum.get(), (0..ITEMS).sum::<usize>());
        q.shutdown(false);
        for consumer in consumers {
            consumer.await.expect("consumers end at shutdown");
        }
    });
}

#[test]
fn sync_queue_fifo_order_through_a_small_bound() {
    ringio::run(async {
        let q = Rc::new(Queue::new(2));
        let producer = ringio::spawn({
            let q = q.clone();
            async move {
                for n in 0..ITEMS {
                    q.put(n).await.expect("open");
                }
            }
        });
        for n in 0..ITEMS {
            assert_eq!(q.get().await, Ok(n));
        }
        producer.await.expect("task finished");
    });
}

#[test]
fn sync_queue_cancelled_getters_do_not_lose_items() {
    ringio::run(async {
        let q = Rc::new(Queue::new(0));
        let got = Rc::new(RefCell::new(Vec::new()));
        let getters: Vec<_> = (0..ITEMS)
            .map(|_| {
                let (q, got) = (q.clone(), got.clone());
                ringio::spawn(async move {
                    let item = q.get().await.expect("open");
                    got.borrow_mut().push(item);
                })
            })
            .collect();
        ringio::yield_now().await; // all wait on the empty queue
        for n in 0..ITEMS {
            q.try_put(n).expect("unbounded"); // handed to getter n, which has not run
        }
        for getter in getters.iter().step_by(2) {
            assert!(getter.cancel());
        }
        for (i, getter) in getters.into_iter().enumerate() {
            assert_eq!(getter.await.is_err(), i % 2 == 0, "getter {i}");
        }
        // Each cancelled getter's item went back to the queue (each to its
        // front, so the last one given back comes out first).
        let mut all = got.borrow().clone();
        assert!(
            all.iter().all(|n| n % 2 == 1),
            "survivors kept their own items"
        );
        let left: Vec<usize> = std::iter::from_fn(|| q.try_get().ok()).collect();
        assert!(left.iter().copied().eq((0..ITEMS).step_by(2).rev()));
        all.extend(left);
        all.sort_unstable();
        assert!(all.into_iter().eq(0..ITEMS), "every item exactly once");
    });
}

#[test]
fn sync_queue_shutdown_wakes_blocked_tasks() {
    ringio::run(async {
        let q = Rc::new(Queue::new(1));
        q.put(0).await.expect("open");
        let putter = ringio::spawn({
            let q = q.clone();
            async move { q.put(1).await }
        });
        ringio::yield_now().await;
        q.shutdown(true);
        assert_eq!(putter.await.expect("task finished"), Err(QueueShutDown));
        assert_eq!(q.get().await, Err(QueueShutDown));
        q.join().await; // the discarded item counts as done
    });
}

#[test]
fn sync_priority_and_lifo_queues_order_items() {
    ringio::run(async {
        let pq = PriorityQueue::new(0);
        let lq = LifoQueue::new(0);
        for n in [3, 1, 2] {
            pq.put(n).await.expect("open");
            lq.put(n).await.expect("open");
        }
        for n in [1, 2, 3] {
            assert_eq!(pq.get().await, Ok(n));
        }
        for n in [2, 1, 3] {
            assert_eq!(lq.get().await, Ok(n));
        }
    });
}
