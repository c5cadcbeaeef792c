"""Stream batching: windows of one token stream per row, each direction with its own input and carried state."""
import pytest
import torch

from elmo_lab.bilm.model import BiLM
from elmo_lab.bilm.options import BiLMOptions
from elmo_lab.lm.batching import IGNORE, EncodedCorpus
from elmo_lab.lm.loaders import make_loader
from elmo_lab.lm.datamodule import LMDataModule
from elmo_lab.lm.module import LMConfigError, lm_nll
from elmo_lab.lm.perplexity import evaluate_perplexity
from elmo_lab.lm.softmax import FullSoftmax
from elmo_lab.lm.streams import StreamLoader, circular_segments, sentence_segments
from elmo_lab.data.vocab import Vocabulary


def _corpus(sentences):
    vocab = Vocabulary.from_sentences(sentences)
    return EncodedCorpus(sentences, vocab), vocab


def test_one_row_reads_the_stream_forwards_and_backwards_scoring_words_and_one_boundary():
    sentences = [["a", "b"], ["c"]]
    corpus, vocab = _corpus(sentences)
    batches = list(StreamLoader(corpus, window=3, batch_size=1, shuffle=False))
    ids = {w: vocab.id(w) for w in ["<S>", "</S>", "a", "b", "c"]}
    # stream: <S> a b </S> <S> c </S>: 6 transitions in windows of 3
    assert len(batches) == 2 and [b.reset_state for b in batches] == [True, False]
    forward = torch.cat([b.forward_targets[0] for b in batches]).tolist()
    backward = torch.cat([b.backward_targets[0] for b in batches]).tolist()
    assert forward == [ids["a"], ids["b"], ids["</S>"], IGNORE, ids["c"], ids["</S>"]]
    # read from the end: </S> c <S> </S> b a <S>
    assert backward == [ids["c"], ids["<S>"], IGNORE, ids["b"], ids["a"], ids["<S>"]]
    chars = corpus.char_table.long()
    assert torch.equal(batches[1].char_ids[0], chars[corpus.stream[3:6]])
    assert torch.equal(batches[0].backward_char_ids[0], chars[corpus.stream.flip(0)[:3]])


@pytest.mark.parametrize("rows,window", [(1, 5), (3, 4), (7, 64), (64, 2)])
def test_eval_segments_score_every_prediction_exactly_once(tiny_sentences, rows, window):
    sentences = tiny_sentences[:60]
    corpus, _ = _corpus(sentences)
    segments = sentence_segments(corpus, rows)
    assert segments[:, 1].sum() == corpus.n_tokens and set(segments[:, 0]) <= set(corpus.sentence_starts)
    loader = StreamLoader(corpus, window, rows, shuffle=False)
    batches = list(loader)
    assert len(batches) == len(loader)
    n_f = sum(int((b.forward_targets != IGNORE).sum()) for b in batches)
    n_b = sum(int((b.backward_targets != IGNORE).sum()) for b in batches)
    assert n_f == n_b == corpus.n_predictions == sum(len(s) + 1 for s in sentences)


def test_training_segments_are_equal_slices_of_the_circle_from_a_new_offset_each_pass(tiny_sentences):
    corpus, _ = _corpus(tiny_sentences[:40])
    segments = circular_segments(corpus.n_tokens, 4, offset=corpus.n_tokens - 3)
    assert segments[:, 1].tolist() == [corpus.n_tokens // 4] * 4 and segments[0, 0] == corpus.n_tokens - 3
    loader = StreamLoader(corpus, window=8, batch_size=4, shuffle=True, seed=0)
    first, second = list(loader), list(loader)
    assert len(first) == len(second) == len(loader)
    assert all(b.char_ids.shape[:2] == (4, 8) for b in first[:-1])
    assert not torch.equal(first[0].char_ids, second[0].char_ids)
    with pytest.raises(ValueError, match="too short"):
        StreamLoader(corpus, window=8, batch_size=corpus.n_tokens, shuffle=True)


def _tiny_lm(tiny_options, vocab_size):
    torch.manual_seed(0)
    bilm = BiLM(BiLMOptions.from_dict(tiny_options)).eval()
    return bilm, FullSoftmax(bilm.options.projection_dim, vocab_size).eval()


def test_carried_state_makes_the_window_size_irrelevant(tiny_options, tiny_sentences):
    """Windows of 3 tokens with the state carried score exactly what one window over each segment scores."""
    sentences = tiny_sentences[:30]
    _, vocab = _corpus(sentences)
    bilm, softmax = _tiny_lm(tiny_options, len(vocab))
    short = evaluate_perplexity(bilm, softmax, vocab, sentences, window=3, batch_size=4, batching="stream")
    whole = evaluate_perplexity(bilm, softmax, vocab, sentences, window=10_000, batch_size=4, batching="stream")
    rows = evaluate_perplexity(bilm, softmax, vocab, sentences, window=64, batch_size=4, batching="rows")
    for key in ("forward", "backward"):
        assert short[key] == pytest.approx(whole[key], rel=1e-5)
        assert abs(short[key] - rows[key]) > 1e-4 * rows[key]  # other contexts, other numbers
    assert short["n_predictions"] == whole["n_predictions"] == rows["n_predictions"]


def test_each_direction_reads_its_own_input(tiny_options, tiny_sentences):
    """On one unpadded row, separate inputs (the row, and the row reversed) give BiLM.forward's two top layers."""
    corpus, _ = _corpus(tiny_sentences[:3])
    bilm, _ = _tiny_lm(tiny_options, 10)
    ids = corpus.char_table.long()[corpus.stream].unsqueeze(0)  # (1, time, chars)
    with torch.no_grad():
        forward, backward = bilm.directional_tops(ids, ids.flip(1))
        out = bilm(ids, keep_sentence_boundaries=True)
    assert torch.allclose(forward, out.forward_top, atol=1e-6)
    assert torch.allclose(backward.flip(1), out.backward_top, atol=1e-6)
    with pytest.raises(ValueError, match="same row lengths"):
        bilm.directional_tops(ids, ids[:, :-1])


def test_reset_on_the_first_window_and_evaluation_keeps_the_carried_state(tiny_options, tiny_sentences):
    corpus, vocab = _corpus(tiny_sentences[:40])
    bilm, softmax = _tiny_lm(tiny_options, len(vocab))
    batches = list(StreamLoader(corpus, window=6, batch_size=2, shuffle=True))
    with torch.no_grad():
        first = lm_nll(bilm, softmax, batches[0])[0]
        lm_nll(bilm, softmax, batches[1])
        state = bilm.carried_state
        evaluate_perplexity(bilm, softmax, vocab, tiny_sentences[:5], window=4, batch_size=2, batching="stream")
        assert bilm.carried_state is not None and all(a is b for a, b in zip(bilm.carried_state, state))
        again = lm_nll(bilm, softmax, batches[0])[0]  # reset_state: starts from zeros again
    assert float(first) == pytest.approx(float(again), rel=1e-6)


def test_unknown_batching_names_the_config_key():
    with pytest.raises(LMConfigError, match="data.batching must be one of rows, stream; got 'streams'"):
        LMDataModule({"name": "ptb"}, batching="streams")
    with pytest.raises(ValueError, match="batching must be one of"):
        make_loader(None, 8, 2, False, batching="x")
