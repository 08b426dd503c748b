"""The `continuum` command and its subcommands (operator tools, not on the request path)."""
