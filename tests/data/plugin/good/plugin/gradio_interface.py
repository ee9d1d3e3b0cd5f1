# Test stand-in for a Gradio app (gradio is not installable here): an
# object with launch() that reports how it was launched.  The docs'
# entrypoint names `app` but the module defines `demo`: the launcher falls
# back to `demo`.
import json
import os


class FakeBlocks:
    def launch(self, server_name=None, server_port=None, root_path=None):
        print(json.dumps({
            'server_name': server_name,
            'server_port': server_port,
            'root_path': root_path,
            'params': json.loads(os.environ.get('PLUGIN_PARAMS', '{}')),
        }, sort_keys=True))


demo = FakeBlocks()
