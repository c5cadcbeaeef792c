"""``python -m elmo_lab <command> ...``: the project's command-line tools.

Adding a command takes one function and one line:

1. In your module write ``def add_NAME_command(parser: argparse.ArgumentParser) -> Callable[[Namespace], None]``
   that declares the command's arguments on ``parser`` and returns the function running it (see
   ``elmo_lab.cli.embed.add_embed_command``).
2. Add ``"NAME": ("package.module:add_NAME_command", "one-line help"),`` to ``COMMANDS`` below.

Only the chosen command's module is imported.  A command reports bad user input by raising a subclass of
``elmo_lab.util.errors.UserError``; the user then sees one line
``error: <message>`` on stderr and exit status 2, without a traceback.  Any other exception is a bug and keeps its
traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Sequence

from elmo_lab.util.errors import UserError

# name -> ("module:function that configures the sub-parser and returns the runner", help)
COMMANDS: dict[str, tuple[str, str]] = {
    "embed": ("elmo_lab.cli.embed:add_embed_command",
              "write the biLM layers of each line of a text file to HDF5 (like bilm-tf's dump_bilm_embeddings)"),
    "fetch": ("elmo_lab.cli.fetch:add_fetch_command",
              "put datasets (conll2003, squad, sst) and published biLMs into the cache ahead of time"),
    "perplexity": ("elmo_lab.lm.perplexity:add_perplexity_command",
                   "forward, backward and average perplexity of a biLM with a softmax (pretrain.py exports) on a corpus"),
    "report": ("elmo_lab.cli.report:add_report_command", "compare sweep runs: mean ± std over seeds, verdicts against the none baseline, plots"),
    "cache": ("elmo_lab.cli.cache:add_cache_command", "inspect (info) or clear the biLM layer cache shared by runs"),
}

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _load(target: str):
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The top-level parser; only the command named in ``argv`` (if any) gets its arguments declared."""
    parser = argparse.ArgumentParser(prog="python -m elmo_lab", description="elmo_lab command-line tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (target, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            runner: Callable[[argparse.Namespace], None] = _load(target)(command_parser)
            command_parser.set_defaults(run=runner)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, map user errors to ``error: ...`` and exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        args.run(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("error: interrupted (rerun the same command to resume where it can)", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
