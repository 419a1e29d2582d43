//! A TCP forwarder between certgpo and the Samba DC that cuts the connection at a
//! chosen request, so a test can lose the connection part way through a publish with
//! real sockets and a real server.
//!
//! The proxy splits the client's bytes into the protocol's own frames: SMB 2 over
//! direct TCP (a 4-byte length before each message, MS-SMB2 2.1) or TLS records
//! (RFC 8446 5.1, a 5-byte header), and names each SMB 2 request by its command and,
//! for CREATE and a rename, the file (the sessions are signed, not encrypted, so the
//! headers are plain). A [`Cut`] says at which frame to stop: either before the server
//! gets it (the request is never made) or right after (the server acts on it, the
//! client never learns the answer). From then on nothing passes either way and both
//! sockets are closed. Another proxy can be armed by this one, so that "the LDAP modify
//! right after GPT.INI is renamed" is a cut point too.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How the client's byte stream is split into frames.
#[derive(Clone, Copy, Debug)]
pub enum Framing {
    /// SMB 2 over direct TCP.
    Smb,
    /// TLS records (LDAPS).
    Tls,
}

/// Where to cut.
#[derive(Clone, Debug)]
pub struct Cut {
    /// The frame's label contains this (empty: any frame).
    pub label: String,
    /// Cut at the n-th such frame (1-based), counted once the proxy is armed.
    pub nth: usize,
    /// Forward that frame before cutting (the server acts on it, its answer is lost).
    pub deliver: bool,
}

impl Cut {
    pub fn before(label: &str, nth: usize) -> Cut {
        Cut {
            label: label.into(),
            nth,
            deliver: false,
        }
    }

    pub fn after(label: &str, nth: usize) -> Cut {
        Cut {
            label: label.into(),
            nth,
            deliver: true,
        }
    }
}

struct Shared {
    cut: Option<Cut>,
    /// Whether counting towards the cut has started (at once unless armed by another).
    armed: AtomicBool,
    /// Set when the cut happened: nothing passes any more.
    done: AtomicBool,
    seen: Mutex<usize>,
    /// Set when the server answered after the cut (the answer is not passed on).
    answered: (Mutex<bool>, Condvar),
    /// Every client frame's label, in order.
    log: Mutex<Vec<String>>,
    /// Another proxy armed by a frame of this one whose label contains the string.
    arms: Mutex<Option<(String, Arc<Shared>)>>,
}

/// A running proxy. Its threads end with the test process (a listener blocked in
/// accept cannot be stopped); after the cut it refuses every new connection.
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listen on `bind` (a free port of the DC's address), forward to `server`.
    pub fn start(
        bind: std::net::IpAddr,
        server: SocketAddr,
        framing: Framing,
        cut: Option<Cut>,
        armed: bool,
    ) -> Proxy {
        let listener = TcpListener::bind(SocketAddr::new(bind, 0)).expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            cut,
            armed: AtomicBool::new(armed),
            done: AtomicBool::new(false),
            seen: Mutex::new(0),
            answered: (Mutex::new(false), Condvar::new()),
            log: Mutex::new(Vec::new()),
            arms: Mutex::new(None),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if s.done.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(upstream) = TcpStream::connect(server) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                let s2 = s.clone();
                let (c2, u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || back(u2, c2, &s2));
                let s3 = s.clone();
                std::thread::spawn(move || forth(client, upstream, framing, &s3));
            }
        });
        Proxy { addr, shared }
    }

    /// When a client frame of this proxy has `label` in its label, `other` is armed.
    pub fn arm_on(&self, label: &str, other: &Proxy) {
        *self.shared.arms.lock().unwrap() = Some((label.into(), other.shared.clone()));
    }

    /// Whether the cut happened.
    pub fn cut(&self) -> bool {
        self.shared.done.load(Ordering::SeqCst)
    }

    /// The labels of every client frame seen.
    pub fn log(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }
}

