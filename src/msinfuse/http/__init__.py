"""HTTP plumbing shared by the API and the web UI: per-request database sessions and
sign-in, security middleware, error mapping. Neither entry point imports the other."""
