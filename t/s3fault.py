#!/usr/bin/env python3
"""s3fault.py - a fault-injecting HTTP reverse proxy for the S3 tests.

It sits between bk's S3 tools and a real S3 server (t/s3server.sh's Swift)
and forwards every request unchanged: the request line as the client sent
it, every header in its order and spelling (Host and Authorization too:
SigV4 signs the Host, so the client must use the proxy's address as its
endpoint; Swift checks the signature against the Host it is given, which
names the proxy), and the body.  The answer comes back unchanged, except
where a rule says otherwise.

usage: s3fault.py --upstream http://127.0.0.1:PORT [--port N]
                  [--port-file FILE] [--log FILE] [--rules FILE]
                  [--rule RULE]... [--log-header NAME]...

  --port N         listen on 127.0.0.1:N (default 0: a free port)
  --port-file F    write the port there once listening (atomically)
  --log F          one line per request (below); default: none
  --rules F        a file of rules, one a line ('#' comments); re-read
                   whenever it changes (its counters start over then)
  --rule RULE      a rule (repeatable); checked before the file's
  --log-header N   add the request header N to each log line
                   (repeatable)

The port is also printed on stdout, alone on a line.

A rule is shell-like words, KEY=VALUE each.  What it matches:
  method=M         the request method (default: any)
  match=REGEX      searched in the request target, "PATH?QUERY" as sent
  header=REGEX     searched in the request's header lines ("name: value",
                   name in lower case), e.g. header='^range:'
  nth=N            fire from the Nth matching request on (default 1)
  times=N          fire N times, then let requests through (default 1;
                   0: always)
What it does (one of):
  status=N [code=C] [message=M] [forward=1]
                   answer N with an S3 <Error> document (Code C, default
                   by status: 500 InternalError, 503 SlowDown, 429
                   SlowDown, 400 RequestTimeout, 404 NoSuchKey, else
                   "Fault"); forward=1 sends the request to the server
                   first (which acts on it) and replaces its answer
  error200=C [message=M] [forward=1]
                   answer 200 OK with an <Error> body of Code C (what S3
                   may send for CompleteMultipartUpload)
  reset=request [after=K]
                   read K bytes of the request body (default 0), then
                   reset the connection (RST); the server sees nothing
  reset=response [after=K]
                   forward the request (the server acts on it), then
                   reset the connection: without after before a byte of
                   the answer (the answer is lost), with after=K after
                   its status line, headers and K bytes of its body
  stall=S [after=K]
                   without after: read the request, then send nothing
                   for S seconds (the server has not seen it yet); if the
                   client is still connected then, forward it as usual,
                   else drop it.  With after=K: forward the request, send
                   the headers and K body bytes, stall S seconds, then
                   close the connection (the rest is never sent)
  drop=1           read the request, then close the connection without
                   an answer

Every matching rule counts a request; the first one due fires.

The log: one line per request, tab-separated:
  SEQ METHOD PATH QUERY STATUS FAULT RANGE [NAME=VALUE...]
STATUS the one the client got ("-" when it got none: reset, stall,
drop), FAULT "-" or what fired (e.g. "status=503", "reset=request"),
RANGE the request's Range header or "-", then one NAME=VALUE field per
--log-header (VALUE "-" when the request had none).  Lines are written when the
request is done, so order is completion order; SEQ is arrival order.

python3 standard library only.
"""

import argparse
import http.client
import os
import signal
import re
import select
import shlex
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

CHUNK = 64 * 1024

DEFAULT_CODE = {
    400: 'RequestTimeout',
    403: 'AccessDenied',
    404: 'NoSuchKey',
    409: 'OperationAborted',
    429: 'SlowDown',
    500: 'InternalError',
    501: 'NotImplemented',
    503: 'SlowDown',
}

DEFAULT_MESSAGE = {
    'SlowDown': 'Please reduce your request rate.',
    'InternalError': 'We encountered an internal error. Please try again.',
    'RequestTimeout': 'Your socket connection to the server was not read '
                      'from or written to within the timeout period.',
    'NoSuchKey': 'The specified key does not exist.',
    'InvalidPart': 'One or more of the specified parts could not be found.',
    'ServiceUnavailable': 'Please reduce your request rate.',
}