/// Server to client: copied until the cut.
fn back(mut from: TcpStream, mut to: TcpStream, s: &Shared) {
    let mut buf = [0u8; 16384];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if s.done.load(Ordering::SeqCst) {
            let (lock, cond) = &s.answered;
            *lock.lock().unwrap() = true;
            cond.notify_all();
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// Client to server, frame by frame, cutting where told.
fn forth(mut from: TcpStream, mut to: TcpStream, framing: Framing, s: &Shared) {
    let header = match framing {
        Framing::Smb => 4,
        Framing::Tls => 5,
    };
    loop {
        let mut head = vec![0u8; header];
        if from.read_exact(&mut head).is_err() {
            break;
        }
        let len = match framing {
            Framing::Smb => u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize,
            Framing::Tls => u16::from_be_bytes([head[3], head[4]]) as usize,
        };
        let mut body = vec![0u8; len];
        if from.read_exact(&mut body).is_err() {
            break;
        }
        if s.done.load(Ordering::SeqCst) {
            break;
        }
        let label = match framing {
            Framing::Smb => smb_label(&body),
            Framing::Tls => format!("TLS type {} len {len}", head[0]),
        };
        s.log.lock().unwrap().push(label.clone());
        if let Some((on, other)) = &*s.arms.lock().unwrap()
            && label.contains(on.as_str())
        {
            other.armed.store(true, Ordering::SeqCst);
        }
        let cut_here = match &s.cut {
            Some(c) if s.armed.load(Ordering::SeqCst) && label.contains(c.label.as_str()) => {
                let mut seen = s.seen.lock().unwrap();
                *seen += 1;
                (*seen == c.nth).then_some(c.deliver)
            }
            _ => None,
        };
        match cut_here {
            Some(deliver) => {
                if !deliver {
                    s.done.store(true, Ordering::SeqCst);
                } else {
                    // The answer must not get through: the flag is set before the
                    // request leaves.
                    s.done.store(true, Ordering::SeqCst);
                    let _ = to.write_all(&head);
                    let _ = to.write_all(&body);
                    let _ = to.flush();
                    // The close must reach the server after it acted on the request:
                    // wait for its answer (which the client never gets).
                    let (lock, cond) = &s.answered;
                    let answered = lock.lock().unwrap();
                    let _ = cond
                        .wait_timeout_while(answered, Duration::from_secs(20), |a| !*a)
                        .unwrap();
                }
                break;
            }
            None => {
                if to.write_all(&head).is_err() || to.write_all(&body).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// An SMB 2 request as a label: `CREATE <name>`, `SET_INFO rename <name>`,
/// `SET_INFO delete`, or the command's name.
fn smb_label(msg: &[u8]) -> String {
    if msg.get(..4) == Some(b"\xfdSMB") {
        // A transform header (MS-SMB2 2.2.41): only the plain message's size shows.
        let size = msg
            .get(36..40)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        return format!("encrypted {size}");
    }
    if msg.get(..4) != Some(b"\xfeSMB") {
        return format!("not SMB2 ({:02x?})", msg.get(..4).unwrap_or_default());
    }
    let u16_at = |o: usize| {
        msg.get(o..o + 2)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |o: usize| {
        msg.get(o..o + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let wide = |at: usize, len: usize| {
        let units: Vec<u16> = msg
            .get(at..at + len)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    };
    let body = 64;
    match u16_at(12) {
        0 => "NEGOTIATE".into(),
        1 => "SESSION_SETUP".into(),
        2 => "LOGOFF".into(),
        3 => "TREE_CONNECT".into(),
        4 => "TREE_DISCONNECT".into(),
        5 => format!("CREATE {}", wide(u16_at(body + 44), u16_at(body + 46))),
        6 => "CLOSE".into(),
        7 => "FLUSH".into(),
        8 => "READ".into(),
        9 => "WRITE".into(),
        14 => "QUERY_DIRECTORY".into(),
        16 => "QUERY_INFO".into(),
        17 => match msg.get(body + 3) {
            // FileRenameInformation (MS-FSCC 2.4.37): the name follows a 20-byte head.
            Some(10) => {
                let at = u16_at(body + 8);
                format!("SET_INFO rename {}", wide(at + 20, u32_at(at + 16)))
            }
            Some(13) => "SET_INFO delete".into(),
            other => format!("SET_INFO class {other:?}"),
        },
        c => format!("command {c}"),
    }
}
