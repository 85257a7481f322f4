//! sledger: a persistent proof-of-work ledger on the embedded database sled.
//!
//! See `ARCHITECTURE.md` for the map of the code. In short:
//! [`consensus`] owns the bytes and the rules, [`mining`] the nonce search,
//! [`store`] the sled trees and every state change, [`export`] the JSON-lines
//! format, [`bounds`] the bounds on every argument, [`fsx`] the files it
//! creates, [`signal`] what a stop signal means, and [`cli`] the command
//! line.

pub mod api;
pub mod bench;
pub mod bounds;
pub mod cli;
pub mod consensus;
pub mod export;
pub mod fsx;
#[doc(hidden)]
pub mod fuzzing;
pub mod keys;
pub mod logging;
pub mod mining;
pub mod net;
pub mod node;
pub mod signal;
pub mod store;
#[doc(hidden)]
pub mod testkit;
pub mod time;
