"""The petition app's views, one concern a module, routed by petition/urls.py."""
