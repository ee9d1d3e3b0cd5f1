# File-form entry: a function returning the app, and an old-style launch()
# without root_path.
import sys


class OldBlocks:
    def launch(self, server_name, server_port):
        print('old launch', server_name, server_port)


def make():
    return OldBlocks()


demo = make

if __name__ == '__main__':
    sys.exit('must not run as __main__')
