//! Doors for the fuzz targets (`fuzz/`) and their corpus replay
//! (`tests/fuzz_corpus.rs`) into the node's private request decoders,
//! each as the route uses it; an `Err` is the HTTP status the node
//! would answer. Not an API.

use std::collections::HashMap;

use crate::api::json::Object;
use crate::node::routes::{self, SubmitBody};

/// A request body read as the node reads every JSON body.
pub fn body_object(bytes: &[u8]) -> Result<Object, u16> {
    routes::body_object(bytes).map_err(|f| f.status())
}

/// A `POST /v1/transactions` body: its author and data.
pub fn submit_body(bytes: &[u8]) -> Result<(String, Vec<u8>), u16> {
    let o = body_object(bytes)?;
    let b = SubmitBody::read(o).map_err(|f| f.status())?;
    Ok((b.author, b.data))
}

/// A query string read for an endpoint that takes `allowed`.
pub fn query(raw: &str, allowed: &[&str]) -> Result<HashMap<String, String>, u16> {
    routes::query(Some(raw.to_owned()), allowed).map_err(|f| f.status())
}
