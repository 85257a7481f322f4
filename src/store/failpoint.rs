//! Injected write failures, for the I/O-error tests (`store/io_errors.rs`).
//!
//! Every write the store makes to sled passes through [`hit`] with its
//! [`Site`]: each insert and remove (inside a transaction or not), each
//! transaction's commit, each flush. In a unit-test build a thread can arm
//! [`fail_nth`] so that its nth write from then on fails with an I/O error,
//! as a failing disk would; in every other build `hit` is an empty inline
//! function. A write inside a transaction that fails aborts it, exactly as a
//! failed commit does, so the sites inside one transaction all test the same
//! promise: nothing of it is applied.

/// Where a write is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    Insert,
    Remove,
    Commit,
    Flush,
}

/// The message of an injected failure.
#[cfg(test)]
pub(crate) const INJECTED: &str = "injected I/O failure";

/// Fails this write if it is the one the test armed.
#[cfg(not(test))]
#[inline(always)]
pub(crate) fn hit(_site: Site) -> Result<(), sled::Error> {
    Ok(())
}

/// True when a poison reason came from an injected failure.
#[cfg(not(test))]
#[inline(always)]
pub(crate) fn is_injected(_reason: &str) -> bool {
    false
}

#[cfg(test)]
pub(crate) use armed::*;

#[cfg(test)]
mod armed {
    use std::cell::Cell;

    use super::{Site, INJECTED};

    thread_local! {
        /// Writes left before the armed one (`None`: disarmed).
        static LEFT: Cell<Option<u64>> = const { Cell::new(None) };
        /// Writes seen since the last `fail_nth`.
        static SEEN: Cell<u64> = const { Cell::new(0) };
        /// The site that failed, once one has.
        static FIRED: Cell<Option<Site>> = const { Cell::new(None) };
    }

    /// Arms the `n`th write (from 1) of this thread from now on to fail;
    /// `n == 0` disarms and only counts.
    pub(crate) fn fail_nth(n: u64) {
        LEFT.set((n > 0).then_some(n));
        SEEN.set(0);
        FIRED.set(None);
    }

    /// Writes this thread made since the last [`fail_nth`], and the site
    /// that failed, if one did. Disarms.
    pub(crate) fn report() -> (u64, Option<Site>) {
        LEFT.set(None);
        (SEEN.get(), FIRED.get())
    }

    pub(crate) fn hit(site: Site) -> Result<(), sled::Error> {
        SEEN.set(SEEN.get() + 1);
        match LEFT.get() {
            Some(1) => {
                LEFT.set(None);
                FIRED.set(Some(site));
                Err(sled::Error::Io(std::io::Error::other(format!(
                    "{INJECTED} at a {site:?}"
                ))))
            }
            Some(n) => {
                LEFT.set(Some(n - 1));
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub(crate) fn is_injected(reason: &str) -> bool {
        reason.contains(INJECTED)
    }
}
