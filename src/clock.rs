//! Wall-clock time in milliseconds since the epoch, as Kafka timestamps are.
//! The one place the broker reads the clock; sans-I/O code takes the time
//! as an argument instead.

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
