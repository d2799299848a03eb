"""`python -m pecus.agent` and the entry point of the single-file executable.

On Windows a frozen `pecus-agent.exe` started without arguments may have been started by the
service control manager: it then runs as the `PecusAgent` service. With arguments, or when no
service control manager is talking to it, it is the command line.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.platform == "win32" and len(sys.argv) == 1 and getattr(sys, "frozen", False):
        from pecus.agent.windows import run_as_service

        if run_as_service():
            return
    from pecus.agent.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
