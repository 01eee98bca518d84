import sys

from rtvoice.cli import main

sys.exit(main())
