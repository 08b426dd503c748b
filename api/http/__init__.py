"""The request path: the app factory, middleware, error mapping, route dependencies."""
