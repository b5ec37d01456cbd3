//! Coordinators: state machines that sit beside the log (producer ids,
//! consumer groups, transactions).

pub mod group;
pub mod internal_topic;
pub mod producer_ids;
pub mod transaction;

/// Java's `String.hashCode`, which Kafka uses to place a group or a
/// transactional id on a partition of its internal topic.
pub(crate) fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_placed_like_kafka() {
        // Java: "".hashCode() == 0, "a" == 97, "ab" == 97*31+98.
        assert_eq!(super::java_hash(""), 0);
        assert_eq!(super::java_hash("a"), 97);
        assert_eq!(super::java_hash("ab"), 97 * 31 + 98);
    }
}
