//! Kerberos under HTTP `Negotiate` (RFC 4559): a SPNEGO (RFC 4178) context for the
//! service `HTTP@<host>` (the host of the URL, as Windows names it), with the ticket
//! in the caller's credential cache, through GSSAPI (libkrb5). Only with the
//! `kerberos` feature; without it every attempt says so and the caller goes on
//! without Kerberos.

/// True when this build speaks Kerberos.
pub const AVAILABLE: bool = cfg!(feature = "kerberos");

/// A client context between its first token and the server's answer.
pub struct Context {
    #[cfg(feature = "kerberos")]
    ctx: libgssapi::context::ClientCtx,
}

/// How the server's answer ended the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutual {
    /// The server's final token verified: it holds the service key.
    Verified,
    /// The server sent no final token: nothing proves who answered but TLS.
    NotSent,
}

#[cfg(feature = "kerberos")]
impl Context {
    /// The context for `HTTP@host` and the first token to send; `Err` says why
    /// Kerberos cannot be used (no ticket, no KDC, no such service principal).
    pub fn start(host: &str) -> Result<(Context, Vec<u8>), String> {
        use libgssapi::context::{ClientCtx, CtxFlags};
        use libgssapi::name::Name;
        use libgssapi::oid::{GSS_MECH_SPNEGO, GSS_NT_HOSTBASED_SERVICE};
        let service = format!("HTTP@{host}");
        let name = Name::new(service.as_bytes(), Some(&GSS_NT_HOSTBASED_SERVICE))
            .map_err(|e| format!("the service name HTTP/{host}: {}", shown(&e)))?;
        let mut ctx = ClientCtx::new(
            None,
            name,
            CtxFlags::GSS_C_MUTUAL_FLAG,
            Some(&GSS_MECH_SPNEGO),
        );
        let token = ctx
            .step(None, None)
            .map_err(|e| format!("no Kerberos ticket for HTTP/{host}: {}", shown(&e)))?
            .map(|t| t.to_vec())
            .ok_or_else(|| format!("GSSAPI produced no token for HTTP/{host}"))?;
        Ok((Context { ctx }, token))
    }

    /// Read the server's final `Negotiate` token (`None`: it sent none).
    pub fn finish(mut self, token: Option<&[u8]>) -> Result<Mutual, String> {
        use libgssapi::context::{CtxFlags, SecurityContext};
        let Some(token) = token else {
            return Ok(Mutual::NotSent);
        };
        match self.ctx.step(Some(token), None) {
            Ok(None) => {}
            Ok(Some(_)) => {
                return Err(
                    "the server's Negotiate token asks for another round, which HTTP cannot carry"
                        .into(),
                );
            }
            Err(e) => {
                return Err(format!(
                    "the server's Negotiate token did not verify: {}",
                    shown(&e)
                ));
            }
        }
        let mutual = self
            .ctx
            .flags()
            .map(|f| f.contains(CtxFlags::GSS_C_MUTUAL_FLAG))
            .unwrap_or(false);
        if self.ctx.is_complete() && mutual {
            Ok(Mutual::Verified)
        } else {
            Err("the server's Negotiate token did not complete mutual authentication".into())
        }
    }
}

/// A GSSAPI status on one line.
#[cfg(feature = "kerberos")]
fn shown(e: &libgssapi::error::Error) -> String {
    crate::text::printable(e.to_string().trim())
}

#[cfg(not(feature = "kerberos"))]
impl Context {
    /// Without the `kerberos` feature: always the reason.
    pub fn start(_host: &str) -> Result<(Context, Vec<u8>), String> {
        Err(WITHOUT.into())
    }

    /// Never reached: `start` made no context.
    pub fn finish(self, _token: Option<&[u8]>) -> Result<Mutual, String> {
        Err(WITHOUT.into())
    }
}

/// Why this build does not use Kerberos.
pub const WITHOUT: &str = "this certgpo was built without the `kerberos` feature";
