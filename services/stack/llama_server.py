"""A model server's process: llama-cpp-python's OpenAI-compatible server, started as
``python -m services.stack.llama_server [--use_extra_bufts] <llama_cpp.server options>``.

The one thing it adds: llama.cpp's extra CPU buffer types (weight repacking, AMX tiles) are
off unless ``--use_extra_bufts`` is given. On a CPU that advertises AMX inside a sandbox
that traps its instructions (the 2-core machines this project is built on), the stock
server loads the model, then dies with SIGILL on its first request; without the extra
buffers it runs, a little slower where they would have worked.
"""

from __future__ import annotations

import sys

FLAG = "--use_extra_bufts"


def main(argv: list[str]) -> None:
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
    serve()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main(sys.argv[1:])
