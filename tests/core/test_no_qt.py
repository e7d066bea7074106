"""The core must never import Qt: import every core module with Qt blocked."""
import subprocess
import sys

BLOCK = """
import sys, importlib, pkgutil
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'pyqtgraph', 'superqt', 'shiboken6'):
            raise ImportError('Qt imported from the core: ' + name)
sys.meta_path.insert(0, Block())
import segviewer.core
for mod in pkgutil.iter_modules(segviewer.core.__path__):
    importlib.import_module('segviewer.core.' + mod.name)
import segviewer.cli
print('ok', len(list(pkgutil.iter_modules(segviewer.core.__path__))))
"""


def test_core_imports_without_qt():
    out = subprocess.run([sys.executable, "-c", BLOCK], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")
