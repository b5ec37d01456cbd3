//! Producer ids for InitProducerId, handed out from blocks allocated
//! through the metadata log (KIP-730), so ids are never reused across
//! restarts.

use std::sync::Mutex;

/// Kafka's ProducerIdControlManager hands out blocks of 1000.
pub const BLOCK_SIZE: i64 = 1000;

#[derive(Debug, Default)]
pub struct ProducerIdManager {
    /// [next, end) of the block this broker owns; empty until allocated.
    block: Mutex<(i64, i64)>,
}

impl ProducerIdManager {
    /// Takes the next id; `allocate` commits a new block and returns its
    /// first id when the current one is used up.
    pub fn next_id<E>(&self, allocate: impl FnOnce() -> Result<i64, E>) -> Result<i64, E> {
        let mut block = self.block.lock().expect("producer id lock is never poisoned");
        if block.0 >= block.1 {
            let start = allocate()?;
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

    #[test]
    fn ids_come_from_blocks() {
        let m = ProducerIdManager::default();
        let allocations = std::cell::Cell::new(0);
        let alloc = |start: i64| {
            allocations.set(allocations.get() + 1);
            Ok::<_, ()>(start)
        };
        assert_eq!(m.next_id(|| alloc(0)).unwrap(), 0);
        for i in 1..BLOCK_SIZE {
            assert_eq!(m.next_id(|| alloc(99)).unwrap(), i);
        }
        assert_eq!(m.next_id(|| alloc(5000)).unwrap(), 5000);
        assert_eq!(allocations.get(), 2);
    }
}
