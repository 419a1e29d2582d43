//! The connection options `fetch`, `build --fetch` and `discover` share.

use clap::Args;

use certgpo::fetch::{FetchError, FetchOptions, Proxy};

/// How `fetch` and `build --fetch` connect to servers.
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Server name to send (SNI) instead of the target's host name; also lets an IP target present a name
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,

    /// Deadline for each target as a whole: connect, STARTTLS, TLS 1.0-1.2 and the TLS 1.3 retry (e.g. 5s, 500ms)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = certgpo::fetch::parse_duration)]
    pub timeout: std::time::Duration,

    /// Deadline for each TCP connection attempt (per resolved address)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = certgpo::fetch::parse_duration)]
    pub connect_timeout: std::time::Duration,

    /// Targets fetched at the same time
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,

    /// Connect through this HTTP CONNECT proxy (http://host:port); HTTPS_PROXY and friends are never used
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
}

impl ConnectArgs {
    /// The library's connection options; refuses a zero `--concurrency` and a bad `--proxy`.
    pub fn options(&self) -> Result<FetchOptions, FetchError> {
        if self.concurrency == 0 {
            return Err(FetchError::Usage("--concurrency must be at least 1".into()));
        }
        Ok(FetchOptions {
            sni: self.sni.clone(),
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            concurrency: self.concurrency,
            proxy: self.proxy.as_deref().map(Proxy::parse).transpose()?,
        })
    }
}
