"""A real OpenLDAP `slapd` on this machine (SPEC 13): what the tests and `make run
DIRECTORY=ldap` run the `ldap` mode against.

Debian's `slapd` (installed by the Makefile) on 127.0.0.1, LDAPS only, with a CA made here
(`ca.pem` in the directory's folder, `.local/ldap/` for `make run`); base
`dc=pwportal,dc=local`, accounts as `uid=<username>,ou=accounts,dc=pwportal,dc=local`, the
ppolicy overlay (so `pwdChangedTime` is kept, a history of 5 is enforced for changes
that are not made by the root DN, and 5 wrong binds lock an entry for 15 minutes:
`pwdAccountLockedTime`, SPEC 16), and a service account `cn=pwportal,ou=services,…` that
may read entries, set passwords and lift a lockout (delete `pwdAccountLockedTime`; ppolicy
deletes `pwdFailureTime` with it) and do nothing else. Nothing here is used by the product:
it is the directory a municipality would have, made small.
"""
from __future__ import annotations

import datetime
import ipaddress
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

SLAPD = "/usr/sbin/slapd"
BASE_DN = "dc=pwportal,dc=local"
ACCOUNTS_DN = f"ou=accounts,{BASE_DN}"
SERVICE_DN = f"cn=pwportal,ou=services,{BASE_DN}"
ROOT_DN = f"cn=admin,{BASE_DN}"
POLICY_DN = f"cn=default,ou=policies,{BASE_DN}"
FILTER = "(&(objectClass=inetOrgPerson)(uid={username}))"
HISTORY = 5
# ppolicy's lockout (SPEC 16): this many wrong binds in a row lock the entry for
# LOCKOUT_SECONDS, as AD's lockout threshold does; what pwreset's "Lås upp kontot" lifts.
LOCKOUT_AFTER = 5
LOCKOUT_SECONDS = 900
STARTUP_SECONDS = 15.0


def account_dn(username: str) -> str:
    return f"uid={username},{ACCOUNTS_DN}"


def slapd_available() -> bool:
    return Path(SLAPD).exists()


def _certificates(folder: Path, host: str) -> None:
    """A CA (ca.pem) and a server certificate for `host` signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pwportal local LDAP CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(cert.public_bytes(pem))
    (folder / "server.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "server.key").chmod(0o600)


def _config(folder: Path, root_password: str) -> str:
    service = SERVICE_DN
    return f"""\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {folder}/slapd.pid
argsfile {folder}/slapd.args
TLSCACertificateFile {folder}/ca.pem
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key
security simple_bind=128
password-hash {{SSHA}}

database mdb
suffix "{BASE_DN}"
rootdn "{ROOT_DN}"
rootpw "{root_password}"
directory {folder}/data
maxsize 67108864
overlay ppolicy
ppolicy_default "{POLICY_DN}"
ppolicy_hash_cleartext

access to attrs=pwdAccountLockedTime
    by dn.exact="{service}" write
    by self read
    by * none
access to attrs=userPassword
    by dn.exact="{service}" write
    by anonymous auth
    by self read
    by * none
access to *
    by dn.exact="{service}" read
    by anonymous auth
    by self read
    by * none
