# SPDX-License-Identifier: Apache-2.0
"""Real peers for the HTTP/2 tunnel tests (tests/integration/http2_test.cpp), on python3-h2 (Debian's).

  rfc8441.py origin
      A websocket echo origin on 127.0.0.1 (HTTP/1.1, RFC 6455); prints its port, then serves until killed.
      After the handshake it sends one text message (JSON: the path and the handshake headers it got), then
      echoes every message. Paths: /ws/bad-accept answers 101 with a wrong Sec-WebSocket-Accept, /ws/status/N
      answers N without upgrading.
  rfc8441.py websocket PROXY_PORT AUTHORITY PATH [PROTOCOL]
      An RFC 8441 client on dfproxy's h2c listener: extended CONNECT with :protocol PROTOCOL (websocket), a short text
      message, one of 200 KiB (more than the stream windows), then a close frame. Prints JSON: the server's
      SETTINGS_ENABLE_CONNECT_PROTOCOL, the status, the response headers and the messages received.
  rfc8441.py connect PROXY_PORT AUTHORITY UPLOAD_BYTES DOWNLOAD_BYTES
      A classic CONNECT on a stream; through the tunnel, POST /echo with UPLOAD_BYTES and then GET
      /bytes/DOWNLOAD_BYTES (the test origin's endpoints). Prints JSON: the status, the size the origin saw
      uploaded and whether the download arrived whole.
"""
import base64
import hashlib
import json
import os
import socket
import socketserver
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_frame(opcode, payload, mask):
    head = bytes([0x80 | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([bit | 127]) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_parse(buf):
    """(opcode, payload, rest) for the first whole frame in buf, or None."""
    if len(buf) < 2:
        return None
    opcode = buf[0] & 0x0F
    masked = buf[1] & 0x80
    n = buf[1] & 0x7F
    p = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n = int.from_bytes(buf[2:4], "big")
        p = 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n = int.from_bytes(buf[2:10], "big")
        p = 10
    key = b""
    if masked:
        if len(buf) < p + 4:
            return None
        key = buf[p:p + 4]
        p += 4
    if len(buf) < p + n:
        return None
    payload = buf[p:p + n]
    if masked:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return opcode, payload, buf[p + n:]


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if path.startswith("/ws/status/"):
            body = b"no websocket here\n"
            s.sendall(b"HTTP/1.1 %s X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" %
                      (path.rsplit("/", 1)[1].encode(), len(body)) + body)
            return
        key = headers.get("sec-websocket-key", "").encode()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        if path == "/ws/bad-accept":
            accept = base64.b64encode(hashlib.sha1(b"another key" + GUID).digest())
        s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: echo\r\n\r\n")
        hello = json.dumps({"path": path, "headers": headers}).encode()
        s.sendall(ws_frame(1, hello, False))
        while True:
            parsed = ws_parse(buf)
            if parsed is None:
                chunk = s.recv(65536)
                if not chunk:
                    return
                buf += chunk
                continue
            opcode, payload, buf = parsed
            s.sendall(ws_frame(opcode, payload, False))
            if opcode == 8:
                return


def run_origin():
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), EchoHandler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class Client:
    """One h2c connection to the proxy, driven by hand (no asyncio): enough for one stream at a time."""

    def __init__(self, port):
        import h2.config
        import h2.connection
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        # No outbound checks: h2 wants a :path even on a classic CONNECT, which RFC 9113 8.5 forbids.
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8", validate_outbound_headers=False)
        self.conn = h2.connection.H2Connection(config)
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())
        self.settings = None
        self.status = None
        self.headers = {}
        self.data = b""
        self.ended = False
        self.reset = None
        while self.settings is None:
            self.pump()

    def pump(self):
        import h2.events
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the proxy closed the connection")
        for ev in self.conn.receive_data(chunk):
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                self.settings = {int(k): v.new_value for k, v in ev.changed_settings.items()}
            elif isinstance(ev, h2.events.ResponseReceived):
                self.headers = dict(ev.headers)
                self.status = int(self.headers[":status"])
            elif isinstance(ev, h2.events.DataReceived):
                self.data += ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.ended = True
            elif isinstance(ev, h2.events.StreamReset):
                self.reset = int(ev.error_code)
                self.ended = True
        self.sock.sendall(self.conn.data_to_send())

    def send(self, stream, data, end=False):
        """Sends data as the windows allow, reading (and acknowledging) what comes meanwhile."""
        while data:
            n = min(len(data), self.conn.local_flow_control_window(stream), self.conn.max_outbound_frame_size)
            if n <= 0:
                self.pump()
                continue
            self.conn.send_data(stream, data[:n])
            data = data[n:]
            self.sock.sendall(self.conn.data_to_send())
        if end:
            self.conn.end_stream(stream)
            self.sock.sendall(self.conn.data_to_send())


