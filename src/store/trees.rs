//! The sled trees, listed once, each behind a small typed accessor: the one
//! place that knows a tree's key and value layout (through [`codec`]). The
//! same accessor serves a plain read (over a `sled::Tree`) and a write
//! inside a sled transaction (over a `TransactionalTree`), through [`Kv`],
//! where every write passes its [`failpoint`].
//! No other module names a key or a value's bytes.

use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::{IVec, Tree};

use super::codec::{self, CodecError, Record};
use super::failpoint::{self, Site};
use super::schema::*;
use super::StoreError;
use crate::consensus::hash::IdPrefix;
use crate::consensus::{Block, BlockHash, CheckedBlock, PublicKey, Transaction, Txid, Work};

/// A key-value tree as the accessors see it: a `sled::Tree` (errors are
/// [`StoreError`]s) or a tree inside a transaction (errors abort it).
pub(crate) trait Kv {
    type Error: From<StoreError>;
    fn get(&self, key: &[u8]) -> Result<Option<IVec>, Self::Error>;
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), Self::Error>;
    fn remove(&self, key: &[u8]) -> Result<Option<IVec>, Self::Error>;
}

impl Kv for Tree {
    type Error = StoreError;
    fn get(&self, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        Ok(Tree::get(self, key)?)
    }
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        failpoint::hit(Site::Insert)?;
        Tree::insert(self, key, value)?;
        Ok(())
    }
    fn remove(&self, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        failpoint::hit(Site::Remove)?;
        Ok(Tree::remove(self, key)?)
    }
}

impl Kv for &TransactionalTree {
    type Error = ConflictableTransactionError<StoreError>;
    fn get(&self, key: &[u8]) -> Result<Option<IVec>, Self::Error> {
        Ok(TransactionalTree::get(self, key)?)
    }
    fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), Self::Error> {
        failpoint::hit(Site::Insert)?;
        TransactionalTree::insert(self, key, value)?;
        Ok(())
    }
    fn remove(&self, key: &[u8]) -> Result<Option<IVec>, Self::Error> {
        failpoint::hit(Site::Remove)?;
        Ok(TransactionalTree::remove(self, key)?)
    }
}

fn decoded<T, E: From<StoreError>>(r: Result<T, CodecError>) -> Result<T, E> {
    r.map_err(|e| StoreError::from(e).into())
}

