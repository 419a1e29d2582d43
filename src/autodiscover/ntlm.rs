//! A small NTLMv2 client (MS-NLMP): the NEGOTIATE message, the server's CHALLENGE read
//! in codec style, and the AUTHENTICATE message with an NTLMv2 response (MS-NLMP
//! 3.3.2). No signing or sealing: HTTP authentication needs neither, and TLS protects
//! the connection. No MIC either: the client never announces one (MsvAvFlags).

use hmac::{Hmac, KeyInit, Mac};
use md4::{Digest, Md4};
use md5::Md5;

use crate::codec::{Reader, Short};

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

const NEGOTIATE_UNICODE: u32 = 0x0000_0001;
const REQUEST_TARGET: u32 = 0x0000_0004;
const NEGOTIATE_NTLM: u32 = 0x0000_0200;
const ALWAYS_SIGN: u32 = 0x0000_8000;
const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
const NEGOTIATE_TARGET_INFO: u32 = 0x0080_0000;
const NEGOTIATE_128: u32 = 0x2000_0000;
const NEGOTIATE_56: u32 = 0x8000_0000;

const FLAGS: u32 = NEGOTIATE_UNICODE
    | REQUEST_TARGET
    | NEGOTIATE_NTLM
    | ALWAYS_SIGN
    | EXTENDED_SESSIONSECURITY
    | NEGOTIATE_TARGET_INFO
    | NEGOTIATE_128
    | NEGOTIATE_56;

/// MsvAvEOL and MsvAvTimestamp (MS-NLMP 2.2.2.1).
const AV_EOL: u16 = 0;
const AV_TIMESTAMP: u16 = 7;
/// A TargetInfo larger than this is refused; real ones are a few hundred bytes.
const MAX_TARGET_INFO: usize = 4096;

/// The NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1), without domain, workstation or version.
pub fn negotiate() -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&FLAGS.to_le_bytes());
    m.extend_from_slice(&[0; 16]);
    m
}

/// What the server's CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) carries that the answer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub flags: u32,
    pub server_challenge: [u8; 8],
    /// The AV pairs, as sent; they go back inside the NTLMv2 response.
    pub target_info: Vec<u8>,
    /// MsvAvTimestamp, if the server sent one (FILETIME).
    pub timestamp: Option<u64>,
    /// The NetBIOS domain the server names (TargetName), for messages.
    pub target_name: String,
}

/// A field's (length, offset) and the bytes it points to in `msg`.
fn field<'a>(r: &mut Reader<'_>, msg: &'a [u8], what: &str) -> Result<&'a [u8], Short> {
    let at = r.offset();
    let len = usize::from(r.u16_le(what)?);
    let _max = r.u16_le(what)?;
    let offset = r.u32_le(what)? as usize;
    offset
        .checked_add(len)
        .and_then(|end| msg.get(offset..end))
        .ok_or(Short {
            offset: at,
            expected: format!("{what}: {len} bytes at offset {offset}, beyond the message"),
        })
}

/// Read a CHALLENGE_MESSAGE.
pub fn parse_challenge(msg: &[u8]) -> Result<Challenge, Short> {
    let mut r = Reader::new(msg);
    r.expect(SIGNATURE, "the NTLMSSP signature")?;
    r.expect(&2u32.to_le_bytes(), "message type 2 (CHALLENGE)")?;
    let target_name = field(&mut r, msg, "TargetNameFields")?;
    let flags = r.u32_le("NegotiateFlags")?;
    let mut server_challenge = [0u8; 8];
    server_challenge.copy_from_slice(r.take(8, "ServerChallenge")?);
    r.take(8, "Reserved")?;
    let target_info = field(&mut r, msg, "TargetInfoFields")?;
    if target_info.len() > MAX_TARGET_INFO {
        return Err(r.short(format!("a TargetInfo of at most {MAX_TARGET_INFO} bytes")));
    }
    // The AV pairs: a list ended by MsvAvEOL.
    let mut timestamp = None;
    let mut av = Reader::new(target_info);
    loop {
        let id = av.u16_le("AvId")?;
        let len = usize::from(av.u16_le("AvLen")?);
        let value = av.take(len, "an AV pair's value")?;
        match id {
            AV_EOL => break,
            AV_TIMESTAMP => {
                let b: [u8; 8] = value
                    .try_into()
                    .map_err(|_| av.short("an 8-byte MsvAvTimestamp"))?;
                timestamp = Some(u64::from_le_bytes(b));
            }
            _ => {}
        }
    }
    let target_name = if flags & NEGOTIATE_UNICODE != 0 {
        crate::codec::from_utf16le(target_name).unwrap_or_default()
    } else {
        String::from_utf8_lossy(target_name).into_owned()
    };
    Ok(Challenge {
        flags,
        server_challenge,
        target_info: target_info.to_vec(),
        timestamp,
        target_name,
    })
}

/// The account as NTLM sends it: `DOMAIN\user`, or a UPN `user@domain` with an empty domain.
pub fn split_account(account: &str) -> (&str, &str) {
    match account.split_once('\\') {
        Some((domain, user)) => (domain, user),
        None => ("", account),
    }
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts a key of any length: this cannot fail.
    let Ok(mut mac) = <Hmac<Md5> as KeyInit>::new_from_slice(key) else {
        return [0; 16];
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// NTOWFv2 (MS-NLMP 3.3.2).
pub fn ntowf_v2(password: &str, user: &str, domain: &str) -> [u8; 16] {
    let nt_hash: [u8; 16] = Md4::digest(crate::codec::utf16le(password)).into();
    let identity = crate::codec::utf16le(&format!("{}{domain}", user.to_uppercase()));
    hmac_md5(&nt_hash, &[&identity])
}

/// Seconds from 1601 (FILETIME's epoch) to 1970, in 100 ns units.
const FILETIME_UNIX: u64 = 116_444_736_000_000_000;

/// The current time as a FILETIME.
pub fn filetime_now() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() / 100)
        .unwrap_or_default();
    FILETIME_UNIX + u64::try_from(since).unwrap_or_default()
}

