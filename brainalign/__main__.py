import sys

from brainalign.cli import main

sys.exit(main())
