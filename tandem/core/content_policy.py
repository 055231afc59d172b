"""Content Security Policy exceptions: the one place a page may widen the policy of
`CONTENT_SECURITY_POLICY` (config/settings.py), each with its reason.

Invariants:
- no exception allows script: every page runs only Tandem's own script files;
- an email preview is shown in a sandboxed frame (`<iframe sandbox srcdoc=…>`: no script, no
  same-origin access). A srcdoc frame inherits its page's policy, so the pages holding one allow
  images from anywhere, as the email shows them in a mail client. Its styles are attributes
  (the template sanitiser keeps no `<style>` element), which every page allows already.
"""

from __future__ import annotations

from typing import Any

from csp.decorators import csp_update

EMAIL_PREVIEW_POLICY: dict[str, Any] = {"img-src": ["https:", "http:"]}

email_preview_policy = csp_update(EMAIL_PREVIEW_POLICY)
