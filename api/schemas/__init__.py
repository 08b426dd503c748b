"""HTTP request and response shapes, kept apart from the domain's events."""
