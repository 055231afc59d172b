"""The tracking app's pages and endpoints, one module per audience.

- `ingest`: the Segment-compatible collection API (/v1/batch, /v1/track, …), for servers and
  browsers;
- `public`: tracked-link redirects and embeddable website forms, for visitors;
- `rules`: the channel rules editor and reclassification runs, for the people who set Tandem up.
"""
