"""``python -m dapr_agents_durable``: the command line."""

from dapr_agents_durable.cli import main

raise SystemExit(main())
