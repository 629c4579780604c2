"""The petition app's views, one concern a module; petition/urls.py, organiser_urls.py,
api_urls.py and log_urls.py route to them.

Modules import each other downward only: `common` (letter lookup, access checks), `one_click`
and `public_reads` are at the bottom, `openapi` is the API's document, and every page module
builds on those.
"""
