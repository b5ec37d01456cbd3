//! Producer ids for InitProducerId, handed out from blocks allocated
//! through the metadata log (KIP-730), so ids are never reused across
//! restarts.

use std::future::Future;

use tokio::sync::Mutex;

/// Kafka's ProducerIdControlManager hands out blocks of 1000.
pub const BLOCK_SIZE: i64 = 1000;

#[derive(Debug, Default)]
pub struct ProducerIdManager {
    /// [next, end) of the block this broker owns; empty until allocated.
    block: Mutex<(i64, i64)>,
}

impl ProducerIdManager {
    /// Takes the next id; `allocate` commits a new block and returns its
    /// first id when the current one is used up (callers wait for it
    /// rather than allocate a second block).
    pub async fn next_id<E, F: Future<Output = Result<i64, E>>>(&self, allocate: impl FnOnce() -> F) -> Result<i64, E> {
        let mut block = self.block.lock().await;
        if block.0 >= block.1 {
            let start = allocate().await?;
            *block = (start, start + BLOCK_SIZE);
        }
        let id = block.0;
        block.0 += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ids_come_from_blocks() {
        let m = ProducerIdManager::default();
        let allocations = std::cell::Cell::new(0);
        let alloc = |start: i64| {
            allocations.set(allocations.get() + 1);
            std::future::ready(Ok::<_, ()>(start))
        };
        assert_eq!(m.next_id(|| alloc(0)).await.unwrap(), 0);
        for i in 1..BLOCK_SIZE {
            assert_eq!(m.next_id(|| alloc(99)).await.unwrap(), i);
        }
        assert_eq!(m.next_id(|| alloc(5000)).await.unwrap(), 5000);
        assert_eq!(allocations.get(), 2);
    }
}
