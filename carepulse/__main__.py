"""``python -m carepulse``: the same command line as the ``carepulse`` script."""

from carepulse.cli import main

main()
