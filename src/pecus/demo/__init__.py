"""`pecus demo`: the whole platform on this machine, on real code paths only.

The database (embedded PostgreSQL, or DATABASE_URL) is migrated; a demo farm, its owner and the
simulated DelPro source are made once and reused on the next run (`provision`, `source`); the
API runs as `pecus serve` and the agent as `pecus-agent run` with a generated config, both as
child processes (`children`); the owner's setup that a farmer does on the dashboard — agent key,
notification target — goes through the API (`owner`); a local HTTP receiver is the notification
inbox (`inbox`); a "live robot" appends milkings to the source as real time passes (`source`);
`run` ties them together and reports in the terminal.

Everything the demo keeps lives in `$PECUS_HOME/demo/`; deleting that folder starts over.
"""

from pecus.demo.run import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
