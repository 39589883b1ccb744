//! One copy of a blob at a time into one destination. When several images that share
//! layers are copied at once (the tags of a repository in `sync`), the copies of a shared
//! layer would otherwise all find it missing and upload it side by side; with a claim the
//! later ones wait for the first and then find the blob there.

use crate::digest::Digest;
use std::collections::HashSet;
use std::sync::{Condvar, Mutex};

/// Digests being copied into one destination repository.
#[derive(Debug, Default)]
pub struct BlobClaims {
    busy: Mutex<HashSet<Digest>>,
    freed: Condvar,
}

/// Held while one blob is copied; dropping it lets the next copy of that blob go on.
pub struct Claim<'a> {
    claims: &'a BlobClaims,
    digest: Digest,
}

impl BlobClaims {
    /// Wait until no other copy holds `digest`, then hold it.
    pub fn hold(&self, digest: &Digest) -> Claim<'_> {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while busy.contains(digest) {
            busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        busy.insert(digest.clone());
        Claim {
            claims: self,
            digest: digest.clone(),
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut busy = self.claims.busy.lock().unwrap_or_else(|e| e.into_inner());
        busy.remove(&self.digest);
        self.claims.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_holder_per_digest_others_in_parallel() {
        let claims = BlobClaims::default();
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        let inside = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let _c = claims.hold(&a);
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    // Another digest is not held up by `a`.
                    drop(claims.hold(&b));
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(most.into_inner(), 1);
        assert!(claims.busy.lock().unwrap().is_empty());
    }
}
