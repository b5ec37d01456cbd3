//! Nothing here: the test is `tests/kafka_module.rs`.
