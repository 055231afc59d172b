"""Segments: a validated filter tree (`schema`) compiled to one ORM query (`compiler`)."""
