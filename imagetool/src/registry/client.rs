//! HTTP for one registry repository: scheme discovery (`GET /v2/` ping, loopback falling
//! back to plain HTTP as docker allows), authentication (anonymous, basic, bearer token per
//! distribution `token.md`), retries with backoff on 429 (honouring `Retry-After`), 5xx and
//! transport errors. Blocking HTTP/1.1 (`http.rs`): response bodies stream to callers as
//! `std::io::Read`.

use super::challenge::{self, Challenge};
use super::{api_host, auth, http, is_loopback, tls, RegistryOptions};
use crate::transport::backoff;
use anyhow::{anyhow, Context, Result};
use base64::Engine as _;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{method} {url}: {status}{message}")]
    Status {
        method: String,
        url: String,
        status: u16,
        message: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    #[error("{method} {url}: {source:#}")]
    Transport {
        method: String,
        url: String,
        source: anyhow::Error,
        /// A reset or timeout, worth trying again (not a certificate or URL problem).
        transient: bool,
    },
}

impl HttpError {
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            HttpError::Transport { .. } => None,
        }
    }

    /// Whether trying again may succeed: 429, 5xx, resets and timeouts.
    pub fn transient(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => *status == 429 || *status >= 500,
            HttpError::Transport { transient, .. } => *transient,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status { retry_after, .. } => *retry_after,
            HttpError::Transport { .. } => None,
        }
    }
}

#[derive(Clone, Debug)]
enum Auth {
    Anonymous,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        token: Option<String>,
    },
}

pub struct Client {
    domain: String,
    host: String,
    repo: String,
    agent: http::Agent,
    plain_http_ok: bool,
    base: OnceLock<String>,
    ping_lock: Mutex<()>,
    creds: Option<(String, String)>,
    auth: Mutex<Auth>,
    scopes: Mutex<Vec<String>>,
    retries: u32,
}

/// Idle connections kept per registry host: more than the blob workers of one copy.
const IDLE_PER_HOST: usize = 16;

/// A request body that can be sent again on retry.
pub enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
}

impl Client {
    /// `repo` may be empty for registry-wide calls (ping, login, catalog).
    pub fn new(domain: &str, repo: &str, opts: &RegistryOptions, push: bool) -> Result<Client> {
        let verify = opts.tls_verify.unwrap_or(true);
        let host = api_host(domain).to_string();
        let tls = tls::client_config(domain, verify, &opts.certs_dirs, opts.cert_dir.as_deref())?;
        // Every blob worker keeps its connection between requests.
        let proxies = super::proxy::Proxies::from_env()?;
        let agent = http::Agent::new(
            tls,
            proxies,
            Duration::from_secs(30),
            opts.read_timeout,
            IDLE_PER_HOST,
        );
        let creds = match &opts.creds {
            Some(c) => Some(c.clone()),
            None if opts.no_creds => None,
            None => auth::lookup(domain, opts.authfile.as_deref())?,
        };
        let action = if push { "pull,push" } else { "pull" };
        let scopes = if repo.is_empty() {
            Vec::new()
        } else {
            vec![format!("repository:{repo}:{action}")]
        };
        Ok(Client {
            domain: domain.to_string(),
            host,
            repo: repo.to_string(),
            agent,
            plain_http_ok: plain_http_allowed(domain, opts.tls_verify),
            base: OnceLock::new(),
            ping_lock: Mutex::new(()),
            creds,
            auth: Mutex::new(Auth::Anonymous),
            scopes: Mutex::new(scopes),
            retries: opts.retry_times,
        })
    }

    /// `--retry-times`: how often a failed request (or a blob upload) is tried again.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// Ask for pull access to another repository too (cross-repo mounts); drops the token.
    pub fn add_pull_scope(&self, repo: &str) {
        self.add_scope(&format!("repository:{repo}:pull"));
    }

    /// Ask for another token scope (`registry:catalog:*`, …); drops the current token.
    pub fn add_scope(&self, scope: &str) {
        let scope = scope.to_string();
        let mut scopes = self.scopes.lock().unwrap_or_else(|e| e.into_inner());
        if !scopes.contains(&scope) {
            scopes.push(scope);
            if let Auth::Bearer { token, .. } =
                &mut *self.auth.lock().unwrap_or_else(|e| e.into_inner())
            {
                *token = None;
            }
        }
    }

    /// `scheme://host`, found by pinging `/v2/` once (serialised: concurrent blob workers
    /// wait for the first ping instead of each probing the registry).
    pub fn base(&self) -> Result<&str> {
        if let Some(b) = self.base.get() {
            return Ok(b);
        }
        let _probe = self.ping_lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = self.base.get() {
            return Ok(b);
        }
        let https = format!("https://{}", self.host);
        let chosen = match self.ping(&https, false) {
            Ok(()) => https,
            Err(e) if self.plain_http_ok => {
                let http = format!("http://{}", self.host);
                self.ping(&http, true)
                    .map_err(|e2| anyhow!("{e:#}; plain HTTP: {e2:#}"))?;
                http
            }
            Err(e) => return Err(e),
        };
        Ok(self.base.get_or_init(|| chosen))
    }

