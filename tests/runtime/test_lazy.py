"""runtime.lazy: a module imported at the first attribute read."""

from __future__ import annotations

import subprocess
import sys


def test_a_lazy_module_imports_at_first_use_dotted_names_too() -> None:
    code = ("import sys\nfrom runtime.lazy import lazy\n"
            "m = lazy('email.charset')\nprint('email.charset' in sys.modules)\n"
            "print(m.Charset.__module__, 'email.charset' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "email.charset", "True"]
