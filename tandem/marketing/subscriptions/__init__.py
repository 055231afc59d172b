"""Subscription types: defaults, management (page and API), subscribe/unsubscribe by API."""
