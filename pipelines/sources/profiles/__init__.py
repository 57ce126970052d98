"""Built-in source profiles (TOML), found by name with ``--profile NAME``."""