class RuleError(Exception):
    pass


class Rule:
    ACTIONS = ('status', 'error200', 'reset', 'stall', 'drop')

    def __init__(self, text):
        self.text = text.strip()
        self.method = None
        self.match = None
        self.header = None
        self.nth = 1
        self.times = 1
        self.action = None
        self.status = None
        self.code = None
        self.message = None
        self.forward = False
        self.reset = None
        self.after = None
        self.stall = None
        self.seen = 0
        self.fired = 0
        for word in shlex.split(text):
            if '=' not in word:
                raise RuleError('%s: expected KEY=VALUE' % word)
            k, v = word.split('=', 1)
            try:
                self._set(k, v)
            except ValueError:
                raise RuleError('%s: bad value' % word)
        if self.action is None:
            raise RuleError('%s: no action (one of %s)' %
                            (text, ', '.join(self.ACTIONS)))

    def _act(self, name):
        if self.action is not None and self.action != name:
            raise RuleError('%s: two actions (%s and %s)' %
                            (self.text, self.action, name))
        self.action = name

    def _set(self, k, v):
        if k == 'method':
            self.method = v.upper()
        elif k == 'match':
            self.match = re.compile(v)
        elif k == 'header':
            self.header = re.compile(v, re.M)
        elif k == 'nth':
            self.nth = int(v)
        elif k == 'times':
            self.times = int(v)
        elif k == 'status':
            self._act('status')
            self.status = int(v)
        elif k == 'error200':
            self._act('error200')
            self.status = 200
            self.code = v
        elif k == 'code':
            self.code = v
        elif k == 'message':
            self.message = v
        elif k == 'forward':
            self.forward = v not in ('0', 'no', 'false', '')
        elif k == 'reset':
            if v not in ('request', 'response'):
                raise RuleError('reset=%s: request or response' % v)
            self._act('reset')
            self.reset = v
        elif k == 'after':
            self.after = int(v)
        elif k == 'stall':
            self._act('stall')
            self.stall = float(v)
        elif k == 'drop':
            self._act('drop')
        else:
            raise RuleError('%s: unknown key' % k)

    def matches(self, method, target, headers):
        if self.method not in (None, '*') and self.method != method:
            return False
        if self.match is not None and not self.match.search(target):
            return False
        if self.header is not None and not self.header.search(headers):
            return False
        return True

    def describe(self):
        if self.action == 'status':
            return 'status=%d' % self.status
        if self.action == 'error200':
            return 'error200=%s' % self.code
        if self.action == 'reset':
            return 'reset=%s' % self.reset
        if self.action == 'stall':
            return 'stall=%g' % self.stall
        return self.action


