"""The tracking app's pages and endpoints, one module per audience.

- `ingest`: the Segment-compatible collection API (/v1/batch, /v1/track, …), for servers and
  browsers;
- `public`: tracked-link redirects and embeddable website forms, for visitors;
- `rules`: the channel rules editor and reclassification runs, for the people who set Tandem up;
- `setup`: sources and write keys, website forms and tracked links (`manage_tracking`);
- `consent`: a contact's consent ledger and subscriptions, for whoever may see the contact.
"""
