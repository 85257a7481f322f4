//! One module per group of commands.

pub mod bench;
pub mod demo;
pub mod init;
pub mod key;
pub mod manual;
pub mod migrate;
pub mod mine;
pub mod node;
pub mod peers;
pub mod query;
pub mod salvage;
pub mod submit;
pub mod transfer;
pub mod verify;
pub mod watch;