class Faults:
    """The rules, their counters, the log."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.fixed = [Rule(t) for t in args.rule]
        self.path = args.rules
        self.stamp = None
        self.file_rules = []
        self.seq = 0
        self.log_headers = [h.lower() for h in args.log_header]
        self.log = open(args.log, 'a', buffering=1) if args.log else None
        self._reload()

    def _reload(self):
        if self.path is None:
            return
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp == self.stamp:
            return
        rules = []
        if stamp is not None:
            with open(self.path) as f:
                for line in f:
                    line = line.strip()
                    if line and not line.startswith('#'):
                        try:
                            rules.append(Rule(line))
                        except RuleError as e:
                            print('s3fault.py: %s: %s' % (self.path, e),
                                  file=sys.stderr)
        self.file_rules = rules
        self.stamp = stamp

    def pick(self, method, target, headers):
        """A sequence number and the rule that fires (or None)."""
        with self.lock:
            self.seq += 1
            self._reload()
            chosen = None
            for r in self.fixed + self.file_rules:
                if not r.matches(method, target, headers):
                    continue
                r.seen += 1
                if chosen is None and r.seen >= r.nth and \
                        (r.times == 0 or r.fired < r.times):
                    r.fired += 1
                    chosen = r
            return self.seq, chosen

    def record(self, seq, method, target, status, fault, headers):
        if self.log is None:
            return
        path, _, query = target.partition('?')
        fields = [str(seq), method, path, query or '-',
                  str(status) if status is not None else '-',
                  fault or '-', headers.get('Range') or '-']
        for h in self.log_headers:
            fields.append('%s=%s' % (h, headers.get(h) or '-'))
        line = '\t'.join(fields)
        with self.lock:
            self.log.write(line + '\n')


def error_doc(code, message, seq):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Error><Code>%s</Code><Message>%s</Message>'
            '<RequestId>s3fault-%d</RequestId></Error>' %
            (code, message, seq)).encode()


class Dropped(Exception):
    """The client connection is gone, or was cut on purpose."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 's3fault'
    sys_version = ''

    def log_message(self, fmt, *args):
        pass

    # --- plumbing ---------------------------------------------------------

    def _rst(self):
        """Cut the connection with a reset (RST, not FIN)."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack('ii', 1, 0))
        except OSError:
            pass
        self._close_now()

    def _close_now(self):
        """Close the client connection now (its buffered reader holds a
        reference to the socket: close that too, or nothing closes)."""
        self.close_connection = True
        for f in (self.wfile, self.rfile):
            try:
                f.flush()
            except (OSError, ValueError):
                pass
            try:
                f.close()
            except (OSError, ValueError):
                pass
        try:
            self.connection.close()
        except OSError:
            pass
        raise Dropped()

    def _client_gone(self):
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b''
        except OSError:
            return True

    def _read_body(self, limit=None):
        """The request body (all of it, or its first `limit` bytes)."""
        te = self.headers.get('Transfer-Encoding', '')
        if 'chunked' in te.lower():
            return self._read_chunked(limit)
        n = int(self.headers.get('Content-Length') or 0)
        if limit is not None:
            n = min(n, limit)
        parts = []
        while n > 0:
            b = self.rfile.read(min(n, CHUNK))
            if not b:
                raise Dropped()
            parts.append(b)
            n -= len(b)
        return b''.join(parts)

    def _read_chunked(self, limit):
        """The raw chunked framing, forwarded as it came."""
        out = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise Dropped()
            out.append(line)
            size = int(line.split(b';')[0].strip() or b'0', 16)
            if size == 0:
                while True:
                    t = self.rfile.readline(65537)
                    out.append(t)
                    if t in (b'\r\n', b'\n', b''):
                        return b''.join(out)
            data = self.rfile.read(size + 2)
            out.append(data)
            total += size
            if limit is not None and total >= limit:
                return b''.join(out)

    def _send_head(self, status, reason, headers):
        lines = ['HTTP/1.1 %d %s' % (status, reason)]
        for k, v in headers:
            lines.append('%s: %s' % (k, v))
        self.wfile.write(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1'))

    def _send_error_doc(self, status, code, message, seq):
        body = b'' if self.command == 'HEAD' else error_doc(code, message,
                                                          seq)
        self._send_head(status, http.client.responses.get(status, 'Fault'), [
            ('Content-Type', 'application/xml'),
            ('Content-Length', str(len(error_doc(code, message, seq)))
             if self.command != 'HEAD' else '0'),
            ('x-amz-request-id', 's3fault-%d' % seq),
            ('Date', self.date_time_string()),
        ])
        self.wfile.write(body)
        self.wfile.flush()

    def _forward(self, body):
        """Send the request upstream; return the upstream connection and
        its response (headers read, body not)."""
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        conn.putrequest(self.command, self.path, skip_host=True,
                        skip_accept_encoding=True)
        for k, v in self.headers.items():
            conn.putheader(k, v)
        conn.endheaders(body if body else None)
        resp = conn.getresponse()
        return conn, resp

    def _relay(self, conn, resp, after=None, then=None):
        """Send resp to the client; with after, only that many body bytes,
        then `then` ('reset' or a stall in seconds, then close)."""
        headers = resp.getheaders()
        chunked = any(k.lower() == 'transfer-encoding' and
                      'chunked' in v.lower() for k, v in headers)
        if chunked:
            # http.client de-chunks: send it whole with its length.
            data = resp.read()
            headers = [(k, v) for k, v in headers
                       if k.lower() != 'transfer-encoding']
            headers.append(('Content-Length', str(len(data))))
            src = [data]
        else:
            src = None
        if any(k.lower() == 'connection' and v.lower() == 'close'
               for k, v in headers):
            self.close_connection = True
        self._send_head(resp.status, resp.reason, headers)
        sent = 0

        def chunks():
            if src is not None:
                yield from src
                return
            while True:
                b = resp.read(CHUNK)
                if not b:
                    return
                yield b

        for b in chunks():
            if after is not None and sent + len(b) >= after:
                self.wfile.write(b[:after - sent])
                sent = after
                break
            self.wfile.write(b)
            sent += len(b)
        self.wfile.flush()
        if after is not None:
            conn.close()
            if then == 'reset':
                self._rst()
            if isinstance(then, float):
                self._sleep(then)
                self._close_now()
        conn.close()
        return resp.status

    def _sleep(self, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    # --- one request ------------------------------------------------------

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except Dropped:
            self.close_connection = True
        except (ConnectionError, BrokenPipeError, socket.timeout, OSError):
            self.close_connection = True

    def _handle(self):
        faults = self.server.faults
        hdrs = '\n'.join('%s: %s' % (k.lower(), v)
                         for k, v in self.headers.items())
        seq, rule = faults.pick(self.command, self.path, hdrs)
        status = None
        fault = rule.describe() if rule is not None else None
        try:
            status = self._serve(seq, rule)
        finally:
            faults.record(seq, self.command, self.path, status, fault,
                          self.headers)

    def _serve(self, seq, rule):
        if rule is None:
            body = self._read_body()
            return self._pass(body)
        a = rule.action
        if a == 'reset' and rule.reset == 'request':
            self._read_body(rule.after or 0)
            self._rst()
        body = self._read_body()
        if a == 'drop':
            self._close_now()
        if a == 'reset':
            conn, resp = self._upstream(body)
            if conn is None:
                return resp
            if rule.after is None:
                resp.read()
                conn.close()
                self._rst()
            return self._relay(conn, resp, after=rule.after, then='reset')
        if a == 'stall' and rule.after is None:
            self._sleep(rule.stall)
            if self._client_gone():
                self._close_now()
            return self._pass(body)
        if a == 'stall':
            conn, resp = self._upstream(body)
            if conn is None:
                return resp
            return self._relay(conn, resp, after=rule.after,
                               then=float(rule.stall))
        # status, error200
        if rule.forward:
            conn, resp = self._upstream(body)
            if conn is None:
                return resp
            resp.read()
            conn.close()
        code = rule.code or DEFAULT_CODE.get(rule.status, 'Fault')
        msg = rule.message or DEFAULT_MESSAGE.get(code, 'Injected fault.')
        self._send_error_doc(rule.status, code, msg, seq)
        return rule.status

    def _upstream(self, body):
        """(conn, resp), or (None, status sent) when the server failed."""
        try:
            return self._forward(body)
        except (OSError, http.client.HTTPException) as e:
            self._send_error_doc(502, 'BadGateway', 'upstream: %s' % e, 0)
            return None, 502

    def _pass(self, body):
        conn, resp = self._upstream(body)
        if conn is None:
            return resp
        return self._relay(conn, resp)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = _handle


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def main():
    ap = argparse.ArgumentParser(prog='s3fault.py',
                                 description='fault-injecting S3 proxy')
    ap.add_argument('--upstream', required=True)
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--port-file')
    ap.add_argument('--log')
    ap.add_argument('--rules')
    ap.add_argument('--rule', action='append', default=[])
    ap.add_argument('--log-header', action='append', default=[])
    args = ap.parse_args()
    up = urllib.parse.urlsplit(args.upstream)
    if up.scheme != 'http' or not up.hostname:
        ap.error('--upstream: expected http://HOST:PORT')
    try:
        faults = Faults(args)
    except RuleError as e:
        ap.error(str(e))
    srv = Server(('127.0.0.1', args.port), Handler)
    srv.upstream = up
    srv.faults = faults
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d\n' % port)
        os.rename(tmp, args.port_file)
    print(port, flush=True)
    # SIGTERM (the tests' teardown) is a clean exit.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(0))
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
