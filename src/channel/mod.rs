//! The same trust set for machines Group Policy does not reach: an Intune profile for
//! Windows, a configuration profile for macOS, anchors and a script for Linux, and
//! Ansible playbooks for Windows hosts managed from Linux. Each format is one module that
//! writes its files from the certificates and the stores the build chose, so every
//! channel carries exactly what the GPO carries (or refuses what it cannot express).
//!
//! Names chosen by whoever made a certificate or typed `--gpo-name` reach an XML plist,
//! YAML, JSON and a shell script: each writer quotes for its language, after
//! [`label_text`] has removed what none of them can hold.

pub mod ansible;
pub mod intune;
pub mod linux;
pub mod mobileconfig;

use std::collections::BTreeSet;

use serde::Serialize;
use uuid::Uuid;

use crate::cert::Certificate;
use crate::store::Store;

/// A channel a bundle can carry besides the GPO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    Intune,
    Macos,
    Linux,
    Ansible,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Intune,
        Channel::Macos,
        Channel::Linux,
        Channel::Ansible,
    ];

    /// The name on the command line (and of the channel's folder in the bundle).
    pub fn name(self) -> &'static str {
        match self {
            Channel::Intune => "intune",
            Channel::Macos => "macos",
            Channel::Linux => "linux",
            Channel::Ansible => "ansible",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Channel::Intune => {
                "Microsoft Graph trusted-certificate profiles and RootCATrustedCertificates OMA-URI settings"
            }
            Channel::Macos => "A configuration profile (.mobileconfig) for macOS",
            Channel::Linux => {
                "PEM anchors and an install/remove script for Debian, RHEL and SUSE families"
            }
            Channel::Ansible => {
                "Playbooks that add (and remove) the certificates with win_certificate_store"
            }
        }
    }
}

/// What `--channel` accepts: one channel, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelChoice {
    All,
    One(Channel),
}

impl crate::named::Named for ChannelChoice {
    const ALL: &'static [ChannelChoice] = &[
        ChannelChoice::One(Channel::Intune),
        ChannelChoice::One(Channel::Macos),
        ChannelChoice::One(Channel::Linux),
        ChannelChoice::One(Channel::Ansible),
        ChannelChoice::All,
    ];

    fn name(self) -> &'static str {
        match self {
            ChannelChoice::All => "all",
            ChannelChoice::One(c) => c.name(),
        }
    }

    fn help(self) -> &'static str {
        match self {
            ChannelChoice::All => "Every channel above",
            ChannelChoice::One(c) => c.help(),
        }
    }
}

/// The channels a build writes besides the GPO, and their options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub channels: BTreeSet<Channel>,
    /// The macOS profile carries `PayloadRemovalDisallowed` true.
    pub macos_locked: bool,
}

impl Selection {
    /// The channels named (none: the GPO alone), checked against their options.
    pub fn new(choices: &[ChannelChoice], macos_locked: bool) -> Result<Selection, ChannelError> {
        let mut channels = BTreeSet::new();
        for choice in choices {
            match choice {
                ChannelChoice::All => channels.extend(Channel::ALL),
                ChannelChoice::One(c) => {
                    channels.insert(*c);
                }
            }
        }
        if macos_locked && !channels.contains(&Channel::Macos) {
            return Err(ChannelError::LockedWithoutProfile);
        }
        Ok(Selection {
            channels,
            macos_locked,
        })
    }

    pub fn has(&self, channel: Channel) -> bool {
        self.channels.contains(&channel)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error(
        "--channel {channel}: certificate {thumbprint} ({subject}) goes to the {store} store, which {format} cannot express"
    )]
    Unsupported {
        channel: &'static str,
        format: &'static str,
        thumbprint: String,
        subject: String,
        store: &'static str,
    },
    #[error("--macos-locked applies to the macOS profile, which --channel does not select")]
    LockedWithoutProfile,
}

impl crate::Diagnostic for ChannelError {
    fn hint(&self) -> Option<String> {
        match self {
            ChannelError::Unsupported { .. } => Some(
                "build that channel from Root and CA certificates only (--store auto), \
                 or leave it out of --channel; the GPO and --channel ansible carry every store"
                    .into(),
            ),
            ChannelError::LockedWithoutProfile => Some("add --channel macos".into()),
        }
    }
}