/// Declares every tree once: its field, its accessor and its name. The
/// macro gives [`Trees`], opening them all, the list a transaction spans,
/// and [`TREE_NAMES`].
macro_rules! trees {
    ($( $(#[$doc:meta])* $field:ident: $ty:ident = $name:expr, )*) => {
        $(
            $(#[$doc])*
            pub(crate) struct $ty<K>(pub(crate) K);
        )*

        /// Every tree of the current schema, each behind its accessor.
        pub(crate) struct Trees<K> {
            $( pub $field: $ty<K>, )*
        }

        /// The names of every tree of the current schema.
        #[cfg_attr(not(test), allow(dead_code))]
        pub const TREE_NAMES: &[&str] = &[$($name),*];

        impl Trees<Tree> {
            pub(crate) fn open(db: &sled::Db) -> sled::Result<Self> {
                Ok(Trees { $( $field: $ty(db.open_tree($name)?), )* })
            }

            /// Every tree, in the order [`Trees::view`] takes them.
            pub(crate) fn all(&self) -> Vec<&Tree> {
                vec![$( &self.$field.0 ),*]
            }
        }

        impl<'a> Trees<&'a TransactionalTree> {
            /// The trees of one transaction over [`Trees::all`].
            pub(crate) fn view(trees: &'a [TransactionalTree]) -> Self {
                let mut it = trees.iter();
                Trees { $( $field: $ty(it.next().expect("one view per tree")), )* }
            }
        }
    };
}

trees! {
    /// Block hash -> block record (cumulative work ++ consensus block).
    blocks: Blocks = TREE_BLOCKS,
    /// Height group -> the active chain's hashes at its heights.
    heights: Heights = TREE_HEIGHTS,
    /// Txid -> where it sits in the active chain.
    txs: Txs = TREE_TXS,
    /// Arrival sequence -> pending transaction.
    pending: Pending = TREE_PENDING,
    /// Txid -> arrival sequence of a pending transaction.
    pending_ids: PendingIds = TREE_PENDING_IDS,
    /// Named records ([`KEY_STATE`] and the other `KEY_*`).
    meta: Meta = TREE_META,
    /// Author and height group -> the author's entries there.
    author_groups: AuthorGroups = TREE_AUTHOR_GROUPS,
    /// Block hash of every block without children -> nothing.
    tips: Tips = TREE_TIPS,
    /// Arrival sequence -> block of unknown parent.
    orphans: Orphans = TREE_ORPHANS,
    /// Block hash -> arrival sequence of an orphan.
    orphan_ids: OrphanIds = TREE_ORPHAN_IDS,
    /// Parent hash ++ arrival sequence -> the orphan's hash.
    orphan_parents: OrphanParents = TREE_ORPHAN_PARENTS,
    /// Block hash -> why it can never be active.
    invalid: Invalid = TREE_INVALID,
    /// Peer id bytes -> what the node remembers of the peer.
    peers: Peers = TREE_PEERS,
    /// Author -> the key the active chain binds it to.
    names: Names = TREE_BOUND_NAMES,
    /// Public key ++ author -> nothing: the names a key binds.
    key_names: KeyNames = TREE_KEY_NAMES,
}

impl<K: Kv> Blocks<K> {
    /// The header record of `hash`, from the record's prefix.
    pub fn header(&self, hash: &BlockHash) -> Result<Option<HeaderRecord>, K::Error> {
        match self.0.get(hash.as_bytes())? {
            Some(v) => decoded(codec::decode_block_header(&v)).map(Some),
            None => Ok(None),
        }
    }

    /// The header record and the block.
    pub fn get(&self, hash: &BlockHash) -> Result<Option<(HeaderRecord, Block)>, K::Error> {
        match self.0.get(hash.as_bytes())? {
            Some(v) => decoded(codec::decode_block_record(&v)).map(Some),
            None => Ok(None),
        }
    }

    /// The transactions of a stored block.
    pub fn txs(&self, hash: &BlockHash) -> Result<Option<Vec<Transaction>>, K::Error> {
        match self.0.get(hash.as_bytes())? {
            Some(v) => decoded(codec::decode_block_txs(&v)).map(Some),
            None => Ok(None),
        }
    }

    /// Stores a block that passed the rules, with its cumulative work.
    pub fn put(&self, block: &CheckedBlock, chain_work: &Work) -> Result<(), K::Error> {
        let record = codec::encode_block_record(chain_work, block);
        self.0.insert(block.hash().as_bytes(), &record)
    }
}

impl<K: Kv> Heights<K> {
    /// The active chain's hash at `height`.
    pub fn hash_at(&self, height: u64) -> Result<Option<BlockHash>, K::Error> {
        match self.0.get(&codec::group_key(height))? {
            Some(v) => decoded(codec::group_hash(&v, height)),
            None => Ok(None),
        }
    }

    /// Places `hash` at `height`, just above the active chain's top.
    pub fn push(&self, height: u64, hash: &BlockHash) -> Result<(), K::Error> {
        let key = codec::group_key(height);
        let old = self.0.get(&key)?;
        let new = decoded(codec::group_with(
            old.as_deref().unwrap_or(&[]),
            height,
            hash,
        ))?;
        self.0.insert(&key, &new)
    }

    /// Removes the active chain's top, at `height`.
    pub fn pop(&self, height: u64) -> Result<(), K::Error> {
        let key = codec::group_key(height);
        let old = self.0.get(&key)?;
        match decoded(codec::group_without(old.as_deref().unwrap_or(&[]), height))? {
            Some(v) => self.0.insert(&key, &v),
            None => self.0.remove(&key).map(drop),
        }
    }
}

impl<K: Kv> Txs<K> {
    pub fn location(&self, txid: &Txid) -> Result<Option<TxLocation>, K::Error> {
        match self.0.get(txid.as_bytes())? {
            Some(v) => decoded(codec::decode(&v, "transaction location")).map(Some),
            None => Ok(None),
        }
    }

    pub fn contains(&self, txid: &Txid) -> Result<bool, K::Error> {
        Ok(self.0.get(txid.as_bytes())?.is_some())
    }

    pub fn put(&self, txid: &Txid, at: &TxLocation) -> Result<(), K::Error> {
        self.0.insert(txid.as_bytes(), &codec::encode(at))
    }

    pub fn remove(&self, txid: &Txid) -> Result<(), K::Error> {
        self.0.remove(txid.as_bytes()).map(drop)
    }
}

impl<K: Kv> Pending<K> {
    pub fn get(&self, seq: u64) -> Result<Option<Transaction>, K::Error> {
        match self.0.get(&codec::seq_key(seq))? {
            Some(v) => decoded(codec::decode_tx(&v)).map(Some),
            None => Ok(None),
        }
    }

    pub fn contains(&self, seq: u64) -> Result<bool, K::Error> {
        Ok(self.0.get(&codec::seq_key(seq))?.is_some())
    }

    pub fn put(&self, seq: u64, tx: &Transaction) -> Result<(), K::Error> {
        self.0.insert(&codec::seq_key(seq), &codec::encode_tx(tx))
    }

    pub fn remove(&self, seq: u64) -> Result<(), K::Error> {
        self.0.remove(&codec::seq_key(seq)).map(drop)
    }
}

impl<K: Kv> PendingIds<K> {
    /// The arrival sequence of a pending transaction.
    pub fn seq(&self, txid: &Txid) -> Result<Option<u64>, K::Error> {
        match self.0.get(txid.as_bytes())? {
            Some(v) => decoded(codec::decode_seq_key(&v)).map(Some),
            None => Ok(None),
        }
    }

    pub fn put(&self, txid: &Txid, seq: u64) -> Result<(), K::Error> {
        self.0.insert(txid.as_bytes(), &codec::seq_key(seq))
    }

    /// Removes the entry, returning its sequence.
    pub fn remove(&self, txid: &Txid) -> Result<Option<u64>, K::Error> {
        match self.0.remove(txid.as_bytes())? {
            Some(v) => decoded(codec::decode_seq_key(&v)).map(Some),
            None => Ok(None),
        }
    }
}

impl<K: Kv> Meta<K> {
    /// The record under `key`, if any.
    pub fn get<T: Record>(&self, key: &[u8], what: &'static str) -> Result<Option<T>, K::Error> {
        match self.0.get(key)? {
            Some(v) => decoded(codec::decode(&v, what)).map(Some),
            None => Ok(None),
        }
    }

    /// The record under `key`, which a ledger always has.
    pub fn need<T: Record>(&self, key: &[u8], what: &'static str) -> Result<T, K::Error> {
        self.get(key, what)?
            .ok_or_else(|| StoreError::Corrupt(format!("missing {what}")).into())
    }

    pub fn put<T: Record>(&self, key: &[u8], value: &T) -> Result<(), K::Error> {
        self.0.insert(key, &codec::encode(value))
    }

    pub fn remove(&self, key: &[u8]) -> Result<(), K::Error> {
        self.0.remove(key).map(drop)
    }

    /// The tip and counters.
    pub fn state(&self) -> Result<ChainState, K::Error> {
        self.need(KEY_STATE, "chain state")
    }

    /// The tip and counters, if the tip is still `expected` (else the
    /// write conflicts with one that moved it).
    pub fn state_at(&self, expected: BlockHash) -> Result<ChainState, K::Error> {
        let state = self.state()?;
        if state.tip != expected {
            return Err(StoreError::Conflict.into());
        }
        Ok(state)
    }

    pub fn put_state(&self, state: &ChainState) -> Result<(), K::Error> {
        self.put(KEY_STATE, state)
    }

    pub fn orphan_state(&self) -> Result<OrphanState, K::Error> {
        Ok(self.get(KEY_ORPHANS, "orphan state")?.unwrap_or_default())
    }
}

impl<K: Kv> AuthorGroups<K> {
    /// The entries of `author` in the group holding `height`.
    pub fn entries(&self, author: &str, height: u64) -> Result<Vec<(u64, u32, Txid)>, K::Error> {
        match self.0.get(&codec::author_group_key(author, height))? {
            Some(v) => decoded(codec::author_entries(&v)),
            None => Ok(Vec::new()),
        }
    }

    /// Appends `author`'s entries of the block at `height` (position, txid).
    pub fn append(
        &self,
        author: &str,
        height: u64,
        entries: &[(u32, Txid)],
    ) -> Result<(), K::Error> {
        let key = codec::author_group_key(author, height);
        let mut v = self.0.get(&key)?.map(|v| v.to_vec()).unwrap_or_default();
        for (index, txid) in entries {
            codec::push_author_entry(&mut v, height, *index, txid);
        }
        self.0.insert(&key, &v)
    }

    /// Removes `author`'s entries of the block at `height`.
    pub fn remove_height(&self, author: &str, height: u64) -> Result<(), K::Error> {
        let key = codec::author_group_key(author, height);
        let Some(v) = self.0.get(&key)? else {
            return Ok(());
        };
        let kept = codec::author_entries_without(&v, height);
        if kept.is_empty() {
            self.0.remove(&key).map(drop)
        } else {
            self.0.insert(&key, &kept)
        }
    }
}

impl<K: Kv> Names<K> {
    /// The binding of `name`, if the active chain binds it.
    pub fn get(&self, name: &str) -> Result<Option<NameBinding>, K::Error> {
        match self.0.get(name.as_bytes())? {
            Some(v) => decoded(codec::decode::<NameBinding>(&v, "name binding")).map(Some),
            None => Ok(None),
        }
    }

    pub fn put(&self, name: &str, binding: &NameBinding) -> Result<(), K::Error> {
        self.0.insert(name.as_bytes(), &codec::encode(binding))
    }

    pub fn remove(&self, name: &str) -> Result<(), K::Error> {
        self.0.remove(name.as_bytes()).map(drop)
    }
}

impl<K: Kv> KeyNames<K> {
    pub fn put(&self, key: &PublicKey, name: &str) -> Result<(), K::Error> {
        self.0.insert(&codec::key_names_key(key, name), &[])
    }

    pub fn remove(&self, key: &PublicKey, name: &str) -> Result<(), K::Error> {
        self.0.remove(&codec::key_names_key(key, name)).map(drop)
    }

    /// Whether the index records that `key` binds `name`.
    pub fn contains(&self, key: &PublicKey, name: &str) -> Result<bool, K::Error> {
        Ok(self.0.get(&codec::key_names_key(key, name))?.is_some())
    }
}

impl<K: Kv> Tips<K> {
    pub fn insert(&self, hash: &BlockHash) -> Result<(), K::Error> {
        self.0.insert(hash.as_bytes(), &[])
    }

    pub fn remove(&self, hash: &BlockHash) -> Result<(), K::Error> {
        self.0.remove(hash.as_bytes()).map(drop)
    }
}

impl<K: Kv> Orphans<K> {
    pub fn get(&self, seq: u64) -> Result<Option<Block>, K::Error> {
        match self.0.get(&codec::seq_key(seq))? {
            Some(v) => decoded(codec::decode_orphan(&v)).map(Some),
            None => Ok(None),
        }
    }

    pub fn put(&self, seq: u64, block: &Block) -> Result<(), K::Error> {
        self.0.insert(&codec::seq_key(seq), &block.encode())
    }

    pub fn remove(&self, seq: u64) -> Result<(), K::Error> {
        self.0.remove(&codec::seq_key(seq)).map(drop)
    }
}

impl<K: Kv> OrphanIds<K> {
    pub fn contains(&self, hash: &BlockHash) -> Result<bool, K::Error> {
        Ok(self.0.get(hash.as_bytes())?.is_some())
    }

    pub fn put(&self, hash: &BlockHash, seq: u64) -> Result<(), K::Error> {
        self.0.insert(hash.as_bytes(), &codec::seq_key(seq))
    }

    pub fn remove(&self, hash: &BlockHash) -> Result<(), K::Error> {
        self.0.remove(hash.as_bytes()).map(drop)
    }
}

impl<K: Kv> OrphanParents<K> {
    pub fn put(&self, parent: &BlockHash, seq: u64, orphan: &BlockHash) -> Result<(), K::Error> {
        self.0
            .insert(&codec::orphan_parent_key(parent, seq), orphan.as_bytes())
    }

    pub fn remove(&self, parent: &BlockHash, seq: u64) -> Result<(), K::Error> {
        self.0
            .remove(&codec::orphan_parent_key(parent, seq))
            .map(drop)
    }
}

impl<K: Kv> Invalid<K> {
    /// Why the block can never be active, if it was found invalid.
    pub fn reason(&self, hash: &BlockHash) -> Result<Option<String>, K::Error> {
        Ok(self
            .0
            .get(hash.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn mark(&self, hash: &BlockHash, reason: &str) -> Result<(), K::Error> {
        self.0.insert(hash.as_bytes(), reason.as_bytes())
    }
}

impl<K: Kv> Peers<K> {
    pub fn get(&self, id: &[u8]) -> Result<Option<PeerRecord>, K::Error> {
        match self.0.get(id)? {
            Some(v) => decoded(codec::decode(&v, "peer record")).map(Some),
            None => Ok(None),
        }
    }

    pub fn put(&self, id: &[u8], record: &PeerRecord) -> Result<(), K::Error> {
        self.0.insert(id, &codec::encode(record))
    }

    /// Removes the record; true if there was one.
    pub fn remove(&self, id: &[u8]) -> Result<bool, K::Error> {
        Ok(self.0.remove(id)?.is_some())
    }
}

impl Peers<Tree> {
    /// Every record with its peer id bytes, in key order.
    pub fn all(&self) -> impl Iterator<Item = Result<(Vec<u8>, PeerRecord), StoreError>> + '_ {
        self.0.iter().map(|e| {
            let (k, v) = e?;
            Ok((k.to_vec(), codec::decode(&v, "peer record")?))
        })
    }
}

/// A `heights` record: its first height and its hashes.
pub(crate) type HeightGroup = (u64, Vec<BlockHash>);

/// Walks, over the trees outside a transaction.
impl Heights<Tree> {
    /// The groups covering heights `from..=to`, in key order, each as its
    /// first height and hashes.
    pub fn groups(
        &self,
        from: u64,
        to: u64,
        newest_first: bool,
    ) -> Box<dyn Iterator<Item = Result<HeightGroup, StoreError>> + '_> {
        let range = self.0.range(codec::group_key(from)..=codec::group_key(to));
        let decode = |e: sled::Result<(IVec, IVec)>| {
            let (k, v) = e?;
            Ok((codec::decode_group_key(&k)?, codec::group_hashes(&v)?))
        };
        if newest_first {
            Box::new(range.rev().map(decode))
        } else {
            Box::new(range.map(decode))
        }
    }
}

/// Up to `max` keys of `tree` (32-byte ids) that start with `prefix`.
fn ids_with_prefix(
    tree: &Tree,
    prefix: &IdPrefix,
    max: usize,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let mut out = Vec::new();
    for k in tree.scan_prefix(&prefix.bytes).keys() {
        let k = k?;
        if out.len() == max {
            break;
        }
        if prefix.matches(&k) {
            let id: [u8; 32] = k.as_ref().try_into().map_err(|_| {
                StoreError::Corrupt(format!("a {}-byte key in an id tree", k.len()))
            })?;
            out.push(id);
        }
    }
    Ok(out)
}

impl Txs<Tree> {
    /// Up to `max` txids of the active chain starting with `prefix`.
    pub fn with_prefix(&self, prefix: &IdPrefix, max: usize) -> Result<Vec<Txid>, StoreError> {
        Ok(ids_with_prefix(&self.0, prefix, max)?
            .into_iter()
            .map(Txid)
            .collect())
    }

    /// Every txid indexed, in key order.
    pub fn ids(&self) -> impl Iterator<Item = Result<IVec, StoreError>> + '_ {
        self.0.iter().keys().map(|k| Ok(k?))
    }
}

impl Pending<Tree> {
    /// Pending transactions from sequence `from` on, in arrival order.
    pub fn from(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Transaction), StoreError>> + '_ {
        self.0.range(codec::seq_key(from)..).map(|e| {
            let (k, v) = e?;
            Ok((codec::decode_seq_key(&k)?, codec::decode_tx(&v)?))
        })
    }
}

impl Names<Tree> {
    /// How many entries (a walk: for `verify` only).
    pub fn count(&self) -> Result<u64, StoreError> {
        count_keys(&self.0)
    }
}

impl KeyNames<Tree> {
    /// How many entries (a walk: for `verify` only).
    pub fn count(&self) -> Result<u64, StoreError> {
        count_keys(&self.0)
    }

    /// The names `key` binds, in byte order.
    pub fn names_of(&self, key: &PublicKey) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for item in self.0.scan_prefix(key.as_bytes()) {
            let (k, _) = item?;
            let name = std::str::from_utf8(&k[32..])
                .map_err(|_| StoreError::Corrupt("a name in the key index is not UTF-8".into()))?;
            out.push(name.to_owned());
        }
        Ok(out)
    }
}

impl PendingIds<Tree> {
    /// Up to `max` pending txids starting with `prefix`.
    pub fn with_prefix(&self, prefix: &IdPrefix, max: usize) -> Result<Vec<Txid>, StoreError> {
        Ok(ids_with_prefix(&self.0, prefix, max)?
            .into_iter()
            .map(Txid)
            .collect())
    }

    /// How many entries (a walk: for `verify` only).
    pub fn count(&self) -> Result<u64, StoreError> {
        count_keys(&self.0)
    }
}

fn count_keys(tree: &Tree) -> Result<u64, StoreError> {
    let mut n = 0;
    for e in tree.iter().keys() {
        e?;
        n += 1;
    }
    Ok(n)
}

impl AuthorGroups<Tree> {
    /// `author`'s entries from the group holding `height` on, in chain order.
    pub fn from(
        &self,
        author: &str,
        height: u64,
    ) -> impl Iterator<Item = Result<Vec<(u64, u32, Txid)>, StoreError>> + '_ {
        let prefix = codec::author_prefix(author);
        self.0
            .range(codec::author_group_key(author, height)..)
            .take_while(move |e| e.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .map(|e| Ok(codec::author_entries(&e?.1)?))
    }

    /// Every record's entries (a walk: for `verify` only).
    pub fn all(&self) -> impl Iterator<Item = Result<Vec<(u64, u32, Txid)>, StoreError>> + '_ {
        self.0
            .iter()
            .values()
            .map(|v| Ok(codec::author_entries(&v?)?))
    }
}

