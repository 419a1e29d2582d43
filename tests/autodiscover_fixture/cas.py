#!/usr/bin/python3
"""Exchange Client Access stand-ins for certgpo's Autodiscover tests.

One process serves every host of a test, each on its own port, plus a DNS server
naming them all 127.0.0.1. The Autodiscover servers speak the POX protocol of
MS-OXDISCO / MS-OXDSCLI: they read the request's EMailAddress and answer with
redirectUrl, redirectAddr, settings (EXCH/EXPR/WEB protocol sections) or an error.
Authentication is checked independently of certgpo: NTLMv2 with impacket (message
parsing and NTOWFv2), Basic, and Kerberos under Negotiate (RFC 4559): MIT GSSAPI
through python3-gssapi and the service's keytab (a server's "keytab"). Every request
is logged as a JSON line, so a test can prove what a server saw (or that it saw no
credentials at all).

Usage: cas.py CONFIG.json   (prints "ready" once every port listens)
"""

import base64
import hmac
import json
import os
import re
import socket
import socketserver
import ssl
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from impacket import ntlm

CONFIG = json.load(open(sys.argv[1]))
for _conf in CONFIG["servers"]:
    if _conf.get("keytab"):
        # The acceptor's key (HTTP/<host>) and the realm's krb5.conf, read by libkrb5.
        os.environ["KRB5_KTNAME"] = "FILE:" + _conf["keytab"]
        os.environ["KRB5_CONFIG"] = _conf["krb5_conf"]
        os.environ["KRB5RCACHETYPE"] = "none"
LOG_LOCK = threading.Lock()

RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


def log(entry):
    with LOG_LOCK:
        with open(CONFIG["log"], "a") as f:
            f.write(json.dumps(entry) + "\n")


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pox_answer(mailbox):
    """The response body for one mailbox's entry in the config."""
    if "redirectUrl" in mailbox:
        account = ("<Action>redirectUrl</Action><RedirectUrl>%s</RedirectUrl>"
                   % esc(mailbox["redirectUrl"]))
    elif "redirectAddr" in mailbox:
        account = ("<Action>redirectAddr</Action><RedirectAddr>%s</RedirectAddr>"
                   % esc(mailbox["redirectAddr"]))
    else:
        sections = []
        for proto in mailbox["settings"]:
            inner = "".join("<%s>%s</%s>" % (k, esc(v), k) for k, v in proto.get("entries", []))
            for place in ("Internal", "External"):
                if place in proto:
                    inner += "<%s>%s</%s>" % (place, "".join(
                        '<OWAUrl AuthenticationMethod="Basic, Fba">%s</OWAUrl>' % esc(u)
                        for u in proto[place]), place)
            sections.append("<Protocol><Type>%s</Type>%s</Protocol>" % (proto["type"], inner))
        account = ("<AccountType>email</AccountType><Action>settings</Action>%s"
                   % "".join(sections))
    return ('<?xml version="1.0" encoding="utf-8"?>\r\n'
            '<Autodiscover xmlns="%s"><Response xmlns="%s">'
            "<User><DisplayName>%s</DisplayName></User><Account>%s</Account>"
            "</Response></Autodiscover>"
            % (RESPONSE_NS, OUTLOOK_NS, esc(mailbox.get("display", "Test User")), account))


def pox_error(code, message):
    return ('<?xml version="1.0" encoding="utf-8"?>\r\n'
            '<Autodiscover xmlns="%s"><Response><Error Time="00:00:00" Id="1">'
            "<ErrorCode>%s</ErrorCode><Message>%s</Message><DebugData /></Error>"
            "</Response></Autodiscover>" % (RESPONSE_NS, code, message))


def av_pair(av_id, value):
    return struct.pack("<HH", av_id, len(value)) + value


