//! Concurrency limits of outbound delivery: connections in total and per
//! destination host (so one slow or big destination cannot take every
//! connection, and no host gets more than it should from us).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Limits {
    total: Arc<Semaphore>,
    per_host: Mutex<HashMap<String, Arc<Semaphore>>>,
    max_per_host: usize,
}

/// Held while a connection is open.
pub struct Permits {
    _total: OwnedSemaphorePermit,
    _host: OwnedSemaphorePermit,
}

impl Limits {
    pub fn new(total: usize, per_host: usize) -> Limits {
        Limits {
            total: Arc::new(Semaphore::new(total.max(1))),
            per_host: Mutex::new(HashMap::new()),
            max_per_host: per_host.max(1),
        }
    }

    /// Waits for a connection slot to `host` (host first, then the total,
    /// so waiting for a busy host does not hold a total slot).
    pub async fn acquire(&self, host: &str) -> Option<Permits> {
        let sem = {
            let mut map = self.per_host.lock().unwrap_or_else(|e| e.into_inner());
            // Forget idle hosts so the map does not grow without bound.
            map.retain(|_, s| s.available_permits() < self.max_per_host);
            map.entry(host.to_ascii_lowercase())
                .or_insert_with(|| Arc::new(Semaphore::new(self.max_per_host)))
                .clone()
        };
        let host = sem.acquire_owned().await.ok()?;
        let total = self.total.clone().acquire_owned().await.ok()?;
        Some(Permits {
            _total: total,
            _host: host,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn per_host_and_total() {
        let l = Arc::new(Limits::new(3, 2));
        let a1 = l.acquire("a").await.unwrap();
        let _a2 = l.acquire("A").await.unwrap();
        // A third to the same host waits.
        let l2 = l.clone();
        let waiting = tokio::spawn(async move { l2.acquire("a").await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        // Another host gets the last total slot.
        let b = l.acquire("b").await.unwrap();
        // A total slot frees up, but host "a" is still full.
        drop(b);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(a1);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn total_limit_spans_hosts() {
        let l = Arc::new(Limits::new(1, 5));
        let a = l.acquire("a").await.unwrap();
        let l2 = l.clone();
        let waiting = tokio::spawn(async move { l2.acquire("b").await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(a);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}
