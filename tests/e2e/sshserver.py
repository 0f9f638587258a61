"""A real OpenSSH server on 127.0.0.1 for git over ssh://, with its own host
key and one authorised client key, all made fresh in a directory."""
import os
import pathlib
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SSHServer:
    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        for name in ("hostkey", "clientkey", "otherkey"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(self.root / name)], check=True)
        (self.root / "authorized_keys").write_text((self.root / "clientkey.pub").read_text())
        os.chmod(self.root / "authorized_keys", 0o600)
        self.port = free_port()
        config = self.root / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\n"
            f"HostKey {self.root / 'hostkey'}\n"
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
            f"PidFile {self.root / 'sshd.pid'}\n")
        os.makedirs("/run/sshd", exist_ok=True)
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(config),
                                      "-E", str(self.root / "sshd.log")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("sshd did not start: " + (self.root / "sshd.log").read_text())
        key = " ".join((self.root / "hostkey.pub").read_text().split()[:2])
        other = " ".join((self.root / "otherkey.pub").read_text().split()[:2])
        self.known_hosts = self.root / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {key}\n")
        self.wrong_hosts = self.root / "wrong_hosts"
        self.wrong_hosts.write_text(f"[127.0.0.1]:{self.port} {other}\n")

    def url(self, path):
        return f"ssh://root@127.0.0.1:{self.port}{path}"

    def env(self, known_hosts=None):
        return {"KILN_GIT_SSH_KEY": str(self.root / "clientkey"),
                "KILN_GIT_SSH_KNOWN_HOSTS": str(known_hosts or self.known_hosts)}

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
