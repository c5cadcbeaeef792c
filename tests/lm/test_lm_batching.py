import numpy as np
import torch

from elmo_lab.bilm.chars import batch_to_char_ids
from elmo_lab.lm.batching import IGNORE, EncodedCorpus, RowCollator, pack_rows
from elmo_lab.lm.loaders import make_loader
from elmo_lab.data.vocab import Vocabulary


def test_pack_rows_keeps_whole_sentences_and_splits_long_ones_with_overlap():
    starts = np.array([0, 4, 7, 20])
    lengths = np.array([4, 3, 13, 5])
    rows = pack_rows(starts, lengths, window=8).tolist()
    # 4+3 fit in 8; the 13-token sentence becomes [7,8) + [14,6) (overlap of one); 6 + 5 > 8 -> new row.
    assert rows == [[0, 7], [7, 8], [14, 6], [20, 5]]


def test_targets_are_next_and_previous_words_within_sentences():
    sentences = [["a", "b"], ["c"]]
    vocab = Vocabulary.from_sentences(sentences)
    corpus = EncodedCorpus(sentences, vocab)
    batch = next(iter(make_loader(corpus, window=16, batch_size=4, shuffle=False)))
    ids = {w: vocab.id(w) for w in ["<S>", "</S>", "a", "b", "c"]}
    # stream: <S> a b </S> <S> c </S>  in one row
    assert batch.forward_targets[0].tolist() == [ids["a"], ids["b"], ids["</S>"], IGNORE, ids["c"], ids["</S>"],
                                                 IGNORE]
    assert batch.backward_targets[0].tolist() == [IGNORE, ids["<S>"], ids["a"], ids["b"], IGNORE, ids["<S>"],
                                                  ids["c"]]
    expected_chars = batch_to_char_ids([["a", "b"], ["c"]])  # (2, 4, 50)
    assert torch.equal(batch.char_ids[0, :4], expected_chars[0])
    assert torch.equal(batch.char_ids[0, 4:7], expected_chars[1, :3])


def test_every_prediction_is_scored_exactly_once(tiny_sentences):
    sentences = tiny_sentences[:50] + [["w"] * 40]  # one sentence longer than the window
    vocab = Vocabulary.from_sentences(sentences)
    corpus = EncodedCorpus(sentences, vocab)
    for window in (5, 12, 64):
        loader = make_loader(corpus, window=window, batch_size=7, shuffle=True, seed=1)
        n_f = sum(int((b.forward_targets != IGNORE).sum()) for b in loader)
        n_b = sum(int((b.backward_targets != IGNORE).sum()) for b in loader)
        assert n_f == n_b == corpus.n_predictions == sum(len(s) + 1 for s in sentences)


def test_padding_rows_have_no_chars_and_no_targets():
    sentences = [["a"] * 6, ["b"]]
    vocab = Vocabulary.from_sentences(sentences)
    corpus = EncodedCorpus(sentences, vocab)
    rows = pack_rows(corpus.sentence_starts, corpus.sentence_lengths, window=8)
    batch = RowCollator(corpus, rows)([0, 1])
    assert batch.char_ids.shape == (2, 8, 50)
    assert (batch.char_ids[1, 3:] == 0).all()
    assert (batch.forward_targets[1, 2:] == IGNORE).all() and (batch.backward_targets[1, 3:] == IGNORE).all()