def challenge_message(server_challenge):
    """An NTLM CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) with a timestamp."""
    utf16 = lambda s: s.encode("utf-16le")
    info = (av_pair(2, utf16("CONTOSO")) + av_pair(1, utf16("EX")) +
            av_pair(4, utf16("contoso.test")) +
            av_pair(7, struct.pack("<Q", 133000000000000000)) + av_pair(0, b""))
    name = utf16("CONTOSO")
    flags = 0xE2898215
    header_len = 56
    msg = b"NTLMSSP\x00" + struct.pack("<I", 2)
    msg += struct.pack("<HHI", len(name), len(name), header_len)
    msg += struct.pack("<I", flags) + server_challenge + b"\x00" * 8
    msg += struct.pack("<HHI", len(info), len(info), header_len + len(name))
    msg += b"\x06\x01\xb1\x1d\x00\x00\x00\x0f"
    return msg + name + info


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        # A response goes out in several writes (head, body): without this each
        # waits for the client's delayed ACK, as no real IIS does.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        target = self.server.conf.get("http_redirect")
        log({"server": self.server.conf["name"], "method": "GET", "path": self.path,
             "authorization": self.headers.get("Authorization")})
        if target:
            self.reply(302, b"moved", [("Location", target)])
        else:
            self.reply(200, b"ok", [("Content-Type", "text/plain")])

    def check_auth(self):
        """The authenticated account, None while a 401 was sent."""
        conf = self.server.conf
        schemes = conf.get("auth", [])
        if not schemes:
            return "anonymous"
        header = self.headers.get("Authorization", "")
        users = {k.lower(): v for k, v in conf.get("users", {}).items()}
        entry = {"server": conf["name"], "method": "POST", "path": self.path,
                 "authorization": header.split(" ")[0] if header else None}
        scheme, _, token = header.partition(" ")
        data = base64.b64decode(token) if token else b""
        if scheme == "Negotiate" and "kerberos" in schemes and not data.startswith(b"NTLMSSP"):
            # Kerberos under Negotiate: one token each way, the last one (mutual
            # authentication) sent with the answer.
            import gssapi
            entry["scheme"] = "Negotiate"
            ctx = gssapi.SecurityContext(usage="accept")
            try:
                out = ctx.step(data)
            except gssapi.exceptions.GSSError as e:
                entry.update({"kerberos": "refused", "ok": False, "error": str(e)})
                log(entry)
                self.reply(401, b"", [("WWW-Authenticate", "Negotiate")])
                return None
            account = str(ctx.initiator_name)
            entry.update({"kerberos": "accepted", "account": account, "ok": ctx.complete,
                          "service": str(ctx.target_name) if ctx.target_name else None})
            log(entry)
            if ctx.complete:
                # "no_final_token": a server that skips mutual authentication.
                if out and not conf.get("no_final_token"):
                    self.final = [("WWW-Authenticate",
                                   "Negotiate " + base64.b64encode(out).decode())]
                return account
        elif scheme in ("NTLM", "Negotiate") and scheme.lower() in schemes:
            # NTLM's messages, under NTLM or under Negotiate (as IIS takes them there).
            entry["scheme"] = scheme
            kind = struct.unpack("<I", data[8:12])[0]
            if kind == 1:
                self.challenge = os.urandom(8)
                challenge = base64.b64encode(challenge_message(self.challenge)).decode()
                entry["ntlm"] = "negotiate"
                log(entry)
                self.reply(401, b"", [("WWW-Authenticate", scheme + " " + challenge)])
                return None
            answer = ntlm.NTLMAuthChallengeResponse()
            answer.fromString(data)
            user = answer["user_name"].decode("utf-16le")
            domain = answer["domain_name"].decode("utf-16le")
            account = (domain + "\\" + user) if domain else user
            password = users.get(account.lower())
            nt = answer["ntlm"]
            ok = False
            if password is not None and len(nt) > 16 and getattr(self, "challenge", None):
                key = ntlm.NTOWFv2(user, password, domain)
                proof = hmac.new(key, self.challenge + nt[16:], "md5").digest()
                ok = hmac.compare_digest(proof, nt[:16])
            entry.update({"ntlm": "authenticate", "account": account, "ok": ok})
            log(entry)
            if ok:
                return account
        elif header.startswith("Basic ") and "basic" in schemes:
            account, _, password = base64.b64decode(header[6:]).decode().partition(":")
            ok = users.get(account.lower()) == password
            entry.update({"account": account, "ok": ok})
            log(entry)
            if ok:
                return account
        else:
            log(entry)
        offers = []
        if "negotiate" in schemes or "kerberos" in schemes:
            offers.append(("WWW-Authenticate", "Negotiate"))
        if "ntlm" in schemes:
            offers.append(("WWW-Authenticate", "NTLM"))
        if "basic" in schemes:
            offers.append(("WWW-Authenticate", 'Basic realm="%s"' % conf["name"]))
        self.reply(401, b"", offers)
        return None

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace")
        self.final = []
        account = self.check_auth()
        if account is None:
            return
        found = re.search(r"<EMailAddress>(.*?)</EMailAddress>", body)
        address = found.group(1).lower() if found else ""
        log({"server": self.server.conf["name"], "asked": address, "account": account})
        mailbox = self.server.conf.get("mailboxes", {}).get(address)
        if mailbox and "redirectForever" in mailbox:
            # A new URL every time: ?hop=N sends to ?hop=N+1, without end.
            found = re.search(r"hop=(\d+)", self.path)
            hop = int(found.group(1)) + 1 if found else 1
            mailbox = {"redirectUrl": "%s?hop=%d" % (mailbox["redirectForever"], hop)}
        text = pox_answer(mailbox) if mailbox else pox_error(500, "The email address can't be found.")
        self.reply(200, text.encode(),
                   [("Content-Type", "text/xml; charset=utf-8")] + self.final)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def tls_context(conf):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(conf["cert"], conf["key"])
    if conf.get("tls") == "tls1":
        # Exchange 2010 on Windows 2008 R2: TLS 1.0 and nothing newer.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1
    return ctx


