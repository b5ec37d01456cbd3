//! The feature catalogue (KIP-584, KIP-778, KIP-1022): every feature fjord
//! advertises in ApiVersions, the range of levels it supports and the level
//! the controller finalizes on activation. One table, read by both, so what
//! fjord finalizes is always within what it says it supports.
//!
//! The rule is honesty: a feature is advertised up to the level whose
//! behaviour fjord implements, never further, because Kafka's clients,
//! tools and controllers act on these numbers.
//!
//! The names are those of Kafka 4.1's released features, the ones a Kafka
//! 4.1 broker lists (`BrokerFeatures` lists a feature only once its latest
//! production level is above 0, so `streams.version`, still 0..0 in 4.1, is
//! absent there and here). fjord lists the same names, with its own levels:
//!
//! - `metadata.version` 27..27 (4.1-IV1, `MetadataVersion.LATEST_PRODUCTION`
//!   of Kafka 4.1). fjord's metadata records and the APIs it serves are one
//!   behaviour, 4.1's; it has no older record versions or inter-broker
//!   protocol to fall back to, so it supports exactly one level (Kafka 4.1
//!   supports 3.3-IV3 (7) to 4.1-IV1). Clients do not read it; `kafka-features`
//!   prints it as `4.1-IV1`.
//! - `kraft.version` 0: the voter set is static (`controller.quorum.voters`),
//!   no KIP-853 AddRaftVoter/RemoveRaftVoter. Clients do not read it; the
//!   quorum tool's add-controller/remove-controller need level 1 on Kafka.
//! - `transaction.version` 0..2, finalized 2 (Kafka 4.x's default for a new
//!   cluster): transactions version 2 (KIP-890 part 2). The Java producer
//!   reads the finalized level (TransactionManager: level >= 2 sends no
//!   AddPartitionsToTxn or AddOffsetsToTxn, relies on the implicit add of
//!   Produce v12 and TxnOffsetCommit v5, and takes the epoch bumped at every
//!   EndTxn v5); fjord's transaction coordinator serves both that and the
//!   older protocol.
//! - `group.version` 0: only the classic group protocol. Clients do not read
//!   it: a consumer with `group.protocol=consumer` (KIP-848) looks for the
//!   ConsumerGroupHeartbeat API in ApiVersions, which fjord does not list;
//!   Kafka uses the level to decide whether to serve that API.
//! - `eligible.leader.replicas.version` 0: no KIP-966 ELR in partition state.
//! - `share.version` 0: no share groups (KIP-932); clients find the share
//!   APIs missing from ApiVersions.
//!
//! A level-0 feature is not finalized (Kafka writes no FeatureLevel record
//! for 0 and leaves it out of ApiVersions' finalized features; the tools
//! show 0), and, as in Kafka (KAFKA-17492), features whose minimum is 0 are
//! left out of ApiVersions responses below v4, which older clients cannot
//! parse.

/// The `metadata.version` feature (KIP-778).
pub const METADATA_VERSION: &str = "metadata.version";
/// The `metadata.version` level fjord runs at: Kafka 4.1's 4.1-IV1, its
/// latest production level (`MetadataVersion.IBP_4_1_IV1`).
pub const METADATA_VERSION_LEVEL: i16 = 27;

/// A feature as fjord supports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    /// The supported range, advertised in ApiVersions.
    pub min: i16,
    pub max: i16,
    /// The level the controller finalizes (0: no record, as in Kafka).
    pub finalized: i16,
}

/// Every feature fjord advertises, by name.
pub const FEATURES: &[Feature] = &[
    Feature {
        name: "eligible.leader.replicas.version",
        min: 0,
        max: 0,
        finalized: 0,
    },
    Feature {
        name: "group.version",
        min: 0,
        max: 0,
        finalized: 0,
    },
    Feature {
        name: "kraft.version",
        min: 0,
        max: 0,
        finalized: 0,
    },
    Feature {
        name: METADATA_VERSION,
        min: METADATA_VERSION_LEVEL,
        max: METADATA_VERSION_LEVEL,
        finalized: METADATA_VERSION_LEVEL,
    },
    Feature {
        name: "share.version",
        min: 0,
        max: 0,
        finalized: 0,
    },
    Feature {
        name: TRANSACTION_VERSION,
        min: 0,
        max: 2,
        finalized: 2,
    },
];

/// The `transaction.version` feature (KIP-1022).
pub const TRANSACTION_VERSION: &str = "transaction.version";

/// The levels the controller finalizes on activation: every feature whose
/// level is above 0.
pub fn finalized_levels() -> Vec<(String, i16)> {
    FEATURES
        .iter()
        .filter(|f| f.finalized != 0)
        .map(|f| (f.name.to_string(), f.finalized))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        let names: Vec<_> = FEATURES.iter().map(|f| f.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "sorted by name, no duplicates");
        for f in FEATURES {
            assert!(0 <= f.min && f.min <= f.max, "{f:?}");
            assert!(f.min <= f.finalized && f.finalized <= f.max, "{f:?}");
        }
        assert_eq!(
            finalized_levels(),
            vec![
                (METADATA_VERSION.to_string(), METADATA_VERSION_LEVEL),
                (TRANSACTION_VERSION.to_string(), 2)
            ]
        );
    }
}
