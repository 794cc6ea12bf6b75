"""``python -m runplane.cli``."""

from runplane.cli import main

main()
