"""Text placed in an email header (a subject built from names people typed).

Django refuses to send a message whose subject holds a CR or LF (`BadHeaderError`, to stop
header injection), so a name with a line break in it used to stop the notification silently.

Invariants:
- `one_line(text)` holds no CR, LF or other control character: every run of whitespace and
  control characters becomes one space, so nothing can be injected and nothing is refused;
- the text is otherwise unchanged (letters of every script kept), trimmed, and cut to `limit`.
"""

from __future__ import annotations

import re

_BREAKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: object, limit: int = 200) -> str:
    """`text` as a single header line (see the module)."""
    return _BREAKS.sub(" ", str(text)).strip()[:limit]
