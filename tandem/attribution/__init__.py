"""Multi-touch attribution: pure engine (`tandem.attribution.engine`) and file CLI."""
