"""composer: a daemonless compose engine. The CLI lives in composer.cli; the loader in composer.loader."""

__version__ = "0.1.0"
__all__ = ["__version__"]
