//! `login HOST` / `logout HOST`: credentials in auth.json (mode 0600).

use anyhow::{bail, Context, Result};
use clap::Args;
use skiff_image::registry::ops;
use std::io::BufRead;
use std::path::PathBuf;

#[derive(Args)]
pub struct Opts {
    pub registry: String,
    #[arg(long, short = 'u')]
    pub username: Option<String>,
    #[arg(long, short = 'p')]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    #[arg(long)]
    pub authfile: Option<PathBuf>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct LogoutOpts {
    pub registry: String,
    #[arg(long)]
    pub authfile: Option<PathBuf>,
}

fn host(s: &str) -> &str {
    let s = s.strip_prefix("docker://").unwrap_or(s);
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    s.trim_end_matches('/')
}

pub fn run(o: Opts) -> Result<()> {
    let Some(user) = o.username else {
        bail!("log in: --username is required")
    };
    let password = match (o.password, o.password_stdin) {
        (Some(p), false) => p,
        (None, true) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("read password from stdin")?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
        (Some(_), true) => bail!("log in: --password and --password-stdin are exclusive"),
        (None, false) => bail!("log in: --password or --password-stdin is required"),
    };
    let opts = super::registry_options(
        o.tls_verify,
        super::Creds::Stored,
        o.authfile,
        o.cert_dir,
        3,
    )?;
    ops::login(host(&o.registry), &user, &password, &opts)?;
    out!("Login Succeeded!");
    Ok(())
}

pub fn run_logout(o: LogoutOpts) -> Result<()> {
    let opts = super::registry_options(None, super::Creds::Stored, o.authfile, None, 3)?;
    if !ops::logout(host(&o.registry), &opts)? {
        bail!("log out of {}: not logged in", host(&o.registry));
    }
    out!("Removed login credentials for {}", host(&o.registry));
    Ok(())
}
