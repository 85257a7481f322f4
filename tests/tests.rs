//! The integration tests, one crate (one binary linking the library once)
//! with a module per area. `kit` holds what the modules share. Run one area
//! with `cargo test --test tests node::`, one test by its name.

mod json_schemas;
mod kit;

mod backup;
mod bench;
mod cli;
mod config;
mod crash;
mod durability;
mod errors;
mod explorer;
mod files;
mod forks;
mod format;
mod fuzz_corpus;
mod hostile;
mod ids;
mod lock;
mod manual;
mod migrate;
mod mining;
mod network;
mod node;
mod node_load;
mod openapi;
mod pacing;
mod properties;
mod remote;
mod salvage;
mod signatures;
mod store;
mod text;
mod watch;
