//! The Autodiscover "plain old XML" exchange of MS-OXDISCO: the request Outlook POSTs
//! (MS-OXDSCLI 2.2.3, request schema 2006) and the response it reads (response schema
//! 2006a): a redirect (`redirectUrl`, `redirectAddr`), the settings with one `Protocol`
//! section per way of reaching the mailbox (`EXCH`, `EXPR`, `WEB`...), or an error.
//! The reader is the GPO files' walker (`gpo::xml`: no DTD, bounded depth), with
//! bounds of its own on how much it keeps.

use serde::Serialize;

use crate::gpo::xml::{self, Node};

const REQUEST_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
/// The schema Outlook accepts; the answer names its protocol sections in it.
pub const RESPONSE_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// At most this many protocol sections, and this many names/URLs each, are kept.
const MAX_PROTOCOLS: usize = 64;
const MAX_ENTRIES: usize = 256;
/// A value longer than this is cut: no URL or host name of a real answer comes near it.
const MAX_VALUE: usize = 2048;

/// The request body for `email`.
pub fn request(email: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n\
         <Autodiscover xmlns=\"{REQUEST_SCHEMA}\">\r\n  <Request>\r\n    \
         <EMailAddress>{}</EMailAddress>\r\n    \
         <AcceptableResponseSchema>{RESPONSE_SCHEMA}</AcceptableResponseSchema>\r\n  \
         </Request>\r\n</Autodiscover>\r\n",
        xml::text(email)
    )
}

/// The email address of a request body, as a server reads it (for tests and fuzzing
/// of the writer against the reader).
pub fn requested_address(body: &[u8]) -> Option<String> {
    let mut found = None;
    xml::walk(body, "the Autodiscover request", "Autodiscover", |node| {
        if let Node::Close { path, text } = node
            && path.last().is_some_and(|n| n == "EMailAddress")
        {
            found = Some(text.to_string());
        }
        Ok(())
    })
    .ok()?;
    found
}

/// What a server answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Answer {
    /// Ask this HTTPS URL instead, with the same address.
    RedirectUrl { url: String },
    /// Start over with this email address.
    RedirectAddr { address: String },
    Settings {
        display_name: Option<String>,
        protocols: Vec<Protocol>,
    },
    /// An `<Error>`: MS-OXDSCLI 2.2.4.2 (600 invalid request, 601 provider unavailable...).
    Error { code: String, message: String },
}

/// One `<Protocol>` section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Protocol {
    /// `<Type>` (or the `Type` attribute of the 2013 schema): EXCH, EXPR, WEB, mapiHttp...
    #[serde(rename = "type")]
    pub kind: String,
    pub entries: Vec<Entry>,
}

/// A server name or URL of a protocol section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The element path inside the section: `EwsUrl`, `Server`, `Internal OWAUrl`.
    pub name: String,
    pub value: String,
}

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PoxError(pub String);

/// Elements whose text is a host or a URL Outlook connects to.
fn is_endpoint(name: &str) -> bool {
    name.ends_with("Url") || name == "Server" || name == "PublicFolderServer"
}

