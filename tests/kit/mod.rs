//! The test kit every module of the integration tests builds from: ledgers
//! driven through the real binary ([`Ledger`]), a node on a loopback port
//! ([`Node`]), and the library's own builders of chain parameters, blocks,
//! entries and stores (`sledger::testkit`, re-exported), so that none of
//! them is copied into a test module; a JSON Schema validator for
//! docs/openapi.json ([`Validator`]) and byte-exact HTTP exchanges
//! ([`wire`]).

pub mod browser;
mod ledger;
mod node;
mod schema;
pub mod wire;

pub use ledger::{bin, check_failure, open_sled, Ledger};
pub use node::Node;

/// Whether some process holds `l`'s store (its sled lock on `store/db`).
pub fn store_is_locked(l: &Ledger) -> bool {
    let Ok(f) = std::fs::File::open(l.store_dir().join("db")) else {
        return false;
    };
    match f.try_lock() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(_) => false,
    }
}

/// Waits (up to 10 s) until some process holds `l`'s store.
pub fn wait_until_locked(l: &Ledger) {
    eventually(
        "a process holds the store",
        std::time::Duration::from_secs(10),
        || store_is_locked(l),
    );
}

/// Polls `done` every 50 ms until it holds, or panics after `limit`.
pub fn eventually(what: &str, limit: std::time::Duration, mut done: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + limit;
    while !done() {
        assert!(
            std::time::Instant::now() < end,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
pub use schema::Validator;
pub use sledger::testkit::{child, named_params, params, seal, store, tx, unsealed_child};
