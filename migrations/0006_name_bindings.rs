//! Schema 5 -> 6: signed entries (issue 15). Two new trees, `names`
//! (author -> the key the active chain binds it to, and the entry that
//! bound it) and `key_names` (public key ++ author -> nothing), and the
//! chain parameters' record in `meta` gains a trailing signature policy
//! byte. No entry could be signed before schema 6, so no name is bound and
//! the trees start empty: opening creates them. The step appends the
//! policy byte `0` ("optional", the only policy before schema 6) to a
//! record that lacks it, in one batch; a rerun after a kill finds the byte
//! there and writes the same record.
//!
//! Frozen: this file owns the names and the record length it relies on.

use crate::store::{Store, StoreError};

use super::{commit_batch, Event};

pub const WHAT: &str = "bind author names to signing keys";

const TO: u32 = 6;
const TREE_NAMES: &str = "names";
const TREE_KEY_NAMES: &str = "key_names";
const KEY_PARAMS: &[u8] = b"params";
/// The schema-5 params record after its name: difficulty u32, interval
/// u64, window u32, fixed flag, salt (16).
const V5_AFTER_NAME: usize = 4 + 8 + 4 + 1 + 16;

/// The schema-6 record for a schema-5 one: the same bytes and `0`
/// (`None` when `v5` already has the byte).
pub fn upgraded(v5: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    let bad = || StoreError::Corrupt("the stored chain parameters have a bad length".into());
    let name_len: [u8; 8] = v5.get(..8).ok_or_else(bad)?.try_into().expect("8 bytes");
    let name_len = usize::try_from(u64::from_le_bytes(name_len)).map_err(|_| bad())?;
    let v5_len = 8usize
        .checked_add(name_len)
        .and_then(|n| n.checked_add(V5_AFTER_NAME))
        .ok_or_else(bad)?;
    match v5.len() {
        n if n == v5_len => {
            let mut v6 = v5.to_vec();
            v6.push(0);
            Ok(Some(v6))
        }
        n if n == v5_len + 1 => Ok(None),
        _ => Err(bad()),
    }
}

pub fn run(store: &Store, notify: &dyn Fn(Event)) -> Result<(), StoreError> {
    let names = store.h().db.open_tree(TREE_NAMES)?;
    let key_names = store.h().db.open_tree(TREE_KEY_NAMES)?;
    let params = store
        .h()
        .meta
        .0
        .get(KEY_PARAMS)?
        .ok_or_else(|| StoreError::Corrupt("the chain parameters are missing".into()))?;
    let record = upgraded(&params)?;
    commit_batch(
        store,
        TO,
        &[&names, &key_names],
        (1, 1),
        notify,
        |_, meta| {
            if let Some(v6) = &record {
                meta.insert(KEY_PARAMS, v6.as_slice())?;
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_byte_is_appended_once() {
        let mut v5 = 3u64.to_le_bytes().to_vec();
        v5.extend_from_slice(b"abc");
        v5.extend_from_slice(&[7; V5_AFTER_NAME]);
        let v6 = upgraded(&v5).unwrap().unwrap();
        assert_eq!(v6.len(), v5.len() + 1);
        assert_eq!(v6.last(), Some(&0));
        assert_eq!(upgraded(&v6).unwrap(), None);
        assert!(upgraded(&v5[..v5.len() - 1]).is_err());
        assert!(upgraded(&[0xff; 8]).is_err());
    }
}