/// One certificate and the Windows store the build put it in.
pub struct Anchor<'a> {
    pub cert: &'a Certificate,
    pub store: Store,
}

/// What every channel is written from: the build's certificates and the GPO's identity.
pub struct TrustSet<'a> {
    /// In the GPO's order.
    pub anchors: Vec<Anchor<'a>>,
    pub gpo_name: &'a str,
    /// The GPO GUID: the namespace of the channels' UUID v5 identifiers, so that a
    /// rebuild of the same GPO replaces what an earlier build installed.
    pub gpo_guid: Uuid,
    /// `--friendly-name`, shown in place of the subject where a channel names a certificate.
    pub friendly_name: Option<&'a str>,
    /// certgpo's version, named in the files.
    pub version: &'a str,
}

impl TrustSet<'_> {
    /// How a channel names a certificate to people: the friendly name, else the subject.
    fn label(&self, anchor: &Anchor) -> String {
        label_text(self.friendly_name.unwrap_or(&anchor.cert.subject_display))
    }

    /// The anchors a channel that knows only Root and CA can carry, refusing the others.
    fn root_and_ca(
        &self,
        channel: Channel,
        format: &'static str,
    ) -> Result<&[Anchor<'_>], ChannelError> {
        match self
            .anchors
            .iter()
            .find(|a| !matches!(a.store, Store::Root | Store::Ca))
        {
            Some(a) => Err(ChannelError::Unsupported {
                channel: channel.name(),
                format,
                thumbprint: a.cert.thumbprint(),
                subject: crate::text::printable(&a.cert.subject),
                store: a.store.console_name(),
            }),
            None => Ok(&self.anchors),
        }
    }
}

/// A name as every channel's language can hold it: no control characters (YAML, XML 1.0
/// and a one-line shell string have no safe form for them) and no noncharacters U+FFFE
/// and U+FFFF, which XML 1.0 and YAML exclude; each becomes U+FFFD.
pub fn label_text(s: &str) -> String {
    crate::text::xml_chars(&crate::text::printable(s)).into_owned()
}

/// Standard base64 with padding, on one line.
fn base64(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// The files of the selected channels, by path in the bundle.
pub fn render(
    selection: &Selection,
    set: &TrustSet,
) -> Result<Vec<(String, Vec<u8>)>, ChannelError> {
    let mut files = Vec::new();
    for channel in &selection.channels {
        let mut written = match channel {
            Channel::Intune => intune::files(set)?,
            Channel::Macos => mobileconfig::files(set, selection.macos_locked)?,
            Channel::Linux => linux::files(set)?,
            Channel::Ansible => ansible::files(set),
        };
        files.append(&mut written);
    }
    Ok(files)
}

/// What the bundle's README.txt says about the channels.
#[derive(Serialize)]
pub struct Summary {
    pub intune: bool,
    pub macos: bool,
    pub macos_locked: bool,
    pub linux: bool,
    /// Thumbprints the Linux channel leaves out: CA certificates are not trust anchors.
    pub linux_skipped: Vec<String>,
    pub ansible: bool,
    pub any: bool,
}

impl Summary {
    pub fn new(selection: &Selection, set: &TrustSet) -> Summary {
        Summary {
            intune: selection.has(Channel::Intune),
            macos: selection.has(Channel::Macos),
            macos_locked: selection.macos_locked,
            linux: selection.has(Channel::Linux),
            linux_skipped: if selection.has(Channel::Linux) {
                linux::skipped(set)
            } else {
                Vec::new()
            },
            ansible: selection.has(Channel::Ansible),
            any: !selection.channels.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_selects_every_channel_and_lock_needs_the_profile() {
        let all = Selection::new(&[ChannelChoice::All], false).unwrap();
        assert_eq!(all.channels.len(), Channel::ALL.len());
        let none = Selection::new(&[], false).unwrap();
        assert!(none.channels.is_empty());
        assert!(matches!(
            Selection::new(&[ChannelChoice::One(Channel::Linux)], true),
            Err(ChannelError::LockedWithoutProfile)
        ));
    }

    #[test]
    fn labels_lose_what_no_format_holds() {
        assert_eq!(label_text("a\nb\u{FFFE}c'd"), "a\u{FFFD}b\u{FFFD}c'd");
    }
}
