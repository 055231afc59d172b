"""Email: sandboxed templates, DKIM-signed sending, tracking, bounces."""
