"""Platform profiles (upload limits and policy values) shipped as TOML data."""
