import sys

from signverse.cli.main import main

sys.exit(main())
