"""Git's own smart-HTTP server (git http-backend) behind a tiny CGI bridge.

Serves every repository under a root directory at
http://127.0.0.1:PORT/<name>, optionally requiring a bearer token or basic
auth password, so tests reach a real git server over real HTTP.
"""
import http.server
import os
import subprocess
import threading
import time


class GitHTTPServer:
    def __init__(self, root, token=None, upload_pack_delay=0.0):
        """upload_pack_delay: seconds every fetch's pack request waits
        before it is served (a slow remote)."""
        self.root = str(root)
        self.token = token
        self.upload_pack_delay = upload_pack_delay
        self.upload_packs = 0
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _authorized(self):
                if server.token is None:
                    return True
                import base64
                auth = self.headers.get("Authorization", "")
                if auth == f"Bearer {server.token}":
                    return True
                if auth.startswith("Basic "):
                    user_pass = base64.b64decode(auth[6:]).decode()
                    return user_pass.split(":", 1)[-1] == server.token
                return False

            def _serve(self):
                server.requests += 1
                if not self._authorized():
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                if self.command == "POST" and path.endswith("/git-upload-pack"):
                    server.upload_packs += 1
                    if server.upload_pack_delay:
                        time.sleep(server.upload_pack_delay)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": server.root,
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_ADDR": "127.0.0.1",
                }
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                if self.headers.get("Git-Protocol"):
                    env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
                out = subprocess.run(["git", "http-backend"], input=body, env=env,
                                     capture_output=True, check=False).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.split(b"\r\n"):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "status":
                        status = int(value.strip().split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _serve
            do_POST = _serve

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