"""


class LocalDirectory:
    """One slapd, its folder and its port. `start()` makes the CA, the config and the data,
    starts slapd and adds the base entries; `stop()` ends it."""

    def __init__(self, folder: Path, port: int, host: str = "127.0.0.1",
                 start_tls_port: int | None = None):
        """`start_tls_port`: also an `ldap://` listener there, for StartTLS (the server
        refuses any simple bind that is not over TLS: `security simple_bind=128`)."""
        self.folder = Path(folder)
        self.port = port
        self.start_tls_port = start_tls_port
        self.host = host
        self.root_password = secrets.token_urlsafe(18)
        self.service_password = secrets.token_urlsafe(18)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ldaps://{self.host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    def settings(self) -> dict[str, str]:
        """The PWPORTAL_* variables of a portal in `ldap` mode against this directory."""
        return {"PWPORTAL_DIRECTORY": "ldap", "PWPORTAL_LDAP_URL": self.url,
                "PWPORTAL_LDAP_CA_FILE": str(self.ca_file),
                "PWPORTAL_LDAP_BIND_DN": SERVICE_DN,
                "PWPORTAL_LDAP_BIND_PASSWORD": self.service_password,
                "PWPORTAL_LDAP_BASE_DN": ACCOUNTS_DN, "PWPORTAL_LDAP_FILTER": FILTER,
                "PWPORTAL_LDAP_PASSWORD_METHOD": "auto"}

    # -- the process -----------------------------------------------------------------------

    def start(self) -> "LocalDirectory":
        if self.folder.exists():
            shutil.rmtree(self.folder)
        (self.folder / "data").mkdir(parents=True)
        _certificates(self.folder, self.host)
        config = self.folder / "slapd.conf"
        config.write_text(_config(self.folder, self.root_password))
        config.chmod(0o600)
        urls = f"ldaps://{self.host}:{self.port}/"
        if self.start_tls_port:
            urls += f" ldap://{self.host}:{self.start_tls_port}/"
        from infra.child_guard import guarded  # slapd dies with whoever started it
        self.process = subprocess.Popen(
            guarded([SLAPD, "-d", "0", "-f", str(config), "-h", urls]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait()
        self._seed()
        return self

    def _wait(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("slapd stopped: "
                                   + self.process.stderr.read().decode(errors="replace")[-800:])
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"slapd did not answer on {self.host}:{self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def pause(self) -> None:
        """Make the directory hang (SIGSTOP): connections open, nothing answers."""
        self.process.send_signal(19)

    def resume(self) -> None:
        self.process.send_signal(18)

    # -- what an LDAP client does ----------------------------------------------------------

    def _connection(self, user: str, password: str):
        import ldap3
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_file))
        server = ldap3.Server(self.host, port=self.port, use_ssl=True, tls=tls,
                              connect_timeout=5, get_info=ldap3.NONE)
        return ldap3.Connection(server, user=user, password=password, receive_timeout=5)

    def admin(self):
        """A bound connection as the root DN (the directory's own administrator)."""
        connection = self._connection(ROOT_DN, self.root_password)
        if not connection.bind():
            raise RuntimeError(f"root bind failed: {connection.result}")
        return connection

    def binds(self, username: str, password: str) -> bool:
        """Does the directory accept `password` for the account (a plain LDAP client)?"""
        connection = self._connection(account_dn(username), password)
        try:
            return bool(connection.bind())
        finally:
            connection.unbind()

    def _seed(self) -> None:
        admin = self.admin()
        try:
            for dn, classes, attributes in (
                    (BASE_DN, ["dcObject", "organization"], {"dc": "pwportal", "o": "pwportal"}),
                    (ACCOUNTS_DN, ["organizationalUnit"], {"ou": "accounts"}),
                    (f"ou=services,{BASE_DN}", ["organizationalUnit"], {"ou": "services"}),
                    (f"ou=policies,{BASE_DN}", ["organizationalUnit"], {"ou": "policies"}),
                    (POLICY_DN, ["organizationalRole", "pwdPolicy"],
                     {"cn": "default", "pwdAttribute": "userPassword",
                      "pwdInHistory": str(HISTORY), "pwdMinLength": "8",
                      "pwdCheckQuality": "1", "pwdMaxAge": "0",
                      "pwdLockout": "TRUE", "pwdMaxFailure": str(LOCKOUT_AFTER),
                      "pwdLockoutDuration": str(LOCKOUT_SECONDS),
                      "pwdFailureCountInterval": str(LOCKOUT_SECONDS)}),
                    (SERVICE_DN, ["organizationalRole", "simpleSecurityObject"],
                     {"cn": "pwportal", "userPassword": self.service_password})):
                if not admin.add(dn, classes, attributes):
                    raise RuntimeError(f"could not add {dn}: {admin.result['description']}")
        finally:
            admin.unbind()

    def add_account(self, username: str, password: str | None = None) -> str:
        admin = self.admin()
        attributes = {"uid": username, "cn": username, "sn": username}
        if password is not None:
            attributes["userPassword"] = password
        try:
            if not admin.add(account_dn(username), ["inetOrgPerson"], attributes):
                raise RuntimeError(f"could not add {username}: {admin.result['description']}")
        finally:
            admin.unbind()
        return account_dn(username)

    def changed_time(self, username: str) -> str | None:
        admin = self.admin()
        try:
            admin.search(account_dn(username), "(objectClass=*)", search_scope="BASE",
                         attributes=["pwdChangedTime"])
            values = admin.response[0]["attributes"].get("pwdChangedTime") if \
                admin.response else None
            return values[0] if values else None
        finally:
            admin.unbind()

    def locked_time(self, username: str) -> str | None:
        """ppolicy's `pwdAccountLockedTime` of the entry (None: not locked), as the root DN
        reads it."""
        admin = self.admin()
        try:
            admin.search(account_dn(username), "(objectClass=*)", search_scope="BASE",
                         attributes=["pwdAccountLockedTime"])
            values = admin.response[0]["attributes"].get("pwdAccountLockedTime") if \
                admin.response else None
            return values[0] if values else None
        finally:
            admin.unbind()

    def lock_by_wrong_binds(self, username: str) -> None:
        """What a phone with an old password does: LOCKOUT_AFTER wrong binds, and the entry
        is locked (RuntimeError if ppolicy did not lock it)."""
        for attempt in range(LOCKOUT_AFTER):
            if self.binds(username, f"Gammalt-Losen-{attempt}"):
                raise RuntimeError("a wrong password bound")
        if self.locked_time(username) is None:
            raise RuntimeError(f"{LOCKOUT_AFTER} wrong binds did not lock {username}")
