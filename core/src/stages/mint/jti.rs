//! `jti` values for minted tokens: UUID v4 (RFC 9562 §5.4) from a pool of the host's random
//! bytes.
//!
//! Every minted token carries a fresh `jti`. `Uuid::new_v4` asked the host for 16 bytes per
//! token (a WASI `random_get` call: about 1.5 µs in Envoy), and panicked, trapping the VM, when
//! the host had none. One call now fills the ids of [`IDS_PER_FILL`] tokens, and a failing source
//! refuses the mint (500) instead.
//!
//! A `jti` must be unique, not secret: the upstream may use it to spot a replay, but nobody can
//! sign a token with a `jti` they guessed. So the bytes may wait in memory for their token; they
//! are never used twice, and never used for anything else (keys, salts and blinding draw their
//! own).

use std::cell::RefCell;

/// Tokens whose ids one call to the host fills.
pub const IDS_PER_FILL: usize = 32;
const ID_BYTES: usize = 16;

/// Random bytes for the next ids; `next` is the first byte no id has used.
pub struct Pool {
    bytes: [u8; ID_BYTES * IDS_PER_FILL],
    next: usize,
}

/// The host's random source failed: no id, so no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRandomness;

impl Default for Pool {
    /// An empty pool: the first id fills it.
    fn default() -> Self {
        Self {
            bytes: [0; ID_BYTES * IDS_PER_FILL],
            next: ID_BYTES * IDS_PER_FILL,
        }
    }
}

impl Pool {
    /// The next id, as the 36 characters of a lower-case hyphenated UUID v4. `fill` is the random
    /// source; it is called when the pool is used up, and a failure leaves the pool empty.
    pub fn next_id(
        &mut self,
        fill: impl FnOnce(&mut [u8]) -> Result<(), NoRandomness>,
    ) -> Result<String, NoRandomness> {
        if self.next + ID_BYTES > self.bytes.len() {
            fill(&mut self.bytes)?;
            self.next = 0;
        }
        let mut id = [0u8; ID_BYTES];
        let taken = self
            .bytes
            .get(self.next..self.next + ID_BYTES)
            .ok_or(NoRandomness)?;
        id.copy_from_slice(taken);
        self.next += ID_BYTES;
        let uuid = uuid::Builder::from_random_bytes(id).into_uuid();
        Ok(uuid.hyphenated().to_string())
    }
}

thread_local! {
    /// The VM's pool (a wasm VM runs one thread; native tests get one per thread).
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
}

/// A fresh `jti` from the VM's pool, refilled from the host's random source.
pub fn new_jti() -> Result<String, NoRandomness> {
    POOL.try_with(|pool| {
        let mut pool = pool.try_borrow_mut().map_err(|_| NoRandomness)?;
        pool.next_id(|bytes| getrandom::fill(bytes).map_err(|_| NoRandomness))
    })
    .map_err(|_| NoRandomness)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// A source that counts its calls and writes other pseudo-random bytes (an LCG) each time.
    fn counting(calls: &mut u8) -> impl FnOnce(&mut [u8]) -> Result<(), NoRandomness> + '_ {
        move |bytes| {
            *calls += 1;
            let mut state = u32::from(*calls).wrapping_mul(0x9e37_79b9);
            for b in bytes.iter_mut() {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *b = (state >> 24) as u8;
            }
            Ok(())
        }
    }

    fn is_uuid_v4(id: &str) -> bool {
        let parsed = uuid::Uuid::parse_str(id);
        id.len() == 36
            && id == id.to_lowercase()
            && parsed.is_ok_and(|u| {
                u.get_version_num() == 4 && u.get_variant() == uuid::Variant::RFC4122
            })
    }

    #[test]
    fn one_fill_serves_ids_per_fill_ids_then_the_next_fill_follows() {
        let mut pool = Pool::default();
        let mut calls = 0u8;
        let mut ids = Vec::new();
        for _ in 0..IDS_PER_FILL * 2 + 1 {
            ids.push(pool.next_id(counting(&mut calls)).unwrap());
            let expected_calls = (ids.len() - 1) / IDS_PER_FILL + 1;
            assert_eq!(
                usize::from(calls),
                expected_calls,
                "after {} ids",
                ids.len()
            );
        }
        assert!(ids.iter().all(|id| is_uuid_v4(id)), "{ids:?}");
        // Every id used its own 16 bytes: no two alike, within a fill or across fills.
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }

    #[test]
    fn ids_are_the_sources_bytes_with_version_and_variant_set() {
        let mut pool = Pool::default();
        let id = pool
            .next_id(|bytes| {
                bytes.fill(0xff);
                Ok(())
            })
            .unwrap();
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = pool
            .next_id(|_| panic!("the pool still had bytes"))
            .unwrap();
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }

    #[test]
    fn a_failing_source_gives_no_id_and_the_next_call_tries_again() {
        let mut pool = Pool::default();
        assert_eq!(pool.next_id(|_| Err(NoRandomness)), Err(NoRandomness));
        assert_eq!(pool.next_id(|_| Err(NoRandomness)), Err(NoRandomness));
        let mut calls = 0u8;
        assert!(is_uuid_v4(&pool.next_id(counting(&mut calls)).unwrap()));
        assert_eq!(calls, 1);
    }

    #[test]
    fn the_vms_pool_gives_distinct_v4_ids() {
        let ids: Vec<String> = (0..500).map(|_| new_jti().unwrap()).collect();
        assert!(ids.iter().all(|id| is_uuid_v4(id)));
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }
}
