"""Helpers both apps use, each named for what it does. Nothing here imports an app: lib sits
below accounts and petition."""
