"""`python -m lrtui` runs the same entry point as the `lrtui` console script."""

from lrtui.cli import main

raise SystemExit(main())