impl Blocks<Tree> {
    /// Up to `max` hashes of stored blocks (any branch) starting with `prefix`.
    pub fn with_prefix(&self, prefix: &IdPrefix, max: usize) -> Result<Vec<BlockHash>, StoreError> {
        Ok(ids_with_prefix(&self.0, prefix, max)?
            .into_iter()
            .map(BlockHash)
            .collect())
    }

    /// Every stored block's key and header record, in key order.
    pub fn headers(
        &self,
    ) -> impl Iterator<Item = Result<(BlockHash, HeaderRecord), StoreError>> + '_ {
        self.0.iter().map(|e| {
            let (k, v) = e?;
            Ok((codec::decode_hash_key(&k)?, codec::decode_block_header(&v)?))
        })
    }
}

impl Invalid<Tree> {
    /// Every block marked invalid.
    pub fn all(&self) -> impl Iterator<Item = Result<BlockHash, StoreError>> + '_ {
        self.0
            .iter()
            .keys()
            .map(|k| Ok(codec::decode_hash_key(&k?)?))
    }
}

impl Tips<Tree> {
    pub fn all(&self) -> impl Iterator<Item = Result<BlockHash, StoreError>> + '_ {
        self.0
            .iter()
            .keys()
            .map(|k| Ok(codec::decode_hash_key(&k?)?))
    }
}

