"""`python -m lrtui` runs the same entry point as the `lrtui` console script."""

try:
    from lrtui.cli import main
except KeyboardInterrupt:  # Ctrl+C while the first modules load: quiet, like later on
    raise SystemExit(130) from None

raise SystemExit(main())
