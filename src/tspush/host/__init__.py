"""CPython-only parts of the agent: transport, config, sources, outputs."""
