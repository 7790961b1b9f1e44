"""arq worker service: settings and thin job functions that call into ``engine``."""
