"""`dkim_key [--domain D] [--selector S] [--key-file PATH] [--new]`: the DKIM key every message
is signed with (`tandem.core.mail`), and the DNS records to publish for it.

Invariants:
- the private key is written owner-only (mode 0600, created so from the start) and is never
  printed; an existing key file is kept and its records printed again, unless `--new`
  replaces it (a new selector is the safe way to rotate: both records can live side by side);
- the TXT record printed is the public half of the key in that file, split into quoted strings
  of at most 255 characters (RFC 7208 3.3 / RFC 6376 3.6.2.2), ready to paste into a zone;
- after it come the settings to set (DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY_FILE) and
  SPF and DMARC guidance for the domain.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.management.base import CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tandem.core import mail
from tandem.core.commands import TandemCommand, refused

KEY_BITS = 2048
TXT_CHUNK = 255


def txt_record(public_der: bytes) -> str:
    """`v=DKIM1; k=rsa; p=<base64>` for a DER SubjectPublicKeyInfo."""
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(public_der).decode("ascii")


def quoted(value: str) -> str:
    """A TXT value as DNS zone strings: `"..." "..."`, each at most 255 characters."""
    chunks = [value[i : i + TXT_CHUNK] for i in range(0, len(value), TXT_CHUNK)]
    return " ".join(f'"{chunk}"' for chunk in chunks)


def _write_key(path: Path) -> rsa.RSAPrivateKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
    finally:
        os.close(fd)
    os.replace(draft, path)
    return key


def _read_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        raise refused(_("%(path)s is not a readable PEM private key: %(error)s") % {
            "path": path, "error": exc}) from None  # fmt: skip
    if not isinstance(key, rsa.RSAPrivateKey):
        raise refused(_("%(path)s holds no RSA key; DKIM needs one") % {"path": path})
    return key


class Command(TandemCommand):
    help = gettext_lazy("make the DKIM key messages are signed with; print the DNS records")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--domain", help=_("the signing domain (default: DKIM_DOMAIN, else the sender's)")
        )
        parser.add_argument(
            "--selector", help=_("the DNS selector (default: DKIM_SELECTOR, else tandemYYYYMM)")
        )
        parser.add_argument(
            "--key-file",
            help=_("where the private key is kept (default: DKIM_PRIVATE_KEY_FILE, else var/dkim)"),
        )
        parser.add_argument(
            "--new", action="store_true", help=_("replace an existing key file by a new key")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sender_domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2]
        domain = (options["domain"] or mail.setting("DKIM_DOMAIN") or sender_domain).strip().lower()
        if not domain or "." not in domain or domain.endswith(".localhost"):
            raise refused(_("--domain: give the domain mail is sent from (example.com)"))
        selector = (
            options["selector"]
            or mail.setting("DKIM_SELECTOR")
            or f"tandem{dt.datetime.now(dt.UTC):%Y%m}"
        ).strip()
        if not selector.replace("-", "").isalnum():
            raise refused(_("--selector: letters, digits and hyphens only"))
        path = Path(
            options["key_file"]
            or mail.setting("DKIM_PRIVATE_KEY_FILE")
            or Path(settings.VAR_DIR) / "dkim" / f"{selector}.pem"
        ).resolve()
        if path.exists() and not options["new"]:
            key = _read_key(path)
            self.stdout.write(_("Kept the existing key in %(path)s.") % {"path": path})
        else:
            key = _write_key(path)
            self.stdout.write(
                _("Wrote a new %(bits)s-bit key to %(path)s (owner-only, mode 0600).")
                % {"bits": KEY_BITS, "path": path}
            )
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        name = f"{selector}._domainkey.{domain}."
        out = self.stdout.write
        out("")
        out(_("1. Publish this DNS TXT record (DKIM):"))
        out(f"{name} IN TXT {quoted(txt_record(public))}")
        out("")
        out(_("2. Set these and restart Tandem (web and workers):"))
        out(f"DKIM_DOMAIN={domain}")
        out(f"DKIM_SELECTOR={selector}")
        out(f"DKIM_PRIVATE_KEY_FILE={path}")
        out("")
        out(_("3. SPF: one TXT record on %(domain)s naming every server that sends its mail, e.g.")
            % {"domain": domain})  # fmt: skip
        out(f'{domain}. IN TXT "v=spf1 include:<your SMTP provider> -all"')
        out("")
        out(_("4. DMARC: start by collecting reports, then tighten to quarantine or reject:"))
        out(f'_dmarc.{domain}. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@{domain}"')
        out("")
        out(_("DEFAULT_FROM_EMAIL must be an address at %(domain)s for DMARC to pass.")
            % {"domain": domain})  # fmt: skip
