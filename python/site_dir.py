"""Where `meson install` should put the module: the directory of this
Python's own site-packages that lies in the install prefix (for Debian's
python3 and the prefix /usr/local, /usr/local/lib/python3.X/dist-packages,
which meson's choice, .../python3/dist-packages, is not), so that this
Python imports it without PYTHONPATH. Prints nothing for a prefix where it
has none (a prefix of one's own): meson's choice then stands.

Usage: python3 site_dir.py PREFIX
"""
import os
import site
import sys

prefix = os.path.normpath(sys.argv[1])
for d in site.getsitepackages():
    rel = os.path.relpath(os.path.normpath(d), prefix)
    # Directly in the prefix's lib/ (not in /usr/local for the prefix /usr).
    if rel.split(os.sep)[0] in ("lib", "lib64"):
        print(d)
        break
