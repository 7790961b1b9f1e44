"""The web console: server-rendered pages under ``/console`` that call the JSON API from small static
scripts (no build step, no inline script), in Chinese (the default) or English."""
