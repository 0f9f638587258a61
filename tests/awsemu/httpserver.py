"""The HTTP/1.1 server in front of the WSGI application, with keep-alive.

werkzeug's development server answers every request with
`Connection: close`; AWS's endpoints keep connections open, and SDKs and
libcurl pool them. This handler keeps werkzeug's WSGI environment (moto
relies on it) and its request parsing, but:

- reads each request body completely before the application runs, so the
  next request on the connection starts where it should;
- sends the application's chunks as they come (a slow body is slow on the
  wire) and never adds `Connection: close` unless the client asked for it
  or the application set `awsemu.close_after` in the environment (a
  truncated answer);
- counts the requests served on the connection
  (`awsemu.request_on_connection`, 1 for the first), so a fault can tell a
  pooled connection from a fresh one;
- treats a ConnectionError raised by the application as "the connection is
  gone": nothing more is written and the socket is closed.
"""

import io
import socket

from werkzeug.serving import WSGIRequestHandler

# How long a kept-alive connection may sit idle before the server closes it
# (AWS's front ends close idle connections too; botocore and libcurl notice
# and reconnect). Long enough for any test's pauses between calls.
IDLE_TIMEOUT_S = 120


class KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.served = 0
        self.connection.settimeout(IDLE_TIMEOUT_S)
        # The status line and headers go out in one write and the body in
        # another; with Nagle's algorithm the body would wait for the
        # client's delayed ACK (~40 ms on Linux) on every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # Every request would otherwise be logged to stderr.
    def log_request(self, *args, **kwargs):
        pass

    def run_wsgi(self):
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        try:
            environ["wsgi.input"] = io.BytesIO(self._read_body(environ))
        except (ValueError, OSError):
            self.close_connection = True
            return
        self.served += 1
        environ["awsemu.request_on_connection"] = self.served
        sent = {"status": None}

        def start_response(status, headers, exc_info=None):
            sent["status"] = status
            sent["headers"] = list(headers)
            return self._write_raw

        try:
            chunks = self.server.app(environ, start_response)
            try:
                self._send(environ, sent, chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except Exception:
            self.close_connection = True
            if not sent.get("begun"):
                body = b"Internal Server Error"
                self.send_response(500)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
            import traceback

            traceback.print_exc()

    def _read_body(self, environ):
        if environ.get("wsgi.input_terminated"):
            return environ["wsgi.input"].read()  # chunked: werkzeug de-chunks
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = b""
        while len(body) < length:
            part = self.rfile.read(length - len(body))
            if not part:
                raise OSError("request body cut short")
            body += part
        return body

    def _write_raw(self, data):
        raise RuntimeError("awsemu: the write() callable is not supported")

    def _send(self, environ, sent, chunks):
        it = iter(chunks)
        first = b""
        # Headers go out with the first chunk, so an application may still
        # change its mind (raise) before anything is on the wire.
        for first in it:
            if first:
                break
        status = sent["status"]
        headers = sent["headers"]
        keys = {k.lower() for k, _ in headers}
        if "content-length" not in keys:
            # Buffer what the application did not size (moto's own pages).
            rest = b"".join(it)
            first, it = first + rest, iter(())
            headers.append(("Content-Length", str(len(first))))
        code, _, reason = status.partition(" ")
        sent["begun"] = True
        self.send_response(int(code), reason)
        for k, v in headers:
            self.send_header(k, v)
        if self.close_connection:  # the client asked for it
            self.send_header("Connection", "close")
        # awsemu.close_after (a truncated answer) closes without saying so,
        # as a connection that breaks does.
        self.end_headers()
        if first:
            self.wfile.write(first)
            self.wfile.flush()
        for data in it:
            if data:
                self.wfile.write(data)
                self.wfile.flush()
        if environ.get("awsemu.close_after"):
            self.close_connection = True
