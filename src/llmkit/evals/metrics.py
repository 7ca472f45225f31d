"""Answer and retrieval metrics as plain functions: ``(prediction, references) -> float`` in [0, 1].

Answer metrics take the best score over the reference answers, as SQuAD does. Retrieval metrics score
one ranked list of ids against the set of relevant ids; nDCG and MRR come from ``pytrec_eval``
(trec_eval's own C code) and are cross-checked against hand-computed cases in the tests. BLEU is
sacrebleu's; ROUGE-L is the short LCS F-measure below (``rouge-score`` is unmaintained and pulls in
nltk), checked against worked examples; it keeps letters of every script, where rouge-score drops all
but a-z and 0-9.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

from llmkit.errors import MissingExtra

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_WORDS = re.compile(r"[^\W_]+")  # letters and digits of any script; on ASCII text rouge-score's [a-z0-9]+
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces.

    >>> normalize_answer("The  Eiffel Tower!")
    'eiffel tower'
    """
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def exact_match(prediction: str, references: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised reference.

    >>> exact_match("the Denver Broncos", ["Denver Broncos", "Broncos"])
    1.0
    """
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(r) for r in references))


def token_f1(prediction: str, references: Sequence[str]) -> float:
    """SQuAD token F1 (best over references).

    >>> round(token_f1("Denver Broncos won", ["Denver Broncos"]), 3)
    0.8
    """
    return max(
        (_f1(normalize_answer(prediction).split(), normalize_answer(r).split()) for r in references), default=0.0
    )


def _f1(pred: list[str], ref: list[str]) -> float:
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref:
        return float(pred == ref)
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b, 1):
            row.append(prev[j - 1] + 1 if x == y else max(prev[j], row[j - 1]))
        prev = row
    return prev[-1]


def rouge_l(prediction: str, references: Sequence[str]) -> float:
    """ROUGE-L F-measure on lower-cased runs of letters and digits, best reference.

    On ASCII text the tokens are rouge-score's; other scripts count too (rouge-score scores them 0).

    >>> round(rouge_l("the cat sat on the mat", ["the cat is on the mat"]), 4)
    0.8333
    >>> rouge_l("東京都", ["東京都"]), rouge_l("Zürich ist schön", ["zürich ist schön"])
    (1.0, 1.0)
    """
    pred = _WORDS.findall(prediction.lower())
    best = 0.0
    for ref_text in references:
        ref = _WORDS.findall(ref_text.lower())
        lcs = _lcs(pred, ref)
        if lcs:
            p, r = lcs / len(pred), lcs / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def bleu(prediction: str, references: Sequence[str]) -> float:
    """Sentence BLEU (sacrebleu, exponential smoothing) scaled to [0, 1]; needs the ``eval`` extra."""
    try:
        import sacrebleu
    except ImportError:
        raise MissingExtra("sacrebleu", "eval") from None
    if not references:
        return 0.0
    return sacrebleu.sentence_bleu(prediction, list(references)).score / 100.0


# ----------------------------------------------------------------------------- retrieval


def hit_at_k(ranked: Sequence[str], relevant: set[str] | frozenset[str], k: int) -> float:
    """1.0 when any relevant id is in the first ``k``.

    >>> hit_at_k(["x", "a"], {"a"}, 1), hit_at_k(["x", "a"], {"a"}, 2)
    (0.0, 1.0)
    """
    return float(any(d in relevant for d in ranked[:k]))


def recall_at_k(ranked: Sequence[str], relevant: set[str] | frozenset[str], k: int) -> float:
    """Share of the relevant ids found in the first ``k``.

    >>> recall_at_k(["a", "x", "b"], {"a", "b", "c", "d"}, 3)
    0.5
    """
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def trec_scores(ranked: Sequence[str], relevant: set[str] | frozenset[str], k: int) -> dict[str, float]:
    """``ndcg@k`` and ``mrr`` of one ranking, computed by pytrec_eval (trec_eval), binary relevance.

    Ranks are given to trec_eval as descending scores, so ties cannot reorder the list.
    """
    try:
        import pytrec_eval
    except ImportError:
        raise MissingExtra("pytrec-eval-terrier", "eval") from None
    if not relevant:
        return {f"ndcg@{k}": 0.0, "mrr": 0.0}
    run = {"q": {d: float(len(ranked) - i) for i, d in enumerate(dict.fromkeys(ranked))}}
    evaluator = pytrec_eval.RelevanceEvaluator({"q": dict.fromkeys(relevant, 1)}, {f"ndcg_cut.{k}", "recip_rank"})
    scores = evaluator.evaluate(run).get("q", {})
    return {f"ndcg@{k}": scores.get(f"ndcg_cut_{k}", 0.0), "mrr": scores.get("recip_rank", 0.0)}


def dedupe_ids(ids: Sequence[str]) -> list[str]:
    """Ids in first-seen order (a document ranks where its best chunk does).

    >>> dedupe_ids(["a", "b", "a", "c"])
    ['a', 'b', 'c']
    """
    return list(dict.fromkeys(ids))