/// Read a response body.
pub fn parse(body: &[u8]) -> Result<Answer, PoxError> {
    let mut action: Option<String> = None;
    let mut redirect_url = None;
    let mut redirect_addr = None;
    let mut display_name = None;
    let mut error: Option<(String, String)> = None;
    let mut protocols: Vec<Protocol> = Vec::new();
    // Depth (path length) of the open top-level <Protocol>, if any.
    let mut open_protocol: Option<usize> = None;
    let mut too_many = false;
    xml::walk(body, "the Autodiscover response", "Autodiscover", |node| {
        match node {
            Node::Open { path, attrs } => {
                if path.last().is_some_and(|n| n == "Protocol") && open_protocol.is_none() {
                    if protocols.len() == MAX_PROTOCOLS {
                        too_many = true;
                    } else {
                        open_protocol = Some(path.len());
                        protocols.push(Protocol {
                            kind: crate::text::cut(xml::attr(attrs, "Type"), MAX_VALUE),
                            entries: Vec::new(),
                        });
                    }
                }
                if path.last().is_some_and(|n| n == "Error") {
                    error.get_or_insert_default();
                }
            }
            Node::Close { path, text } => {
                let name = path.last().map(String::as_str).unwrap_or_default();
                let value = crate::text::cut(text.trim(), MAX_VALUE);
                match (open_protocol, name) {
                    (Some(depth), "Protocol") if path.len() == depth => open_protocol = None,
                    (Some(depth), _) => {
                        if let Some(p) = protocols.last_mut() {
                            let inner: Vec<&str> = path
                                .get(depth..)
                                .unwrap_or_default()
                                .iter()
                                .map(String::as_str)
                                .filter(|n| *n != "Protocol")
                                .collect();
                            if inner.len() == 1 && name == "Type" && p.kind.is_empty() {
                                p.kind = value;
                            } else if is_endpoint(name) && !value.is_empty() {
                                if p.entries.len() == MAX_ENTRIES {
                                    too_many = true;
                                } else {
                                    p.entries.push(Entry {
                                        name: inner.join(" "),
                                        value,
                                    });
                                }
                            }
                        }
                    }
                    (None, "Action") => action = Some(value),
                    (None, "RedirectUrl") => redirect_url = Some(value),
                    (None, "RedirectAddr") => redirect_addr = Some(value),
                    (None, "DisplayName") => display_name = Some(value),
                    (None, "ErrorCode") => {
                        if let Some(e) = error.as_mut() {
                            e.0 = value;
                        }
                    }
                    (None, "Message") => {
                        if let Some(e) = error.as_mut() {
                            e.1 = value;
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    })
    .map_err(|e| PoxError(e.to_string()))?;
    if too_many {
        return Err(PoxError(format!(
            "more than {MAX_PROTOCOLS} protocol sections or {MAX_ENTRIES} URLs in one; no Exchange answers that"
        )));
    }
    if let Some((code, message)) = error {
        return Ok(Answer::Error { code, message });
    }
    let need = |v: Option<String>, what: &str| {
        v.filter(|s| !s.is_empty())
            .ok_or_else(|| PoxError(format!("Action {what} without a <{what}> element")))
    };
    match action.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("redirecturl") => Ok(Answer::RedirectUrl {
            url: need(redirect_url, "RedirectUrl")?,
        }),
        Some("redirectaddr") => Ok(Answer::RedirectAddr {
            address: need(redirect_addr, "RedirectAddr")?,
        }),
        // Exchange 2007 answers settings with no <Action>: its protocols are the answer.
        Some("settings") | None if !protocols.is_empty() => Ok(Answer::Settings {
            display_name,
            protocols,
        }),
        Some(other) => Err(PoxError(format!(
            "unknown <Action> {:?}",
            crate::text::cut(other, 60)
        ))),
        None => Err(PoxError(
            "an answer with no <Action>, no <Protocol> and no <Error>".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <User><DisplayName>Ann</DisplayName></User>
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol>
        <Type>EXCH</Type>
        <Server>EX2010.contoso.com</Server>
        <ASUrl>https://ex2010.contoso.com/EWS/Exchange.asmx</ASUrl>
        <OABUrl>https://oab.contoso.com/OAB/x/</OABUrl>
      </Protocol>
      <Protocol Type="EXPR"><Server>mail.contoso.com</Server></Protocol>
      <Protocol>
        <Type>WEB</Type>
        <Internal>
          <OWAUrl AuthenticationMethod="Basic, Fba">https://owa.contoso.com/owa/</OWAUrl>
          <Protocol><Type>EXCH</Type><ASUrl>https://ex2010.contoso.com/EWS/Exchange.asmx</ASUrl></Protocol>
        </Internal>
      </Protocol>
    </Account>
  </Response>
</Autodiscover>"#;

    #[test]
    fn settings_with_every_section() {
        let Answer::Settings {
            display_name,
            protocols,
        } = parse(SETTINGS.as_bytes()).unwrap()
        else {
            panic!("settings")
        };
        assert_eq!(display_name.as_deref(), Some("Ann"));
        let kinds: Vec<&str> = protocols.iter().map(|p| p.kind.as_str()).collect();
        assert_eq!(kinds, ["EXCH", "EXPR", "WEB"]);
        assert_eq!(protocols[0].entries.len(), 3);
        assert_eq!(protocols[1].entries[0].value, "mail.contoso.com");
        let web: Vec<&str> = protocols[2]
            .entries
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(web, ["Internal OWAUrl", "Internal ASUrl"]);
    }

    #[test]
    fn redirects_and_errors() {
        let wrap = |inner: &str| {
            format!(
                "<Autodiscover xmlns=\"x\"><Response><Account>{inner}</Account></Response></Autodiscover>"
            )
        };
        assert_eq!(
            parse(
                wrap("<Action>redirectUrl</Action><RedirectUrl>https://b/</RedirectUrl>")
                    .as_bytes()
            ),
            Ok(Answer::RedirectUrl {
                url: "https://b/".into()
            })
        );
        assert_eq!(
            parse(
                wrap("<Action>redirectAddr</Action><RedirectAddr>a@b.test</RedirectAddr>")
                    .as_bytes()
            ),
            Ok(Answer::RedirectAddr {
                address: "a@b.test".into()
            })
        );
        assert!(parse(wrap("<Action>redirectUrl</Action>").as_bytes()).is_err());
        let err = "<Autodiscover><Response><Error Time=\"1\" Id=\"2\"><ErrorCode>600</ErrorCode><Message>Invalid Request</Message></Error></Response></Autodiscover>";
        assert_eq!(
            parse(err.as_bytes()),
            Ok(Answer::Error {
                code: "600".into(),
                message: "Invalid Request".into()
            })
        );
        assert!(parse(b"<html>no</html>").is_err());
        assert!(parse(b"").is_err());
    }

    #[test]
    fn the_request_carries_the_address_escaped() {
        let body = request("a&b@contoso.com");
        assert!(body.contains("a&amp;b@contoso.com"));
        assert_eq!(
            requested_address(body.as_bytes()).as_deref(),
            Some("a&b@contoso.com")
        );
    }
}