/// The AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3) answering `challenge` for `account`.
pub fn authenticate(
    challenge: &Challenge,
    account: &str,
    password: &str,
    client_challenge: [u8; 8],
    now: u64,
) -> Vec<u8> {
    let (domain, user) = split_account(account);
    let key = ntowf_v2(password, user, domain);
    let timestamp = challenge.timestamp.unwrap_or(now);
    let mut temp = vec![1, 1, 0, 0, 0, 0, 0, 0];
    temp.extend_from_slice(&timestamp.to_le_bytes());
    temp.extend_from_slice(&client_challenge);
    temp.extend_from_slice(&[0; 4]);
    temp.extend_from_slice(&challenge.target_info);
    temp.extend_from_slice(&[0; 4]);
    let proof = hmac_md5(&key, &[&challenge.server_challenge, &temp]);
    let mut nt = proof.to_vec();
    nt.extend_from_slice(&temp);
    // With a server timestamp the LM response is all zeros (MS-NLMP 3.1.5.1.2).
    let lm = if challenge.timestamp.is_some() {
        vec![0; 24]
    } else {
        let mut lm = hmac_md5(&key, &[&challenge.server_challenge, &client_challenge]).to_vec();
        lm.extend_from_slice(&client_challenge);
        lm
    };
    let fields: [Vec<u8>; 5] = [
        lm,
        nt,
        crate::codec::utf16le(domain),
        crate::codec::utf16le(user),
        Vec::new(), // workstation
    ];
    const HEADER: usize = 64;
    let mut m = Vec::new();
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&3u32.to_le_bytes());
    let mut offset = HEADER;
    let mut payload = Vec::new();
    for f in fields.iter().chain(std::iter::once(&Vec::new())) {
        let len = u16::try_from(f.len()).unwrap_or(u16::MAX);
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&len.to_le_bytes());
        m.extend_from_slice(&u32::try_from(offset).unwrap_or(u32::MAX).to_le_bytes());
        offset += f.len();
        payload.extend_from_slice(f);
    }
    let flags = FLAGS & (challenge.flags | NEGOTIATE_UNICODE);
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&payload);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MS-NLMP 4.2.4.1.1: NTOWFv2 of User/Password in Domain.
    #[test]
    fn ntowf_v2_matches_the_specification() {
        assert_eq!(
            crate::hex::upper(&ntowf_v2("Password", "User", "Domain")),
            "0C868A403BFD7A93A3001EF22EF02E3F"
        );
    }

    /// MS-NLMP 4.2.4: the NTProofStr of the specification's example.
    #[test]
    fn ntlmv2_response_matches_the_specification() {
        // The AV pairs of 4.2.4 (MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server").
        let mut info = Vec::new();
        for (id, text) in [(2u16, "Domain"), (1u16, "Server")] {
            let v = crate::codec::utf16le(text);
            info.extend_from_slice(&id.to_le_bytes());
            info.extend_from_slice(&(v.len() as u16).to_le_bytes());
            info.extend_from_slice(&v);
        }
        info.extend_from_slice(&[0; 4]);
        let challenge = Challenge {
            flags: FLAGS,
            server_challenge: [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            target_info: info,
            timestamp: None,
            target_name: "Domain".into(),
        };
        let msg = authenticate(&challenge, "Domain\\User", "Password", [0xaa; 8], 0);
        // NtChallengeResponseFields: length at 20, offset at 24.
        let off = u32::from_le_bytes(msg[24..28].try_into().unwrap()) as usize;
        assert_eq!(
            crate::hex::upper(&msg[off..off + 16]),
            "68CD0AB851E51C96AABC927BEBEF6A1C"
        );
        let lm_off = u32::from_le_bytes(msg[16..20].try_into().unwrap()) as usize;
        assert_eq!(
            crate::hex::upper(&msg[lm_off..lm_off + 16]),
            "86C35097AC9CEC102554764A57CCCC19"
        );
    }

    #[test]
    fn challenges_are_read_bounded() {
        let mut msg = Vec::new();
        msg.extend_from_slice(SIGNATURE);
        msg.extend_from_slice(&2u32.to_le_bytes());
        msg.extend_from_slice(&[0, 0, 0, 0, 48, 0, 0, 0]);
        msg.extend_from_slice(&FLAGS.to_le_bytes());
        msg.extend_from_slice(&[7; 8]);
        msg.extend_from_slice(&[0; 8]);
        msg.extend_from_slice(&[12, 0, 12, 0, 48, 0, 0, 0]);
        msg.extend_from_slice(&[7, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        let c = parse_challenge(&msg).unwrap_err();
        assert!(c.expected.contains("AvId"), "{c}");
        msg[40] = 16;
        msg.extend_from_slice(&[0; 4]);
        let c = parse_challenge(&msg).unwrap();
        assert_eq!(c.server_challenge, [7; 8]);
        assert_eq!(c.timestamp, Some(0x0807060504030201));
        // A field pointing past the end.
        msg[44] = 200;
        assert!(parse_challenge(&msg).is_err());
        assert!(parse_challenge(b"NTLMSSP\0").is_err());
    }
}
