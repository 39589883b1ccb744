//! Clients shared by the images of one run (`sync`): every tag of a repository then uses one
//! client, so the `/v2/` ping, the token and the idle connections are had once, not per
//! image.

use super::client::Client;
use super::RegistryOptions;
use anyhow::Result;
use std::sync::{Arc, Mutex};

/// One client per (registry, repository, push or pull, options).
#[derive(Default)]
pub struct Clients {
    known: Mutex<Vec<(Key, Arc<Client>)>>,
}

#[derive(PartialEq)]
struct Key {
    domain: String,
    repo: String,
    push: bool,
    opts: RegistryOptions,
}

impl Clients {
    /// The client for `repo` on `domain`, made on first use.
    pub fn get(
        &self,
        domain: &str,
        repo: &str,
        opts: &RegistryOptions,
        push: bool,
    ) -> Result<Arc<Client>> {
        let key = Key {
            domain: domain.to_string(),
            repo: repo.to_string(),
            push,
            opts: opts.clone(),
        };
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, c)) = known.iter().find(|(k, _)| *k == key) {
            return Ok(c.clone());
        }
        let client = Arc::new(Client::new(domain, repo, opts, push)?);
        known.push((key, client.clone()));
        Ok(client)
    }
}