impl Orphans<Tree> {
    /// Every orphan with its sequence, oldest first.
    pub fn all(&self) -> impl Iterator<Item = Result<(u64, Block), StoreError>> + '_ {
        self.0.iter().map(|e| {
            let (k, v) = e?;
            Ok((codec::decode_seq_key(&k)?, codec::decode_orphan(&v)?))
        })
    }

    /// The oldest orphan and its sequence.
    pub fn oldest(&self) -> Result<Option<(u64, Block)>, StoreError> {
        match self.0.iter().next() {
            Some(e) => {
                let (k, v) = e?;
                Ok(Some((
                    codec::decode_seq_key(&k)?,
                    codec::decode_orphan(&v)?,
                )))
            }
            None => Ok(None),
        }
    }
}

impl OrphanIds<Tree> {
    /// The sequence of the orphan `hash`, if it is one.
    pub fn seq(&self, hash: &BlockHash) -> Result<Option<u64>, StoreError> {
        match self.0.get(hash.as_bytes())? {
            Some(v) => Ok(Some(codec::decode_seq_key(&v)?)),
            None => Ok(None),
        }
    }

    /// How many entries (a walk: for `verify` only).
    pub fn count(&self) -> Result<u64, StoreError> {
        count_keys(&self.0)
    }
}

impl OrphanParents<Tree> {
    /// How many entries (a walk: for `verify` only).
    pub fn count(&self) -> Result<u64, StoreError> {
        count_keys(&self.0)
    }

    /// True when `orphan` is listed under `parent` with `seq`.
    pub fn lists(
        &self,
        parent: &BlockHash,
        seq: u64,
        orphan: &BlockHash,
    ) -> Result<bool, StoreError> {
        let found = self.0.get(codec::orphan_parent_key(parent, seq))?;
        Ok(found.is_some_and(|v| v.as_ref() == orphan.as_bytes()))
    }

    /// The orphans waiting for `parent`: sequence and hash.
    pub fn children_of(
        &self,
        parent: &BlockHash,
    ) -> impl Iterator<Item = Result<(u64, BlockHash), StoreError>> + '_ {
        self.0.scan_prefix(parent.as_bytes()).map(|e| {
            let (k, v) = e?;
            Ok((codec::orphan_parent_seq(&k)?, codec::decode_hash_key(&v)?))
        })
    }
}
