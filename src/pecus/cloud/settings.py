"""Cloud configuration from the environment (12-factor, as Render passes it)."""

from __future__ import annotations

import os
from pathlib import Path


def pecus_home() -> Path:
    """Folder for local state (embedded database, demo files): PECUS_HOME or ~/.local/share/pecus."""
    home = os.environ.get("PECUS_HOME")
    path = Path(home) if home else Path.home() / ".local" / "share" / "pecus"
    path.mkdir(parents=True, exist_ok=True)
    return path
