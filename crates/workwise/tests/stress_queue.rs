//! Bounded stress: ten million items through 4 producers and 4 consumers, with
//! a checksum that catches a lost or duplicated item. `WORKWISE_STRESS=long`
//! repeats it.

use std::thread;

use workwise::Queue;

#[test]
fn ten_million_items_four_producers_four_consumers() {
    const PER_PRODUCER: u64 = 2_500_000;
    let rounds = if std::env::var("WORKWISE_STRESS").as_deref() == Ok("long") {
        5
    } else {
        1
    };
    for _ in 0..rounds {
        let q = Queue::bounded(1024).unwrap();
        let (count, sum, squares) = thread::scope(|s| {
            let consumers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let (mut count, mut sum, mut squares) = (0u64, 0u64, 0u64);
                        while let Ok(item) = q.get() {
                            let v = *item;
                            count += 1;
                            sum = sum.wrapping_add(v);
                            squares = squares.wrapping_add(v.wrapping_mul(v));
                        }
                        (count, sum, squares)
                    })
                })
                .collect();
            let producers: Vec<_> = (0..4u64)
                .map(|p| {
                    let q = &q;
                    s.spawn(move || {
                        for i in 0..PER_PRODUCER {
                            q.put(p * PER_PRODUCER + i).unwrap();
                        }
                    })
                })
                .collect();
            for p in producers {
                p.join().unwrap();
            }
            q.join();
            q.close();
            consumers
                .into_iter()
                .map(|c| c.join().unwrap())
                .fold((0, 0u64, 0u64), |a, b| {
                    (a.0 + b.0, a.1.wrapping_add(b.1), a.2.wrapping_add(b.2))
                })
        });
        let n = 4 * PER_PRODUCER;
        let want_sum = (0..n).fold(0u64, |a, v| a.wrapping_add(v));
        let want_squares = (0..n).fold(0u64, |a, v| a.wrapping_add(v.wrapping_mul(v)));
        assert_eq!(count, n);
        // Sum and sum of squares together catch a duplicate that replaced a loss.
        assert_eq!((sum, squares), (want_sum, want_squares));
        assert_eq!(q.unfinished(), 0);
    }
}
