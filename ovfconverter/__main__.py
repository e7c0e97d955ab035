"""``python -m ovfconverter``: the same as the ``ovfconverter`` command."""

import sys

from ovfconverter.cli.main import main

sys.exit(main())
