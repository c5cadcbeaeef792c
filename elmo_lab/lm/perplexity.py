"""Perplexity of a biLM with a softmax on a corpus, and the ``python -m elmo_lab perplexity`` command.

Perplexities are per scored prediction (words plus one sentence-boundary token per sentence and direction), exact
full softmax, with the text batched as in training: ``rows`` packs whole sentences into rows that start from zero
LSTM state (``batching``); ``stream`` reads the text as one stream with the state carried, so each sentence sees the
text before it (``streams``; the PTB literature's protocol).  ``average`` is ``exp`` of the mean of the forward and
backward mean NLLs (bilm-tf's definition).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable, Sequence

import torch

from elmo_lab.bilm.model import CharBiLMBase

from elmo_lab.config.choices import BATCHINGS
from elmo_lab.lm.batching import EncodedCorpus

from elmo_lab.lm.loaders import make_loader
from elmo_lab.lm.corpora import CorpusError, CorpusSpec, Sentences, load_corpus, ptb_split, read_text_file
from elmo_lab.lm.module import lm_nll, perplexities
from elmo_lab.lm.softmax import FullSoftmax
from elmo_lab.data.vocab import Vocabulary


BATCHING_WORDS = {"rows": "packed sentence rows, zero initial state",
                  "stream": "one stream per batch row, LSTM state carried between windows"}


@torch.no_grad()
def evaluate_perplexity(bilm: CharBiLMBase, softmax: FullSoftmax, vocab: Vocabulary, sentences: Sentences,
                        window: int = 64, batch_size: int = 64,
                        progress: Callable[[int, int], None] | None = None,
                        batching: str = "rows", limit_batches: int | float | None = None) -> dict[str, float]:
    """``{"forward", "backward", "average", "n_predictions"}`` of ``sentences`` (eval mode, no gradients).

    ``limit_batches``: only the first N batches (an int) or that fraction of them (a float), as Lightning's
    ``limit_val_batches`` says; ``None`` (or 1.0): all.  Stream batching leaves the biLM's carried state as it was."""
    corpus = EncodedCorpus(sentences, vocab, bilm.options.max_characters_per_token)
    if corpus.n_tokens == 0:
        raise CorpusError("no sentences to evaluate")
    was_training = (bilm.training, softmax.training)
    bilm.eval(), softmax.eval()
    device = next(bilm.parameters()).device
    totals = [0.0, 0.0, 0, 0]
    loader = make_loader(corpus, window, batch_size, shuffle=False, batching=batching)
    carried = bilm.carried_state
    n_batches = len(loader)
    if isinstance(limit_batches, float):
        n_batches = max(1, int(n_batches * limit_batches))
    elif limit_batches is not None:
        n_batches = min(n_batches, int(limit_batches))
    try:
        for i, batch in zip(range(n_batches), loader):
            nll_f, nll_b, n_f, n_b = lm_nll(bilm, softmax, batch.to(device))
            totals = [totals[0] + float(nll_f), totals[1] + float(nll_b), totals[2] + n_f, totals[3] + n_b]
            if progress is not None:
                progress(i + 1, n_batches)
    finally:
        bilm.train(was_training[0]), softmax.train(was_training[1])
        bilm.carried_state = carried
    return {**perplexities(*totals), "n_predictions": totals[2]}


def corpus_sentences(corpus: str, split: str = "test", tokenize: bool = False) -> Sentences:
    """``ptb`` / ``imdb`` / ``general`` / ``mix`` (a split) or the path of a text file (one tokenised sentence per
    line).  ``general`` is the held-out split of the general-English sources of ``corpus=mix`` without IMDB."""
    if corpus == "ptb":
        return ptb_split(split)
    if corpus == "imdb":
        return load_corpus(CorpusSpec(name="imdb"))[split]
    if corpus in ("general", "mix"):
        from elmo_lab.lm.corpus_mix import GENERAL_SOURCES

        sources = list(GENERAL_SOURCES) if corpus == "general" else ["imdb", *GENERAL_SOURCES]
        return load_corpus(CorpusSpec(name="mix", sources=sources))[split]
    if Path(corpus).is_file():
        return read_text_file(corpus, tokenize)
    raise CorpusError(f"--corpus: expected ptb, imdb, general, mix or an existing text file, got {corpus!r}")


