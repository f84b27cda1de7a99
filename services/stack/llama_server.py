"""A model server's process: llama-cpp-python's OpenAI-compatible server, started as
``python -m services.stack.llama_server [--use_extra_bufts] <llama_cpp.server options>``.

Two things differ from the stock server:

- llama.cpp's extra CPU buffer types (weight repacking, AMX tiles) are off unless
  ``--use_extra_bufts`` is given. On a CPU that advertises AMX inside a sandbox that traps
  its instructions (the 2-core machines this project is built on), the stock server loads
  the model, then dies with SIGILL on its first request.
- OpenMP's threads sleep instead of spinning between tokens (``OMP_WAIT_POLICY=PASSIVE``
  unless the environment sets it). Spinning threads of two busy servers on the same cores
  starve each other: measured on 2 cores beside another busy llama.cpp server, Gemma 3
  270M generated 0.9–2.1 tokens/s spinning and 14–19 tokens/s sleeping.
"""

from __future__ import annotations

import os
import sys

FLAG = "--use_extra_bufts"


def main(argv: list[str]) -> None:
    # Read once, when the OpenMP runtime loads with llama.cpp: set before the import.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import llama_cpp.llama_cpp as llama_lib  # the `local` extra

    if FLAG in argv:
        argv.remove(FLAG)
    else:
        defaults = llama_lib.llama_model_default_params

        def without_extra_buffers() -> object:
            params = defaults()
            params.use_extra_bufts = False
            return params

        # Read by llama_cpp.Llama at model load, through the module: patched here, in time.
        llama_lib.llama_model_default_params = without_extra_buffers
    from llama_cpp.server.__main__ import main as serve

    sys.argv = [sys.argv[0], *argv]
    # llama-cpp-python's server entry point is unannotated.
    serve()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main(sys.argv[1:])
