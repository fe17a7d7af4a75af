"""A real Samba Active Directory domain controller on 127.0.0.1 (SPEC 13, 16): what the tests
run the `ldap` mode's Active Directory path against (`unicodePwd`, AD's refusals,
`pwdLastSet`, the lockout's `lockoutTime`).

Debian's `samba` (with samba-ad-provision, samba-dsdb-modules and samba-vfs-modules: its
Recommends, which it cannot be a DC without) provisions a domain `PWPORTAL.LOCAL` in a
folder (`samba-tool domain provision`, no DNS), with only the LDAP server running
(`server services = ldap`), LDAPS on 127.0.0.1:636 (Samba's port cannot be moved) with a
certificate from a CA made here (the same as infra/ldap_server.py's), `old password allowed
period = 0`, so that an old password stops working at once (AD's default keeps it for NTLM
for an hour), and a lockout threshold of 5 wrong passwords (`samba-tool domain
passwordsettings`). Needs root (the port, and Samba's own checks) and a free port 636;
`probe()` says why it cannot run when it cannot.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

from infra.ldap_server import _certificates

SAMBA, SAMBA_TOOL = "/usr/sbin/samba", "/usr/bin/samba-tool"
REALM, DOMAIN = "PWPORTAL.LOCAL", "PWPORTAL"
BASE_DN = "DC=pwportal,DC=local"
USERS_DN = f"CN=Users,{BASE_DN}"
ADMIN_DN = f"CN=Administrator,{USERS_DN}"
FILTER = "(&(objectClass=user)(sAMAccountName={username}))"
HOST, PORT = "127.0.0.1", 636
# AD's lockout (SPEC 16): this many wrong passwords lock an account (`lockoutTime`) for the
# domain's lockout duration (Samba's default, 30 minutes); what "Lås upp kontot" lifts.
LOCKOUT_AFTER = 5
STARTUP_SECONDS = 60.0
# What an AD DC needs beyond `samba` (its Recommends), and a file each one installs.
PACKAGES = ("samba", "samba-ad-provision", "samba-dsdb-modules", "samba-vfs-modules")
_LIBRARIES = list(Path("/usr/lib").glob("*-linux-gnu/samba"))
PARTS = {"samba-ad-provision": [Path("/usr/share/samba/setup/provision.ldif")],
         "samba-dsdb-modules": [lib / "ldb" / "samba_dsdb.so" for lib in _LIBRARIES],
         "samba-vfs-modules": [lib / "vfs" / "acl_xattr.so" for lib in _LIBRARIES]}


def probe() -> str | None:
    """None if a DC can run here, else the exact reason it cannot."""
    if not (Path(SAMBA).exists() and Path(SAMBA_TOOL).exists()):
        return f"Samba is not installed (apt-get install {' '.join(PACKAGES)})"
    missing = [package for package, files in PARTS.items()
               if not any(file.exists() for file in files)]
    if missing:  # `samba` without its Recommends provisions nothing (the Makefile's note)
        return f"Samba's AD DC parts are missing (apt-get install {' '.join(missing)})"
    if os.geteuid() != 0:
        return "a Samba AD DC needs root (it listens on 636 and checks its own privileges)"
    with socket.socket() as sock:
        if sock.connect_ex((HOST, PORT)) == 0:
            return f"{HOST}:{PORT} is taken, and Samba's LDAP port cannot be moved"
    return None


class SambaDomainController:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.admin_password = "Adm1n-" + os.urandom(6).hex() + "-Pw!"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ldaps://{HOST}:{PORT}"

    @property
    def ca_file(self) -> Path:
        return self.folder / "tls" / "ca.pem"

    @property
    def config(self) -> Path:
        return self.folder / "dc" / "etc" / "smb.conf"

    def settings(self) -> dict[str, str]:
        """A portal in ldap mode against this DC, the Administrator as its service account
        (a real deployment delegates "Reset password" on the accounts' OU instead)."""
        return {"PWPORTAL_DIRECTORY": "ldap", "PWPORTAL_LDAP_URL": self.url,
                "PWPORTAL_LDAP_CA_FILE": str(self.ca_file), "PWPORTAL_LDAP_BIND_DN": ADMIN_DN,
                "PWPORTAL_LDAP_BIND_PASSWORD": self.admin_password,
                "PWPORTAL_LDAP_BASE_DN": BASE_DN, "PWPORTAL_LDAP_FILTER": FILTER,
                "PWPORTAL_LDAP_PASSWORD_METHOD": "auto"}

    def _run(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:3])} failed: "
                               f"{(done.stderr or done.stdout)[-600:]}")
        return done.stdout

    def start(self) -> "SambaDomainController":
        if self.folder.exists():
            shutil.rmtree(self.folder)
        (self.folder / "tls").mkdir(parents=True)
        _certificates(self.folder / "tls", HOST)
        self._run(SAMBA_TOOL, "domain", "provision", f"--realm={REALM}", f"--domain={DOMAIN}",
                  "--server-role=dc", "--dns-backend=NONE", "--use-rfc2307",
                  f"--adminpass={self.admin_password}", "--host-name=dc1",
                  f"--targetdir={self.folder / 'dc'}")
        self._run(SAMBA_TOOL, "domain", "passwordsettings", "set",
                  f"--account-lockout-threshold={LOCKOUT_AFTER}",
                  "-H", str(self.folder / "dc" / "private" / "sam.ldb"))
        tls = self.folder / "tls"
        text = self.config.read_text()
        services = next(line for line in text.splitlines() if "server services" in line)
        text = text.replace(services, "\n".join([
            "\tserver services = ldap", f"\tinterfaces = {HOST}", "\tbind interfaces only = yes",
            "\ttls enabled = yes", f"\ttls keyfile = {tls / 'server.key'}",
            f"\ttls certfile = {tls / 'server.pem'}", f"\ttls cafile = {tls / 'ca.pem'}",
            f"\tpid directory = {self.folder / 'dc'}",
            "\told password allowed period = 0"]))
        text = text.replace("\tinterfaces = lo\n", "").replace(
            "\tlog file = /var/log/samba/log.%m", f"\tlog file = {self.folder / 'log.%m'}")
        self.config.write_text(text)
        self.process = subprocess.Popen([SAMBA, "-i", "-s", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        self._wait()
        return self

    def _wait(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("samba stopped: " + self.process.stderr.read().decode(
                    errors="replace")[-600:])
            try:
                with socket.create_connection((HOST, PORT), timeout=0.5) as raw:
                    context = ssl.create_default_context(cafile=str(self.ca_file))
                    with context.wrap_socket(raw, server_hostname=HOST):
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"samba did not answer LDAPS on {HOST}:{PORT}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # its own session: its children too
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def _connection(self, user: str, password: str):
        import ldap3
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_file))
        server = ldap3.Server(HOST, port=PORT, use_ssl=True, tls=tls, get_info=ldap3.NONE,
                              connect_timeout=5)
        return ldap3.Connection(server, user=user, password=password, receive_timeout=5)

    def add_user(self, username: str, password: str) -> None:
        """An enabled user (userAccountControl 512) with `password`, added by the
        Administrator over LDAPS as any AD tool would."""
        admin = self._connection(ADMIN_DN, self.admin_password)
        try:
            if not admin.bind():
                raise RuntimeError(f"Administrator bind failed: {admin.result}")
            if not admin.add(f"CN={username},{USERS_DN}",
                             ["top", "person", "organizationalPerson", "user"],
                             {"sAMAccountName": username, "userAccountControl": "512",
                              "unicodePwd": f'"{password}"'.encode("utf-16-le")}):
                raise RuntimeError(f"could not add {username}: {admin.result['message']}")
        finally:
            admin.unbind()

    def binds(self, username: str, password: str) -> bool:
        connection = self._connection(f"CN={username},{USERS_DN}", password)
        try:
            return bool(connection.bind())
        finally:
            connection.unbind()

    def lockout_time(self, username: str) -> int:
        """AD's `lockoutTime` of the account (0: not locked), as the Administrator reads it."""
        admin = self._connection(ADMIN_DN, self.admin_password)
        try:
            if not admin.bind():
                raise RuntimeError(f"Administrator bind failed: {admin.result}")
            admin.search(f"CN={username},{USERS_DN}", "(objectClass=*)", search_scope="BASE",
                         attributes=["lockoutTime"])
            values = admin.response[0]["attributes"].get("lockoutTime") if admin.response \
                else None
            return int(values[0]) if values else 0
        finally:
            admin.unbind()

    def lock_by_wrong_binds(self, username: str) -> None:
        """What a phone with an old password does: LOCKOUT_AFTER wrong binds, and AD locks
        the account (RuntimeError if it did not)."""
        for attempt in range(LOCKOUT_AFTER):
            if self.binds(username, f"Gammalt-Losen-{attempt}"):
                raise RuntimeError("a wrong password bound")
        if not self.lockout_time(username):
            raise RuntimeError(f"{LOCKOUT_AFTER} wrong binds did not lock {username}")