def run_perplexity(args: argparse.Namespace) -> None:
    from elmo_lab.bilm.options import BiLMConfigError
    from elmo_lab.bilm.pretrained import PUBLISHED, resolve_bilm
    from elmo_lab.bilm.weights import WeightFileError, load_bilm

    from elmo_lab.lm.export import load_softmax

    if args.bilm in PUBLISHED:
        raise WeightFileError(f"--bilm {args.bilm}: the published ELMo models ship no softmax, so they have no "
                              "perplexity; use 'default' or a directory written by pretrain.py")
    options_file, weights_file = resolve_bilm(args.bilm)
    bilm = load_bilm(options_file, weights_file)
    if args.batching == "stream" and not bilm.carries_state:
        raise BiLMConfigError("--batching stream carries LSTM state between windows; a transformer biLM has none "
                              "(use --batching rows)")
    softmax, vocab = load_softmax(Path(options_file).parent, bilm.options.projection_dim)
    torch.set_num_threads(args.threads) if args.threads else None
    sentences = corpus_sentences(args.corpus, args.split, args.tokenize)
    if args.max_sentences is not None:
        sentences = sentences[: args.max_sentences]
    if args.lowercase:  # the same text as a lowercased task (MR) would give it; OOV words predict <UNK>
        sentences = [[token.lower() for token in sentence] for sentence in sentences]
    tokens = [token for sentence in sentences for token in sentence]
    unknown = sum(vocab.id(token) == vocab.unk_id for token in tokens) / max(len(tokens), 1)
    result = evaluate_perplexity(bilm, softmax, vocab, sentences, args.window, args.batch_size,
                                 batching=args.batching)
    result["unknown_token_share"] = unknown
    if args.json:
        print(json.dumps(result))
    else:
        print(f"forward {result['forward']:.2f}  backward {result['backward']:.2f}  "
              f"average {result['average']:.2f}  ({result['n_predictions']} predictions per direction, "
              f"{args.batching} batching; {100 * unknown:.1f} % of the tokens are out of the vocabulary)")


def add_perplexity_command(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], None]:
    """Declare ``perplexity``'s arguments (registered in ``elmo_lab.__main__.COMMANDS``)."""
    parser.add_argument("--bilm", default="default",
                        help="'default', or a directory written by pretrain.py (options.json, weights.hdf5, "
                             "lm_softmax.hdf5, vocab.txt); published models have no softmax and are refused")
    parser.add_argument("--corpus", required=True, help="ptb, imdb, general (the general-English held-out split of corpus=mix), mix (IMDB + "
                             "general), or a text file (one sentence per line)")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"], help="for ptb / imdb / general / mix")
    parser.add_argument("--tokenize", action="store_true", help="the file is raw text: split and tokenise it")
    parser.add_argument("--max-sentences", type=int, default=None, help="evaluate the first N sentences only")
    parser.add_argument("--lowercase", action="store_true",
                        help="lowercase every token first (how a lowercased task text such as MR looks to the biLM)")
    parser.add_argument("--batching", default="rows", choices=BATCHINGS,
                        help="rows: whole sentences packed into rows, zero state at each row start; stream: the text "
                             "as one stream per batch row, state carried between windows (the PTB literature's way)")
    parser.add_argument("--window", type=int, default=64, help="tokens per packed row or stream window")
    parser.add_argument("--batch-size", type=int, default=64, help="rows per batch (stream: parallel segments)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return run_perplexity


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m elmo_lab.lm.perplexity``), same arguments as the subcommand."""
    import sys

    from elmo_lab.bilm.options import BiLMConfigError
    from elmo_lab.bilm.weights import WeightFileError

    from elmo_lab.data.vocab import VocabError

    parser = argparse.ArgumentParser(prog="python -m elmo_lab perplexity")
    run = add_perplexity_command(parser)
    args = parser.parse_args(argv)
    try:
        run(args)
    except (BiLMConfigError, WeightFileError, CorpusError, VocabError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
