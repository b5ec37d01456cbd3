//! What a request reads and changes, for ordering the requests of one
//! connection (server/ordering.rs). Kafka applies a connection's requests one
//! after another; fjord lets a request start before the ones ahead of it
//! have finished only where no client can tell the difference: neither of
//! the two changes anything the other reads or changes.
//!
//! Each API declares its access in the `apis!` table; an API that declares
//! none is ordered after everything before it, and everything after it waits
//! for it.

/// Parts of the broker's state, as a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State(u8);

/// Nothing: ApiVersions, DescribeCluster.
pub const NOTHING: State = State(0);
/// The records of partition logs: offsets, high watermarks, log start,
/// producer state.
pub const LOG: State = State(1);
/// Which topics and partitions exist, and their configs.
pub const TOPICS: State = State(1 << 1);
/// Consumer groups: members, generations, committed offsets.
pub const GROUPS: State = State(1 << 2);
/// Incremental fetch sessions (KIP-227): each Fetch of a session moves its
/// epoch on.
pub const FETCH_SESSIONS: State = State(1 << 3);
/// Everything, including what has no set of its own yet (producer ids,
/// transactions, ACLs, quotas).
pub const EVERYTHING: State = State(u8::MAX);

impl State {
    pub const fn and(self, other: State) -> State {
        State(self.0 | other.0)
    }

    const fn meets(self, other: State) -> bool {
        self.0 & other.0 != 0
    }
}

/// What one request reads and what it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    reads: State,
    writes: State,
}

impl Access {
    /// The default for every API that declares nothing.
    pub const ORDERED: Access = Access {
        reads: EVERYTHING,
        writes: EVERYTHING,
    };

    /// Reads `state`, changes nothing.
    pub const fn reads(state: State) -> Access {
        Access {
            reads: state,
            writes: NOTHING,
        }
    }

    /// Also changes `state` (what a request changes, it may also read).
    pub const fn writes(self, state: State) -> Access {
        Access {
            reads: self.reads.and(state),
            writes: self.writes.and(state),
        }
    }

    /// Whether a request with this access may only start once an `earlier`
    /// request of the same connection has taken effect: one of the two
    /// changes something that the other reads or changes.
    pub fn must_follow(&self, earlier: &Access) -> bool {
        earlier.writes.meets(self.reads) || self.writes.meets(earlier.reads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FETCH: Access = Access::reads(TOPICS.and(LOG));
    const PRODUCE: Access = Access::reads(TOPICS).writes(LOG);
    const COMMIT: Access = Access::reads(TOPICS).writes(GROUPS);
    const OFFSET_FETCH: Access = Access::reads(TOPICS.and(GROUPS));
    const API_VERSIONS: Access = Access::reads(NOTHING);

    #[test]
    fn writers_of_the_same_state_keep_their_order() {
        assert!(PRODUCE.must_follow(&PRODUCE));
        assert!(COMMIT.must_follow(&COMMIT));
    }

    #[test]
    fn a_reader_follows_the_writers_before_it_and_precedes_those_after_it() {
        assert!(FETCH.must_follow(&PRODUCE), "a fetch sees the produce sent before it");
        assert!(
            PRODUCE.must_follow(&FETCH),
            "a fetch never sees a produce sent after it"
        );
        assert!(OFFSET_FETCH.must_follow(&COMMIT));
        assert!(COMMIT.must_follow(&OFFSET_FETCH));
    }

    #[test]
    fn requests_on_disjoint_state_overlap() {
        assert!(
            !COMMIT.must_follow(&FETCH),
            "a long-poll fetch does not hold up a commit"
        );
        assert!(!FETCH.must_follow(&COMMIT));
        assert!(!FETCH.must_follow(&FETCH), "readers overlap");
        assert!(!API_VERSIONS.must_follow(&Access::ORDERED));
        assert!(!Access::ORDERED.must_follow(&API_VERSIONS));
    }

    #[test]
    fn an_undeclared_api_is_ordered_against_everything_that_touches_state() {
        for other in [FETCH, PRODUCE, COMMIT, OFFSET_FETCH, Access::ORDERED] {
            assert!(Access::ORDERED.must_follow(&other), "{other:?} then ORDERED");
            assert!(other.must_follow(&Access::ORDERED), "ORDERED then {other:?}");
        }
    }
}
