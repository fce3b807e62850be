#!/usr/bin/env python3
"""Execute notebooks headless with the repo's Deno kernel (Debian's nbclient).

Usage: /usr/bin/python3 tasks/run_notebooks.py OUT_DIR NOTEBOOK...

The Deno kernel sometimes publishes a cell's output a few ms after reporting
idle; stock nbclient stops listening at idle and drops it. GraceClient keeps
reading the cell's iopub messages for a short grace period, so executed
notebooks are complete every time. Exit 1 if any cell errors.
"""
import os
import queue
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellExecutionError
from nbclient.util import ensure_async

GRACE_SECONDS = 0.5


class GraceClient(NotebookClient):
    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        await super()._async_poll_output_msg(parent_msg_id, cell, cell_index)
        while True:  # late output after idle
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=GRACE_SECONDS))
            except queue.Empty:
                return
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    pass


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out_dir, paths = sys.argv[1], sys.argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    failed = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        client = GraceClient(nb, kernel_name="deno", timeout=900,
                             resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
        name = os.path.basename(path)
        try:
            client.execute()
            print(f"notebooks: {name}: ok", file=sys.stderr)
        except CellExecutionError as e:
            failed += 1
            print(f"notebooks: {name}: cell error: {str(e).splitlines()[-1] if str(e) else e}", file=sys.stderr)
        nbformat.write(nb, os.path.join(out_dir, name))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
