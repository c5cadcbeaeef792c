"""SpanF1: hand-computed scores, conlleval's own counting loop, seqeval's default mode, and summed states."""

import random

import pytest
from seqeval.metrics import sequence_labeling  # the dev extra's independent oracle
from torchmetrics.utilities.data import dim_zero_sum

from elmo_lab.metrics import SpanF1
from elmo_lab.data.tagging import convert

TYPES = ["LOC", "MISC", "ORG", "PER"]


def _scores(pred, gold, types=TYPES):
    metric = SpanF1(types)
    metric.update(pred, gold)
    return {name: round(value.item(), 6) for name, value in metric.compute().items()}


def test_boundary_error():
    scores = _scores([["B-PER", "O", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]])
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.5, 0.5, 0.5)
    assert (scores["f1_PER"], scores["f1_LOC"], scores["f1_ORG"]) == (0.0, 1.0, 0.0)


def test_type_error_and_missed_chunk():
    scores = _scores([["B-ORG", "I-ORG", "O", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-MISC", "B-LOC"]])
    assert scores["precision"] == 0.5  # 1 of 2 predicted
    assert scores["recall"] == round(1 / 3, 6)  # 1 of 3 gold
    assert scores["f1"] == 0.4  # 2 * 1 / (2 + 3)
    assert (scores["f1_LOC"], scores["f1_PER"], scores["f1_ORG"], scores["f1_MISC"]) == (1.0, 0.0, 0.0, 0.0)


def test_iob1_starts_and_chunks_at_the_sentence_end():
    # IOB1 gold against IOB2 predictions of the same chunks: all correct.
    gold = [["I-PER", "I-PER", "B-PER", "O", "I-LOC"], ["O", "O", "I-ORG"]]
    pred = [["B-PER", "I-PER", "B-PER", "O", "B-LOC"], ["O", "O", "B-ORG"]]
    assert _scores(pred, gold)["f1"] == 1.0
    pred = [["B-PER", "I-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG"]]  # two boundary errors
    scores = _scores(pred, gold)
    assert (scores["precision"], scores["recall"]) == (round(1 / 3, 6), 0.25)


def test_ill_formed_and_bioes_sequences():
    # "B-PER I-LOC" is PER + LOC; "O I-PER" is one PER; S-/E- chunks per the BIOES extension.
    scores = _scores([["B-PER", "I-LOC", "O", "I-PER"]], [["S-PER", "S-LOC", "O", "S-PER"]])
    assert scores["f1"] == 1.0
    scores = _scores([["B-PER", "E-PER", "B-PER", "E-PER"]], [["B-PER", "I-PER", "I-PER", "E-PER"]])
    assert (scores["precision"], scores["recall"]) == (0.0, 0.0)


def test_nothing_predicted_or_nothing_to_find_scores_zero():
    scores = _scores([["O", "O"]], [["B-PER", "O"]])
    assert scores["precision"] == scores["recall"] == scores["f1"] == 0.0
    scores = _scores([[]], [[]])
    assert all(value == 0.0 for value in scores.values())


def test_accumulates_resets_and_rejects_bad_input():
    metric = SpanF1(TYPES)
    metric.update([["B-PER"]], [["B-PER"]])
    metric.update([["O"]], [["B-LOC"]])
    assert metric.compute()["recall"].item() == 0.5
    assert metric.correct.tolist() == [0, 0, 0, 1] and metric.gold.tolist() == [1, 0, 0, 1]
    metric.reset()
    assert metric.gold.sum().item() == 0
    with pytest.raises(ValueError, match="sentence 0: 2 predicted tags for 1 gold tags"):
        metric.update([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="1 predicted sentences for 2 gold sentences"):
        metric.update([["O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="entity type 'DATE' is not one of"):
        metric.update([["B-DATE"]], [["O"]])
    with pytest.raises(ValueError, match="invalid tag 'S-PER' in scheme bio"):
        SpanF1(TYPES, scheme="bio").update([["S-PER"]], [["O"]])
    with pytest.raises(ValueError, match="distinct non-empty"):
        SpanF1(["PER", "PER"])


def test_states_are_sums_so_shards_merge_exactly():
    rng = random.Random(3)
    pairs = [_pair(rng, "BIO") for _ in range(200)]
    whole, first, second = SpanF1(TYPES), SpanF1(TYPES), SpanF1(TYPES)
    whole.update([p for p, _ in pairs], [g for _, g in pairs])
    first.update([p for p, _ in pairs[:77]], [g for _, g in pairs[:77]])
    second.update([p for p, _ in pairs[77:]], [g for _, g in pairs[77:]])
    for name in ("correct", "predicted", "gold"):  # what dist_reduce_fx="sum" does across processes
        setattr(first, name, getattr(first, name) + getattr(second, name))
    assert {k: v.item() for k, v in first.compute().items()} == {k: v.item() for k, v in whole.compute().items()}
    assert whole._reductions == dict.fromkeys(("correct", "predicted", "gold"), dim_zero_sum)


def _random_tags(rng, prefixes, length):
    tags = [rng.choice(prefixes) for _ in range(length)]
    return [tag if tag == "O" else f"{tag}-{rng.choice(TYPES)}" for tag in tags]


def _pair(rng, prefixes):
    """(predicted, gold): random gold tags (ill-formed ones included), the prediction a noisy copy of them."""
    gold = _random_tags(rng, prefixes + "OO", rng.randint(0, 10))
    noise = _random_tags(rng, prefixes + "OO", len(gold))
    pred = [n if rng.random() < 0.25 else g for g, n in zip(gold, noise)]
    return pred, gold


def _conlleval_counts(pred_seqs, gold_seqs):
    """Correct/predicted/gold chunk counts per type by conlleval.pl's own loop (sentence breaks read as O)."""
    end_pairs = {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")}
    start_pairs = {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")}

    def end(prev, tag, prev_type, type_):
        return (prev, tag) in end_pairs or (prev != "O" and prev_type != type_)

    def start(prev, tag, prev_type, type_):
        return (prev, tag) in start_pairs or (tag != "O" and prev_type != type_)

    counts = {name: dict.fromkeys(TYPES, 0) for name in ("correct", "predicted", "gold")}
    in_correct, last_c, last_g, last_ct, last_gt = False, "O", "O", "", ""
    stream = [pair for p, g in zip(pred_seqs, gold_seqs) for pair in [*zip(g, p), ("O", "O")]]
    for gold_tag, pred_tag in stream:
        c, ct = (gold_tag, "") if gold_tag == "O" else gold_tag.split("-", 1)
        g, gt = (pred_tag, "") if pred_tag == "O" else pred_tag.split("-", 1)
        end_c, end_g = end(last_c, c, last_ct, ct), end(last_g, g, last_gt, gt)
        if in_correct:
            if end_c and end_g and last_gt == last_ct:
                in_correct = False
                counts["correct"][last_ct] += 1
            elif end_c != end_g or gt != ct:
                in_correct = False
        start_c, start_g = start(last_c, c, last_ct, ct), start(last_g, g, last_gt, gt)
        if start_c and start_g and gt == ct:
            in_correct = True
        if start_c:
            counts["gold"][ct] += 1
        if start_g:
            counts["predicted"][gt] += 1
        last_c, last_g, last_ct, last_gt = c, g, ct, gt
    return counts


@pytest.mark.parametrize("prefixes", ["BI", "BIE"])
def test_counts_equal_conlleval_loop(prefixes):
    # conlleval.pl has no S- rules and lets B-X continue an E-X chunk; those sequences are compared with seqeval.
    rng = random.Random(4)
    pairs = []
    while len(pairs) < 3000:
        pred, gold = _pair(rng, prefixes)
        if not any(a[0] == "E" and b[0] == "B" and a[2:] == b[2:] for s in (pred, gold) for a, b in zip(s, s[1:])):
            pairs.append((pred, gold))
    metric = SpanF1(TYPES)
    metric.update([p for p, _ in pairs], [g for _, g in pairs])
    expected = _conlleval_counts([p for p, _ in pairs], [g for _, g in pairs])
    for name in ("correct", "predicted", "gold"):
        assert getattr(metric, name).tolist() == [expected[name][t] for t in TYPES], name
    assert metric.correct.sum() > 1000


@pytest.mark.parametrize("scheme, prefixes", [("iob1", "BI"), ("bio", "BI"), ("bioes", "BIES")])
@pytest.mark.parametrize("well_formed", [False, True])
def test_agrees_with_seqeval_default_mode(scheme, prefixes, well_formed):
    rng = random.Random(f"{scheme}-{well_formed}")
    pairs = [_pair(rng, prefixes) for _ in range(3000)]
    if well_formed:  # written the way the scheme writes its chunks
        pairs = [(convert(p, scheme, scheme), convert(g, scheme, scheme)) for p, g in pairs]
    pred, gold = [p for p, _ in pairs], [g for _, g in pairs]
    ours = _scores(pred, gold)
    p, r, f, _ = sequence_labeling.precision_recall_fscore_support(gold, pred, average="micro", zero_division=0)
    assert (ours["precision"], ours["recall"], ours["f1"]) == pytest.approx((p, r, f), abs=1e-6)
    _, _, per_type, _ = sequence_labeling.precision_recall_fscore_support(gold, pred, average=None, zero_division=0)
    types = sorted({chunk[0] for s in (gold, pred) for chunk in sequence_labeling.get_entities(s)})
    assert [ours[f"f1_{t}"] for t in types] == pytest.approx(list(per_type), abs=1e-6)
    assert 0.2 < ours["f1"] < 0.95  # neither trivial nor empty
