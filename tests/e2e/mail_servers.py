"""Real mail servers on loopback for the e-mail channel's tests.

`Dovecot`: a private Dovecot (IMAP and LMTP) with its own configuration in a temporary folder
— one passwd-file user with a maildir, listening on 127.0.0.1 on free ports, logging to a
file, no system configuration read. Mail is put into it the way a mail server does, over
LMTP (`deliver`). As root its mail processes run as `nobody` (Dovecot refuses root for mail);
as anyone else, as that user.

`SmtpCapture`: an aiosmtpd server that keeps every mail it is given (`mails`), and can be
told to refuse the next ones (`refuse`) with a temporary (4xx) or permanent (5xx) answer.

Without Dovecot's binaries the fixtures skip with the reason; `.ci/run` installs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
USER = "support@acme.test"
PASSWORD = "p@ss w0rd/1?#"  # needs percent-encoding in a URL: the URL parser must undo it
READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_greeting(port: int, prefix: bytes, deadline: float, log: Path) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(200).startswith(prefix):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            shown = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
            raise RuntimeError(f"Dovecot did not answer on port {port}:\n{shown}")
        time.sleep(0.05)


@dataclass
class Dovecot:
    root: Path
    imap_port: int = 0
    lmtp_port: int = 0
    user: str = USER
    password: str = PASSWORD
    # More configuration lines (a test's server without IDLE: imap_capability = …).
    extra: str = ""
    # TLS on (imaps on `imaps_port`, STARTTLS on the plain port) with a certificate for
    # 127.0.0.1 signed by a test authority: its file is `ca_file` (trusted through
    # SSL_CERT_FILE by the test).
    tls: bool = False
    imaps_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    def imap_url(self, folder: str = "INBOX", *, imaps: bool = False) -> str:
        scheme, port = ("imaps", self.imaps_port) if imaps else ("imap", self.imap_port)
        return (
            f"{scheme}://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{port}/{folder}"
        )

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.pem"

    def make_certificates(self) -> None:
        make_certificates(self.root)

    def tls_config(self) -> str:
        if not self.tls:
            return "ssl = no\n"
        return f"ssl = yes\nssl_cert = <{self.root}/server.pem\nssl_key = <{self.root}/server.key\n"

    def write_config(self) -> None:
        (self.root / "run").mkdir(parents=True, exist_ok=True)
        (self.root / "state").mkdir(exist_ok=True)
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        if os.getuid() == 0:
            account = pwd.getpwnam("nobody")
            uid, gid = account.pw_uid, account.pw_gid
            login = internal = "nobody"
            for known in ("dovenull", "dovecot"):
                with contextlib.suppress(KeyError):
                    pwd.getpwnam(known)
                    if known == "dovenull":
                        login = known
                    else:
                        internal = known
            os.chown(home, uid, gid)
        else:
            uid, gid = os.getuid(), os.getgid()
            login = internal = pwd.getpwuid(uid).pw_name
        (self.root / "passwd").write_text(
            f"{self.user}:{{PLAIN}}{self.password}:{uid}:{gid}::{home}/mail::\n"
        )
        self.config.write_text(
            f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.log}
info_log_path = {self.log}
protocols = imap lmtp
listen = 127.0.0.1
{self.tls_config()}disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login}
default_internal_user = {internal}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mailbox_idle_check_interval = 1 secs
lmtp_save_to_detail_mailbox = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
{self.extra}
"""
        )

    def start(self) -> None:
        self.imap_port = self.imap_port or free_port()
        self.lmtp_port = self.lmtp_port or free_port()
        if self.tls:
            self.imaps_port = self.imaps_port or free_port()
            self.make_certificates()
        self.write_config()
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "stderr.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        _wait_for_greeting(self.imap_port, b"* OK", deadline, self.log)
        _wait_for_greeting(self.lmtp_port, b"220", deadline, self.log)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def deliver(self, mail: bytes | EmailMessage, to: str = "") -> None:
        """Put a mail into the mailbox as a mail server does (LMTP)."""
        raw = mail.as_bytes(policy=email.policy.SMTP) if isinstance(mail, EmailMessage) else mail
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=20) as lmtp:
            lmtp.sendmail("sender@outside.test", [to or self.user], raw)

    def kick(self) -> None:
        """Drop every IMAP connection of the user, as a server restart or a network does."""
        subprocess.run(
            [DOVEADM, "-c", str(self.config), "kick", self.user],
            check=True,
            capture_output=True,
            timeout=20,
        )

    async def deliver_async(self, mail: bytes | EmailMessage, to: str = "") -> None:
        await asyncio.to_thread(self.deliver, mail, to)


