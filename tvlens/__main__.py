"""``python -m tvlens`` runs the command line."""

from tvlens.cli import main

raise SystemExit(main())