    /// Any answer over HTTPS proves the endpoint; over plain HTTP only a registry's
    /// 200/401 does (a TLS server answers plain HTTP with 400). When plain HTTP may follow,
    /// the HTTPS probe is bounded and tried once, so a silent or plain endpoint cannot
    /// stall the first request; the last probe is retried on resets and timeouts like
    /// every other request.
    fn ping(&self, base: &str, plain: bool) -> Result<()> {
        let url = format!("{base}/v2/");
        let last_probe = plain || !self.plain_http_ok;
        let mut attempt = 0u32;
        loop {
            let mut req = self.agent.get(&url);
            if !last_probe {
                req = req.timeout(Duration::from_secs(10));
            }
            match req.call() {
                Ok(_) => return Ok(()),
                Err(http::Error::Status(401, resp)) => {
                    self.learn_challenge(&resp);
                    return Ok(());
                }
                Err(http::Error::Status(code, _)) if plain => {
                    return Err(anyhow!("GET {url}: {code}: not a registry endpoint"))
                }
                Err(http::Error::Status(_, _)) => return Ok(()),
                Err(http::Error::Transport(t))
                    if last_probe && attempt < self.retries && retryable(&t) =>
                {
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                Err(http::Error::Transport(t)) => return Err(anyhow!("GET {url}: {t}")),
            }
        }
    }

    fn learn_challenge(&self, resp: &http::Response) {
        let Some(h) = resp.header("www-authenticate") else {
            return;
        };
        let new = match challenge::parse(h) {
            Some(Challenge::Basic) => Auth::Basic,
            Some(Challenge::Bearer { realm, service }) => Auth::Bearer {
                realm,
                service,
                token: None,
            },
            None => return,
        };
        *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = new;
    }

    /// URL of `path` under this repository: `/v2/<repo>/<path>`.
    pub fn repo_url(&self, path: &str) -> Result<String> {
        Ok(format!("{}/v2/{}/{}", self.base()?, self.repo, path))
    }

    /// Resolve a `Location` header (may be relative) against the registry base.
    pub fn absolute(&self, location: &str) -> Result<String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Ok(location.to_string());
        }
        Ok(format!("{}{}", self.base()?, location))
    }

    fn basic_header(&self) -> Option<String> {
        self.creds.as_ref().map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        })
    }

    fn auth_header(&self) -> Result<Option<String>> {
        let state = self.auth.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match state {
            Auth::Anonymous => Ok(None),
            Auth::Basic => Ok(self.basic_header()),
            Auth::Bearer { token: Some(t), .. } => Ok(Some(format!("Bearer {t}"))),
            Auth::Bearer {
                realm,
                service,
                token: None,
            } => {
                let t = self.fetch_token(&realm, service.as_deref())?;
                if let Auth::Bearer { token, .. } =
                    &mut *self.auth.lock().unwrap_or_else(|e| e.into_inner())
                {
                    *token = Some(t.clone());
                }
                Ok(Some(format!("Bearer {t}")))
            }
        }
    }

    fn fetch_token(&self, realm: &str, service: Option<&str>) -> Result<String> {
        let mut url = format!("{realm}{}", if realm.contains('?') { '&' } else { '?' });
        if let Some(s) = service {
            url.push_str(&format!("service={}&", query_escape(s)));
        }
        for s in self.scopes.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            url.push_str(&format!("scope={}&", query_escape(s)));
        }
        url.pop();
        let mut req = self.agent.get(&url);
        if let Some(b) = self.basic_header() {
            req = req.set("Authorization", &b);
        }
        let resp = req.call().map_err(|e| match e {
            http::Error::Status(code, r) => anyhow!("GET token {url}: {code}{}", error_message(*r)),
            http::Error::Transport(t) => anyhow!("GET token {url}: {t}"),
        })?;
        let body = resp
            .into_string()
            .with_context(|| format!("read token response from {realm}"))?;
        let v: serde_json::Value = serde_json::from_str(&body)
            .with_context(|| format!("parse token response from {realm}"))?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| anyhow!("parse token response from {realm}: no token"))
    }

    /// Send a request with a replayable body, authenticating and retrying as needed.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<http::Response, HttpError> {
        let mut attempt = 0u32;
        let mut reauthed = false;
        loop {
            let req = self
                .build(method, url, headers)
                .map_err(|e| transport(method, url, e))?;
            let result = match body {
                Body::Empty => req.call(),
                Body::Bytes(b) => req.send_bytes(b),
            };
            let wait = match result {
                Ok(resp) => return Ok(resp),
                Err(http::Error::Status(401, resp)) if !reauthed => {
                    reauthed = true;
                    self.learn_challenge(&resp);
                    continue;
                }
                Err(http::Error::Status(code, resp))
                    if (code == 429 || code >= 500) && attempt < self.retries =>
                {
                    retry_after(&resp).unwrap_or_else(|| backoff(attempt))
                }
                Err(http::Error::Status(status, resp)) => {
                    return Err(status_error(method, url, status, *resp))
                }
                Err(http::Error::Transport(t)) if attempt < self.retries && retryable(&t) => {
                    backoff(attempt)
                }
                Err(http::Error::Transport(t)) => return Err(transport_error(method, url, t)),
            };
            attempt += 1;
            std::thread::sleep(wait);
        }
    }

    /// Send a bodiless request once, without retries (best-effort cleanup).
    pub fn send_once(&self, method: &str, url: &str) -> Result<http::Response, HttpError> {
        let req = self
            .build(method, url, &[])
            .map_err(|e| transport(method, url, e))?;
        match req.call() {
            Ok(r) => Ok(r),
            Err(http::Error::Status(status, resp)) => Err(status_error(method, url, status, *resp)),
            Err(http::Error::Transport(t)) => Err(transport_error(method, url, t)),
        }
    }

    /// Send a streamed body once: a stream cannot be replayed, so the caller restarts the
    /// whole transfer on failure. A 401 is learnt (the next request authenticates) and
    /// returned like any other status.
    pub fn send_stream(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &mut dyn std::io::Read,
    ) -> Result<http::Response, HttpError> {
        let req = self
            .build(method, url, headers)
            .map_err(|e| transport(method, url, e))?;
        match req.send(body) {
            Ok(r) => Ok(r),
            Err(http::Error::Status(status, resp)) => {
                if status == 401 {
                    self.learn_challenge(&resp);
                }
                Err(status_error(method, url, status, *resp))
            }
            Err(http::Error::Transport(t)) => Err(transport_error(method, url, t)),
        }
    }

    fn build(&self, method: &str, url: &str, headers: &[(&str, String)]) -> Result<http::Request> {
        let mut req = self.agent.request(method, url);
        // Credentials go only to the registry itself, never to a redirect target (the agent
        // drops Authorization on redirects by default).
        if url.starts_with(self.base()?) {
            if let Some(a) = self.auth_header()? {
                req = req.set("Authorization", &a);
            }
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        Ok(req)
    }
}

