"""Make a source checkout importable from its virtual environment and install the `rtvoice` command.

The native module is built in place (rtvoice/_core*.so), so a .pth file pointing at the checkout is all
the environment needs; the console script is the same one `pip install .` would generate.
"""

import os
import sys
import sysconfig
from pathlib import Path

checkout = Path(sys.argv[1]).resolve()
site_packages = Path(sysconfig.get_paths()["purelib"])
pth = site_packages / "rtvoice-checkout.pth"
if not pth.exists() or pth.read_text().strip() != str(checkout):
    pth.write_text(f"{checkout}\n")

script = Path(sys.executable).parent / "rtvoice"
body = (
    f"#!{sys.executable}\n"
    "import sys\n"
    "from rtvoice.cli import main\n"
    "if __name__ == '__main__':\n"
    "    sys.exit(main())\n"
)
if not script.exists() or script.read_text() != body:
    script.write_text(body)
    os.chmod(script, 0o755)
