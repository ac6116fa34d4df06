"""The command line: `composer <command>`, mirroring `docker compose` plus podman-like nouns."""
