"""``python -m blazingmq``: the command-line tool (see ``blazingmq --help``)."""

from ._cli import console_main

if __name__ == "__main__":
    console_main()