/// A failure before anything was sent (building the request): not worth retrying.
fn transport(method: &str, url: &str, source: anyhow::Error) -> HttpError {
    HttpError::Transport {
        method: method.into(),
        url: url.into(),
        source,
        transient: false,
    }
}

fn transport_error(method: &str, url: &str, t: http::Transport) -> HttpError {
    HttpError::Transport {
        method: method.into(),
        url: url.into(),
        transient: retryable(&t),
        source: anyhow!("{t}"),
    }
}

fn status_error(method: &str, url: &str, status: u16, resp: http::Response) -> HttpError {
    HttpError::Status {
        method: method.into(),
        url: url.into(),
        status,
        retry_after: retry_after(&resp),
        message: error_message(resp),
    }
}

/// Docker's rule, with skopeo's explicit flag winning: `--tls-verify=false` allows plain
/// HTTP anywhere, `--tls-verify=true` nowhere (not even on loopback), and by default only
/// loopback registries may fall back to it.
fn plain_http_allowed(domain: &str, tls_verify: Option<bool>) -> bool {
    match tls_verify {
        Some(verify) => !verify,
        None => is_loopback(domain),
    }
}

/// Connection resets and timeouts are worth retrying; certificate failures and names
/// that do not resolve are not.
fn retryable(t: &http::Transport) -> bool {
    let s = t.to_string();
    // A name that does not exist stays so; only the resolver's EAI_AGAIN is passing.
    if t.kind() == http::ErrorKind::Dns {
        return s.contains("Temporary failure");
    }
    !(s.contains("certificate")
        || s.contains("Certificate")
        || matches!(
            t.kind(),
            http::ErrorKind::InvalidUrl
                | http::ErrorKind::InvalidHeader
                | http::ErrorKind::UnknownScheme
                | http::ErrorKind::ProxyRefused
        ))
}

fn retry_after(resp: &http::Response) -> Option<Duration> {
    super::retry_after::parse(resp.header("retry-after")?, std::time::SystemTime::now())
}

/// `: CODE message` from a distribution error body (`{"errors":[{"code","message"}]}`).
fn error_message(resp: http::Response) -> String {
    let Ok(body) = resp.into_string() else {
        return String::new();
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let errs: Vec<String> = v
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|a| {
            a.iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.get("code").and_then(|c| c.as_str()).unwrap_or(""),
                        e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if errs.is_empty() {
        String::new()
    } else {
        format!(": {}", errs.join("; "))
    }
}

pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':' | b'/' | b',')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
