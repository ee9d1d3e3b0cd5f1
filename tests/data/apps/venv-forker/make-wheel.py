"""Write a minimal pure-Python wheel (slipway_test_dep 1.0) into the
directory given, so a requirements.txt can install it without an index:
the venv runtime's pip install is tested offline."""
import os
import sys
import zipfile

NAME = "slipway_test_dep"
FILES = {
    NAME + ".py": 'VALUE = "installed from a wheel"\n',
    NAME + "-1.0.dist-info/METADATA":
        "Metadata-Version: 2.1\nName: slipway-test-dep\nVersion: 1.0\n",
    NAME + "-1.0.dist-info/WHEEL":
        "Wheel-Version: 1.0\nGenerator: slipway-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
}
FILES[NAME + "-1.0.dist-info/RECORD"] = "".join(
    "%s,,\n" % n for n in list(FILES) + [NAME + "-1.0.dist-info/RECORD"])

out = os.path.join(sys.argv[1], NAME + "-1.0-py3-none-any.whl")
with zipfile.ZipFile(out, "w") as z:
    for name, text in FILES.items():
        z.writestr(name, text)
print(os.path.basename(out))
