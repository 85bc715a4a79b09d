"""Templates shipped inside the package as ``evidence_kit.templates`` (complaints, pages, case.toml)."""
