"""`python -m api.cli ...` runs the `continuum` command."""

import sys

from api.cli.main import main

sys.exit(main())