def run_websocket(port, authority, path, protocol="websocket", scheme="http"):
    c = Client(int(port))
    c.conn.send_headers(1, [(":method", "CONNECT"), (":protocol", protocol), (":scheme", scheme),
                            (":path", path), (":authority", authority), ("sec-websocket-version", "13"),
                            ("sec-websocket-protocol", "echo")])
    c.sock.sendall(c.conn.data_to_send())
    while c.status is None and not c.ended:
        c.pump()
    out = {"enableConnectProtocol": c.settings.get(8, 0), "status": c.status, "headers": c.headers,
           "messages": []}
    if c.status == 200:
        big = bytes(ord("a") + i % 26 for i in range(200 * 1024))
        c.send(1, ws_frame(1, b"one", True))
        c.send(1, ws_frame(2, big, True))
        c.send(1, ws_frame(8, b"\x03\xe8", True))
        closed = False
        while not closed:
            parsed = ws_parse(c.data)
            if parsed is None:
                if c.ended:
                    break
                c.pump()
                continue
            opcode, payload, c.data = parsed
            if opcode == 1:
                out["messages"].append(payload.decode())
            elif opcode == 2:
                out["messages"].append("binary %d %s" % (len(payload), "intact" if payload == big else "garbled"))
            elif opcode == 8:
                out["messages"].append("close")
                closed = True
        out["reset"] = c.reset
        if not c.ended:
            c.conn.end_stream(1)
            c.sock.sendall(c.conn.data_to_send())
        while not c.ended:
            c.pump()
    else:
        while not c.ended:
            c.pump()
        out["body"] = c.data.decode("latin-1")
    print(json.dumps(out))


def run_connect(port, authority, upload, download):
    upload, download = int(upload), int(download)
    c = Client(int(port))
    c.conn.send_headers(1, [(":method", "CONNECT"), (":authority", authority)])
    c.sock.sendall(c.conn.data_to_send())
    while c.status is None and not c.ended:
        c.pump()
    out = {"status": c.status}
    if c.status == 200:
        body = b"u" * upload
        c.send(1, b"POST /echo HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n" % (authority.encode(), upload))
        c.send(1, body)
        # No END_STREAM yet: an origin may take the half-close for an abort. It closes after the GET (Connection:
        # close), which ends the stream.
        c.send(1, b"GET /bytes/%d HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (download, authority.encode()))
        while not c.ended:
            c.pump()
        if c.data.count(b"\r\n\r\n") < 2:
            out.update({"reset": c.reset, "data": c.data[:300].decode("latin-1")})
            print(json.dumps(out))
            return
        first_end = c.data.index(b"\r\n\r\n")
        first_len = int([l for l in c.data[:first_end].split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
                        .split(b":")[1])
        echo = json.loads(c.data[first_end + 4:first_end + 4 + first_len])
        second = c.data[first_end + 4 + first_len:]
        payload = second[second.index(b"\r\n\r\n") + 4:]
        want = bytes(ord("a") + i % 26 for i in range(download))
        out.update({"uploaded": echo.get("bodyLength"), "downloaded": len(payload), "intact": payload == want,
                    "reset": c.reset})
    print(json.dumps(out))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "origin":
        run_origin()
    elif mode == "websocket":
        run_websocket(*sys.argv[2:7])
    elif mode == "connect":
        run_connect(*sys.argv[2:6])
    else:
        sys.exit("unknown mode " + mode)
