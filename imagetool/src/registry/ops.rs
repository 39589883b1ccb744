//! Registry-only operations behind `list-tags`, `delete`, `login`, `logout`
//! (distribution `api.md`: tags list with `Link` pagination, manifest DELETE by digest).

use super::client::{Body, Client};
use super::clients::Clients;
use super::source::head_manifest;
use super::{auth, RegistryOptions};
use crate::reference::ImageRef;
use anyhow::{anyhow, Context, Result};
use std::io::Read;

/// Every tag of the repository, following `Link: <…>; rel="next"` pages.
pub fn list_tags(reference: &ImageRef, opts: &RegistryOptions) -> Result<Vec<String>> {
    list_tags_with(reference, opts, &Clients::default())
}

/// [`list_tags`] with the client from `clients` (shared with the images read next).
pub fn list_tags_with(
    reference: &ImageRef,
    opts: &RegistryOptions,
    clients: &Clients,
) -> Result<Vec<String>> {
    let ep = super::registries::push_endpoint(reference, opts)?;
    let r = &ep.reference;
    let client = clients.get(&r.domain, &r.path, &ep.opts, false)?;
    let mut url = client.repo_url("tags/list")?;
    let mut tags = Vec::new();
    for _ in 0..1000 {
        let resp = client.send("GET", &url, &[], Body::Empty)?;
        let next = resp.header("link").and_then(next_link);
        let mut body = String::new();
        resp.into_reader()
            .take(64 << 20)
            .read_to_string(&mut body)
            .with_context(|| format!("read {url}"))?;
        let v: serde_json::Value =
            serde_json::from_str(&body).with_context(|| format!("parse tags list from {url}"))?;
        if let Some(a) = v.get("tags").and_then(|t| t.as_array()) {
            tags.extend(a.iter().filter_map(|t| t.as_str().map(str::to_string)));
        }
        match next {
            Some(n) => url = client.absolute(&n)?,
            None => return Ok(tags),
        }
    }
    Err(anyhow!(
        "list tags of {}: too many pages",
        reference.repository()
    ))
}

/// Every repository of the registry (`GET /v2/_catalog`, paginated like tags).
pub fn catalog(domain: &str, opts: &RegistryOptions) -> Result<Vec<String>> {
    let client = Client::new(domain, "", opts, false)?;
    client.add_scope("registry:catalog:*");
    let mut url = format!("{}/v2/_catalog", client.base()?);
    let mut repos = Vec::new();
    for _ in 0..1000 {
        let resp = client.send("GET", &url, &[], Body::Empty)?;
        let next = resp.header("link").and_then(next_link);
        let mut body = String::new();
        resp.into_reader()
            .take(64 << 20)
            .read_to_string(&mut body)
            .with_context(|| format!("read {url}"))?;
        let v: serde_json::Value =
            serde_json::from_str(&body).with_context(|| format!("parse catalog from {url}"))?;
        if let Some(a) = v.get("repositories").and_then(|t| t.as_array()) {
            repos.extend(a.iter().filter_map(|t| t.as_str().map(str::to_string)));
        }
        match next {
            Some(n) => url = client.absolute(&n)?,
            None => return Ok(repos),
        }
    }
    Err(anyhow!("list catalog of {domain}: too many pages"))
}

fn next_link(h: &str) -> Option<String> {
    h.split(',')
        .find(|l| l.contains("rel=\"next\""))
        .and_then(|l| {
            let start = l.find('<')? + 1;
            let end = l.find('>')?;
            Some(l[start..end].to_string())
        })
}

/// Delete the manifest the reference names (a tag is resolved to its digest first).
pub fn delete_image(reference: &ImageRef, opts: &RegistryOptions) -> Result<crate::Digest> {
    let ep = super::registries::push_endpoint(reference, opts)?;
    let client = Client::new(&ep.reference.domain, &ep.reference.path, &ep.opts, true)?;
    let digest = match &reference.digest {
        Some(d) => d.clone(),
        None => head_manifest(&client, &reference.manifest_reference())?
            .ok_or_else(|| anyhow!("delete {reference}: manifest unknown"))?,
    };
    let url = client.repo_url(&format!("manifests/{digest}"))?;
    client
        .send("DELETE", &url, &[], Body::Empty)
        .with_context(|| format!("delete {reference}"))?;
    Ok(digest)
}

/// Check the credentials against the registry, then store them.
pub fn login(
    domain: &str,
    user: &str,
    password: &str,
    opts: &RegistryOptions,
) -> Result<std::path::PathBuf> {
    let mut o = opts.clone();
    o.creds = Some((user.to_string(), password.to_string()));
    let client = Client::new(domain, "", &o, false)?;
    let url = format!("{}/v2/", client.base()?);
    client
        .send("GET", &url, &[], Body::Empty)
        .with_context(|| format!("log in to {domain}"))?;
    let file = auth::write_file(opts.authfile.as_deref())?;
    auth::store(&file, domain, Some((user, password)))?;
    Ok(file)
}

/// Forget stored credentials; false when there were none.
pub fn logout(domain: &str, opts: &RegistryOptions) -> Result<bool> {
    let file = auth::write_file(opts.authfile.as_deref())?;
    if !file.exists() {
        return Ok(false);
    }
    auth::store(&file, domain, None)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_next_link() {
        let h = r#"</v2/a/tags/list?last=b&n=2>; rel="next""#;
        assert_eq!(
            super::next_link(h).as_deref(),
            Some("/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(super::next_link(r#"<x>; rel="prev""#), None);
    }
}