def serve_http(conf):
    server = Server((conf.get("host", "127.0.0.1"), conf["port"]), Handler)
    server.conf = conf
    if conf.get("cert"):
        ctx = tls_context(conf)
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()


class Dns(socketserver.BaseRequestHandler):
    """A names-to-127.0.0.1 DNS server (RFC 1035), A and SRV records."""

    def handle(self):
        data, sock = self.request
        if len(data) < 12:
            return
        ident, _flags, qd = struct.unpack(">HHH", data[:6])
        pos, labels = 12, []
        while pos < len(data) and data[pos] != 0:
            n = data[pos]
            labels.append(data[pos + 1:pos + 1 + n].decode("ascii", "replace"))
            pos += n + 1
        qtype = struct.unpack(">H", data[pos + 1:pos + 3])[0]
        question = data[12:pos + 5]
        name = ".".join(labels).lower()
        conf = CONFIG["dns"]
        answers = []
        if qtype == 1 and name in conf["names"]:
            ip = socket.inet_aton(conf["names"][name])
            answers.append(b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + ip)
        srv = conf.get("srv", {}).get(name)
        if qtype == 33 and srv:
            target = b"".join(bytes([len(l)]) + l.encode() for l in srv[0].split(".")) + b"\x00"
            rdata = struct.pack(">HHH", 0, 0, srv[1]) + target
            answers.append(b"\xc0\x0c" + struct.pack(">HHIH", 33, 1, 60, len(rdata)) + rdata)
        exists = name in conf["names"] or name in conf.get("srv", {})
        rcode = 0 if exists else 3
        header = struct.pack(">HHHHHH", ident, 0x8580 | rcode, 1, len(answers), 0, 0)
        sock.sendto(header + question + b"".join(answers), self.client_address)


def main():
    dns = socketserver.ThreadingUDPServer(("127.0.0.1", CONFIG["dns"]["port"]), Dns)
    threading.Thread(target=dns.serve_forever, daemon=True).start()
    for conf in CONFIG["servers"]:
        serve_http(conf)
    print("ready", flush=True)
    # Until the test kills the process group.
    threading.Event().wait()


if __name__ == "__main__":
    main()
