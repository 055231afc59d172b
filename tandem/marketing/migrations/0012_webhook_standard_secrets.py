"""Standard Webhooks secrets: `whsec_` + base64 of the HMAC key.

Hooks made before stored `whsec_<urlsafe token>` and signed with the UTF-8 bytes of that whole
text. Each readable secret becomes `whsec_` + base64(old text), so the key bytes stay the same:
the receiver's old secret still verifies `X-Tandem-Signature`, which these hooks keep sending
(`legacy_signature`) until their secret is rotated. The secrets stay Fernet-encrypted with the
key derived from SECRET_KEY (the derivation is repeated here: migrations import no app code).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import migrations, models


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(f"tandem.marketing.webhook-secret:{secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _reencode(apps: Any, schema_editor: Any) -> None:
    reaction_model = apps.get_model("marketing", "SegmentReaction")
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    for reaction in reaction_model.objects.filter(kind="webhook").exclude(secret_encrypted=""):
        secret = None
        for key in keys:
            try:
                secret = _fernet(key).decrypt(reaction.secret_encrypted.encode()).decode()
                break
            except InvalidToken:
                continue
        fields = {"legacy_signature": True}
        if secret is not None:
            standard = "whsec_" + base64.b64encode(secret.encode()).decode()
            fields["secret_encrypted"] = _fernet(settings.SECRET_KEY).encrypt(standard.encode())
            fields["secret_encrypted"] = fields["secret_encrypted"].decode()
        reaction_model.objects.filter(pk=reaction.pk).update(**fields)


def _decode(apps: Any, schema_editor: Any) -> None:
    reaction_model = apps.get_model("marketing", "SegmentReaction")
    for reaction in reaction_model.objects.filter(legacy_signature=True):
        try:
            standard = _fernet(settings.SECRET_KEY).decrypt(reaction.secret_encrypted.encode())
        except InvalidToken:
            continue
        old = base64.b64decode(standard.decode().removeprefix("whsec_")).decode()
        token = _fernet(settings.SECRET_KEY).encrypt(old.encode()).decode()
        reaction_model.objects.filter(pk=reaction.pk).update(secret_encrypted=token)


class Migration(migrations.Migration):
    dependencies = [("marketing", "0011_send_interrupted")]

    operations = [
        migrations.AddField(
            model_name="segmentreaction",
            name="legacy_signature",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(_reencode, _decode),
    ]
