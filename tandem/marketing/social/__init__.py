"""Social posts: a calendar, publishing through one adapter per network, statistics imports."""
