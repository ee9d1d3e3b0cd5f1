# slipway launcher for plugin my-plugin@1.0.0 (generated; do not edit).
# Runs the Gradio app named by actions.gradio.entrypoint in
# config.yaml: the named attribute, else `demo`, else `app`; a
# function is called to get the app.  Lives at the plugin root.
import importlib
import importlib.util
import inspect
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
MODULE = 'plugin.gradio_interface'
MODULE_FILE = 'plugin/gradio_interface.py'
ATTR = 'app'
FALLBACKS = ('demo', 'app')


def load_module():
    sys.path.insert(0, ROOT)
    if MODULE:
        return importlib.import_module(MODULE)
    path = os.path.join(ROOT, MODULE_FILE)
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location('slipway_entry', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules['slipway_entry'] = module
    spec.loader.exec_module(module)
    return module


def find_app(module):
    names = [ATTR] if ATTR else []
    names += [n for n in FALLBACKS if n not in names]
    for name in names:
        obj = getattr(module, name, None)
        if obj is None:
            continue
        if not hasattr(obj, 'launch') and callable(obj):
            obj = obj()
        if hasattr(obj, 'launch'):
            return obj
    sys.exit('slipway: %s defines no Gradio app (looked for %s)'
             % (module.__name__, ', '.join(names)))


def main():
    app = find_app(load_module())
    kwargs = {
        'server_name': os.environ.get('GRADIO_SERVER_NAME') or '0.0.0.0',
        'server_port': int(os.environ.get('PORT') or
                           os.environ.get('GRADIO_SERVER_PORT') or '7860'),
        'root_path': os.environ.get('GRADIO_ROOT_PATH', ''),
    }
    try:
        params = inspect.signature(app.launch).parameters
        if 'root_path' not in params and not any(
                p.kind == p.VAR_KEYWORD for p in params.values()):
            del kwargs['root_path']
    except (TypeError, ValueError):
        pass
    app.launch(**kwargs)


if __name__ == '__main__':
    main()
