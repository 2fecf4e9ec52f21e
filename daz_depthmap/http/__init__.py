"""The HTTP routes: the API for scripts and the page's preview route."""
