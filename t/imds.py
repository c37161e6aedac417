#!/usr/bin/env python3
"""imds.py - a fake EC2 instance metadata service (IMDSv2 only) for tests.

usage: imds.py [--port N] [--port-file FILE] [--log FILE] [--role NAME]
               [--key ID] [--secret S] [--token T] [--ttl SECONDS]

  PUT /latest/api/token                        needs the header
      X-aws-ec2-metadata-token-ttl-seconds (1-21600); answers a session
      token.  Any other method there: 405.
  GET /latest/meta-data/iam/security-credentials/
      the role's name (NAME, default bk-test-role)
  GET /latest/meta-data/iam/security-credentials/NAME
      {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": ID,
       "SecretAccessKey": S, "Token": T, "Expiration": now + TTL,
       "LastUpdated": now}
      (defaults: test:tester, testing, a fixed test token, 6 hours)
  Every GET needs X-aws-ec2-metadata-token with a token it handed out:
  401 otherwise (IMDSv1 is refused).  Anything else: 404.

Listens on 127.0.0.1 (port 0: a free one; written to --port-file and
printed on stdout).  The log has one tab-separated line per request:
METHOD PATH STATUS TOKEN-HEADER (yes/no/bad).  python3 stdlib only.
"""

import argparse
import datetime
import json
import os
import secrets
import signal
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'imds'
    sys_version = ''

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body=b'', ctype='text/plain'):
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _log(self, status, tok):
        srv = self.server
        if srv.log is None:
            return
        with srv.lock:
            srv.log.write('%s\t%s\t%d\t%s\n' % (self.command, self.path,
                                                status, tok))

    def _drain(self):
        n = int(self.headers.get('Content-Length') or 0)
        if n:
            self.rfile.read(n)

    def do_PUT(self):
        self._drain()
        srv = self.server
        if self.path != '/latest/api/token':
            self._send(404)
            return self._log(404, '-')
        ttl = self.headers.get('X-aws-ec2-metadata-token-ttl-seconds')
        try:
            ok = ttl is not None and 1 <= int(ttl) <= 21600
        except ValueError:
            ok = False
        if not ok:
            self._send(400)
            return self._log(400, '-')
        tok = secrets.token_urlsafe(32)
        with srv.lock:
            srv.tokens.add(tok)
        self._send(200, tok.encode())
        self._log(200, '-')

    def do_GET(self):
        srv = self.server
        tok = self.headers.get('X-aws-ec2-metadata-token')
        with srv.lock:
            valid = tok in srv.tokens
        state = 'no' if tok is None else 'yes' if valid else 'bad'
        if self.path == '/latest/api/token':
            self._send(405)
            return self._log(405, state)
        if not valid:
            self._send(401)
            return self._log(401, state)
        base = '/latest/meta-data/iam/security-credentials/'
        if self.path == base:
            self._send(200, srv.args.role.encode())
            return self._log(200, state)
        if self.path == base + srv.args.role:
            now = datetime.datetime.now(datetime.timezone.utc)
            exp = now + datetime.timedelta(seconds=srv.args.ttl)
            doc = {
                'Code': 'Success',
                'LastUpdated': now.strftime('%Y-%m-%dT%H:%M:%SZ'),
                'Type': 'AWS-HMAC',
                'AccessKeyId': srv.args.key,
                'SecretAccessKey': srv.args.secret,
                'Token': srv.args.token,
                'Expiration': exp.strftime('%Y-%m-%dT%H:%M:%SZ'),
            }
            self._send(200, json.dumps(doc, indent=2).encode(),
                       'application/json')
            return self._log(200, state)
        self._send(404)
        self._log(404, state)

    def do_POST(self):
        self._drain()
        self._send(405)
        self._log(405, '-')

    do_DELETE = do_POST


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(prog='imds.py')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--port-file')
    ap.add_argument('--log')
    ap.add_argument('--role', default='bk-test-role')
    ap.add_argument('--key', default='test:tester')
    ap.add_argument('--secret', default='testing')
    ap.add_argument('--token', default='bk-test-session-token')
    ap.add_argument('--ttl', type=int, default=6 * 3600)
    args = ap.parse_args()
    srv = Server(('127.0.0.1', args.port), Handler)
    srv.args = args
    srv.tokens = set()
    srv.lock = threading.Lock()
    srv.log = open(args.log, 'a', buffering=1) if args.log else None
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + '.tmp', 'w') as f:
            f.write('%d\n' % port)
        os.rename(args.port_file + '.tmp', args.port_file)
    print(port, flush=True)
    # SIGTERM (the tests' teardown) is a clean exit.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(0))
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
