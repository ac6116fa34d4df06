"""composer: a daemonless compose engine. The CLI lives in composer.cli; the loader in composer.loader."""

from composer import bundle

__version__ = "0.1.0"
__all__ = ["__version__"]

bundle.install()  # the modules every command imports next, from one file (composer/bundle.py)