def make_certificates(root: Path) -> None:
    """In `root`: ca.pem, a test authority, and server.pem / server.key, a certificate it
    signed for 127.0.0.1 and localhost."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the TLS tests need it to make a certificate")
    days = "2"

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", days,
            "-keyout", str(root / "ca.key"), "-out", str(root / "ca.pem"),
            "-subj", "/CN=eadesk test authority")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(root / "server.key"),
            "-out", str(root / "server.csr"), "-subj", "/CN=127.0.0.1")  # fmt: skip
    (root / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", str(root / "server.csr"), "-CA", str(root / "ca.pem"),
            "-CAkey", str(root / "ca.key"), "-CAcreateserial", "-days", days,
            "-out", str(root / "server.pem"), "-extfile", str(root / "san.ext"))  # fmt: skip
    os.chmod(root / "server.key", 0o644)


def dovecot_available() -> bool:
    return Path(DOVECOT).is_file() and os.access(DOVECOT, os.X_OK)


@contextlib.contextmanager
def running_dovecot(extra: str = "", tls: bool = False) -> Iterator[Dovecot]:
    if not dovecot_available():
        pytest.skip(
            "Dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd; .ci/run "
            "does): the e-mail tests need a real IMAP server"
        )
    root = Path(tempfile.mkdtemp(prefix="eadesk-dovecot-"))
    os.chmod(root, 0o755)
    server = Dovecot(root, extra=extra, tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


# ---- SMTP: a capturing server ----------------------------------------------------------------


@dataclass
class Captured:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpCapture:
    port: int = 0
    mails: list[Captured] = field(default_factory=list)
    # The answers for the next DATA commands ("451 4.3.0 try later"), one each.
    refusals: list[str] = field(default_factory=list)
    # Addresses refused at RCPT TO, with the answer ("550 5.1.1 User unknown").
    refused: dict[str, str] = field(default_factory=dict)
    # "smtps": TLS from the start; "starttls": STARTTLS offered, and a login only after it.
    # The certificate is in `certificates` (make_certificates).
    tls: str = ""
    certificates: Path | None = None
    # A login it requires ("" for none) and the logins it saw.
    user: str = ""
    password: str = ""
    logins: list[str] = field(default_factory=list)
    controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def refuse(self, answer: str, times: int = 1) -> None:
        self.refusals.extend([answer] * times)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusals:
            return self.refusals.pop(0)
        self.mails.append(
            Captured(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
        )
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        login = data.login.decode() if isinstance(data.login, bytes) else str(data.login)
        password = data.password.decode() if isinstance(data.password, bytes) else data.password
        ok = (login, password) == (self.user, self.password)
        if ok:
            self.logins.append(login)
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        import ssl

        from aiosmtpd.controller import Controller

        self.port = free_port()
        options: dict[str, Any] = {}
        context = None
        if self.tls:
            assert self.certificates is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(
                self.certificates / "server.pem", self.certificates / "server.key"
            )
        if self.tls == "starttls":
            options["tls_context"] = context
        if self.user:
            options.update(
                authenticator=self.authenticate,
                auth_required=True,
                # Implicit TLS: aiosmtpd does not see it as TLS; STARTTLS: a login only after.
                auth_require_tls=self.tls == "starttls",
            )
        self.controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=context if self.tls == "smtps" else None,
            **options,
        )
        self.controller.start()

    @property
    def login_url(self) -> str:
        scheme = "smtps" if self.tls == "smtps" else "smtp"
        who = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}@"
        return f"{scheme}://{who}127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
