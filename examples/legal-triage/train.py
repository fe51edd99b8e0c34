#!/usr/bin/env python3
"""Trains the legal-triage example model: the topic classifier of a self-help legal chatbot.

The synthetic dataset is chat openers written from templates and topic vocabulary, in five
topics. About a fifth of the messages mix two topics ("thinking about chapter 13 while
my divorce is pending") or are vague ("I got a letter and I don't know what it means"),
so the model is sure about most messages and unsure about the rest: the seed's 80/20.

Writes, next to this file:
  model.onnx     TfidfVectorizer (word 1–2-grams, ASCII alphanumeric tokens) + LogisticRegression, exported with
                 zipmap=False, the vectorizer with locale "C" (see FIELD-NOTES), and ONE
                 input `message`, tensor(string) [N, 1]. Outputs `label` (string) and
                 `probabilities` [N, 5] in model class order.
  expected.json  messages and ONNX Runtime's outputs (labels in model class order).

With `--reference-only OUT.csv` it writes the training rows instead and trains nothing:
scripts/make_profiles.sh profiles them into model.profile.json, the reference of drift.

Seeded and deterministic. Needs numpy, scikit-learn, skl2onnx, onnxruntime==1.22.1.

    python3 examples/legal-triage/train.py
"""

from __future__ import annotations

import csv
import json
import os
import sys
import random

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import StringTensorType
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, classification_report
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 13
PER_TOPIC = 400

TOPICS = {
    "bankruptcy": {
        "things": ["chapter 7", "chapter 13", "my credit card debt", "a debt collector", "my medical bills",
                   "wage garnishment", "the bankruptcy trustee", "a repayment plan", "my car loan",
                   "the creditors' meeting", "my student loans", "a payday loan"],
        "events": ["debt collectors keep calling me", "I can't pay my bills anymore", "my wages are being garnished",
                   "the bank wants to repossess my car", "I owe more than I make in a year",
                   "a creditor sued me over an old debt"],
        "asks": ["should I file for bankruptcy", "can I keep my house if I file", "will bankruptcy wipe out my debt",
                 "how long does bankruptcy stay on my credit", "what is the difference between chapter 7 and 13"],
    },
    "divorce": {
        "things": ["custody of my kids", "child support", "alimony", "the divorce papers", "a separation agreement",
                   "visitation rights", "the marital home", "spousal support", "a prenup", "mediation"],
        "events": ["my husband wants a divorce", "my wife moved out with the kids", "we are separating",
                   "my ex stopped paying child support", "my spouse hid money from me",
                   "my ex won't let me see my children"],
        "asks": ["how do I file for divorce", "who gets custody of the kids", "how is property divided in a divorce",
                 "can I change the custody arrangement", "how much alimony will I pay"],
    },
    "employment": {
        "things": ["my boss", "unpaid overtime", "my final paycheck", "wrongful termination", "workplace harassment",
                   "a non-compete clause", "workers' compensation", "my severance", "unemployment benefits",
                   "discrimination at work", "my employer"],
        "events": ["I was fired without warning", "my employer hasn't paid me in weeks", "my manager harasses me",
                   "I got hurt at work", "they cut my hours after I complained", "I was laid off yesterday"],
        "asks": ["can my employer fire me for this", "how do I get my unpaid wages", "is my non-compete enforceable",
                 "can I get unemployment", "should I sign the severance agreement"],
    },
    "housing": {
        "things": ["my landlord", "my security deposit", "the eviction notice", "my lease", "the rent increase",
                   "mold in my apartment", "repairs", "my tenant", "the housing court", "a broken heater"],
        "events": ["my landlord is evicting me", "my landlord won't return my deposit", "the rent went up by 30 percent",
                   "the heat has been off for weeks", "my landlord entered without notice",
                   "I got a notice to quit"],
        "asks": ["can my landlord evict me", "how do I get my deposit back", "can I break my lease early",
                 "can I withhold rent until they fix it", "how much notice does my landlord have to give"],
    },
    "immigration": {
        "things": ["my visa", "my green card", "a work permit", "my asylum case", "the immigration court",
                   "my H-1B", "citizenship", "my DACA renewal", "a deportation order", "my visa renewal",
                   "USCIS"],
        "events": ["my visa is about to expire", "I got a notice to appear in immigration court",
                   "my green card application was denied", "my husband is being deported",
                   "I overstayed my visa", "USCIS asked for more evidence"],
        "asks": ["how do I renew my visa", "can I apply for a green card through marriage",
                 "how long does naturalization take", "can I work while my asylum case is pending",
                 "what happens if my visa expires"],
    },
}
CLEAR = [
    "{event}. {ask}?",
    "Hi, {event} and I need help with {thing}.",
    "{ask}? It's about {thing}.",
    "I have a question about {thing}. {event}.",
    "{event}. What are my rights regarding {thing}?",
    "hello. {ask}",
    "Need advice: {event}, and now {thing} is a problem too.",
    "{ask}? {event}.",
    "Can you help me with {thing}?",
]
MIXED = [
    "I am thinking about {thing_a} and {thing_b}, where do I start?",
    "{event_a}, and on top of that {event_b}. What should I do?",
    "Question about {thing_a}. Also {event_b}.",
    "{ask_a}? And {ask_b}?",
]
VAGUE = [
    "I got a letter and I don't know what it means.",
    "I need a lawyer.",
    "Someone is suing me, what do I do?",
    "I have a court date next week.",
    "Can you help me with a legal problem?",
    "I signed something and now I regret it.",
    "What are my rights?",
    "I received a notice in the mail.",
    "How much does a lawyer cost?",
    "I need help filling out a form.",
]
CITIES = ["Boston", "Chicago", "Phoenix", "Atlanta", "Denver", "Seattle", "Miami", "Dallas"]


def fill(template: str, parts: dict, rnd: random.Random) -> str:
    text = template.format(**parts)
    if rnd.random() < 0.3:
        text = f"{text} I live in {rnd.choice(CITIES)}."
    if rnd.random() < 0.3:
        text = text.lower()
    return text[0].upper() + text[1:] if rnd.random() < 0.7 else text


def synthesize(rnd: random.Random):
    texts, labels = [], []
    names = sorted(TOPICS)
    for topic in names:
        vocab = TOPICS[topic]
        for _ in range(PER_TOPIC):
            r = rnd.random()
            if r < 0.80:
                t = rnd.choice(CLEAR)
                parts = {"event": rnd.choice(vocab["events"]), "thing": rnd.choice(vocab["things"]),
                         "ask": rnd.choice(vocab["asks"])}
            elif r < 0.95:
                # Two topics; the label is the first, the user's main concern.
                other = TOPICS[rnd.choice([n for n in names if n != topic])]
                t = rnd.choice(MIXED)
                parts = {"thing_a": rnd.choice(vocab["things"]), "thing_b": rnd.choice(other["things"]),
                         "event_a": rnd.choice(vocab["events"]), "event_b": rnd.choice(other["events"]),
                         "ask_a": rnd.choice(vocab["asks"]), "ask_b": rnd.choice(other["asks"])}
            else:
                t, parts = rnd.choice(VAGUE), {}
            texts.append(fill(t, parts, rnd))
            labels.append(topic)
    return texts, np.array(labels)



def write_reference(path: str, names: list, rows) -> None:
    """The training rows, features only, as `rein profile` reads them (scripts/make_profiles.sh)."""
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(names)
        for row in rows:
            out.writerow([str(v).lower() if isinstance(v, (bool, np.bool_)) else v for v in row])
    print(f"wrote {len(rows)} training rows to {path}")


def main() -> None:
    rnd = random.Random(SEED)
    texts, labels = synthesize(rnd)
    idx = np.arange(len(texts))
    train, test = train_test_split(idx, test_size=0.25, random_state=SEED, stratify=labels)
    X = np.array(texts, dtype=object)
    if "--reference-only" in sys.argv:  # write the training rows, train nothing
        write_reference(sys.argv[sys.argv.index("--reference-only") + 1], ["message"], [[t] for t in X[train]])
        return

    # Two settings keep ONNX Runtime equal to scikit-learn (measured with skl2onnx 1.20):
    # a token pattern without `\b` assertions (with the default `(?u)\b\w\w+\b` and
    # bigrams, 85% of messages differ, by up to 0.13 in probability) and no sublinear_tf
    # (it differs by up to 0.01).
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, token_pattern=r"[a-zA-Z0-9]+")
    clf = LogisticRegression(C=3.0, max_iter=2000)
    pipe = Pipeline([("tfidf", vectorizer), ("clf", clf)])
    pipe.fit(X[train], labels[train])

    proba = pipe.predict_proba(X[test])
    pred = clf.classes_[proba.argmax(1)]
    top = proba.max(1)
    correct = pred == labels[test]
    print(f"holdout: {len(test)} messages, {len(clf.classes_)} topics; vocabulary {len(vectorizer.vocabulary_)} terms")
    print(f"holdout accuracy {accuracy_score(labels[test], pred):.4f}")
    for t in (0.8, 0.6):
        m = top >= t
        print(f"  top probability >= {t}: {m.mean():.1%} of messages (coverage), accuracy on them {correct[m].mean():.4f}")
    m = top < 0.6
    print(f"  top probability <  0.6: {m.mean():.1%} of messages escalated to a lawyer, "
          f"model accuracy on them {correct[m].mean():.4f}")
    print(classification_report(labels[test], pred, digits=3))

    onx = convert_sklearn(
        pipe,
        initial_types=[("message", StringTensorType([None, 1]))],
        options={id(vectorizer): {"locale": "C"}, id(clf): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    onx.graph.name = "legal-triage"
    # skl2onnx lists the opset imports in set order, which changes with PYTHONHASHSEED:
    # sort them so that the file is byte-for-byte reproducible.
    opsets = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    path = os.path.join(HERE, "model.onnx")
    with open(path, "wb") as f:
        f.write(onx.SerializeToString(deterministic=True))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (holdout_p,) = sess.run(["probabilities"], {"message": X[test].reshape(-1, 1)})
    diff = float(np.abs(holdout_p - proba).max())
    print(f"onnxruntime vs scikit-learn on the holdout: max |Δp| = {diff:.2e}")
    assert diff < 1e-4, diff

    rows = [{"message": str(X[i])} for i in test[:6]]
    rows += [
        {"message": "My landlord is evicting me and I have two weeks to move out. Can he do that?"},
        {"message": "I am thinking about chapter 13 in Boston divorce filing"},
        {"message": "My visa is about to expire and my employer says they will not renew my H-1B."},
        {"message": "I got a letter and I don't know what it means."},
        {"message": "Debt collectors keep calling me about my medical bills. Should I file for bankruptcy?"},
    ]
    feed = np.array([r["message"] for r in rows], dtype=object).reshape(-1, 1)
    outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"message": feed})))
    diff = float(np.abs(pipe.predict_proba(feed.reshape(-1)) - outs["probabilities"]).max())
    print(f"onnxruntime vs scikit-learn: max |Δp| = {diff:.2e}")
    assert diff < 1e-4, diff
    for r, l, p in zip(rows, outs["label"].reshape(-1), outs["probabilities"]):
        print(f"  {l:12s} {p.max():.3f}  {r['message'][:70]}")

    doc = {
        "name": "topic",
        "model": "model.onnx",
        "task": "multiclass",
        "layout": "named",
        "features": [{"name": "message", "type": "text"}],
        "model_inputs": [
            {"name": i.name, "type": i.type, "shape": [d if isinstance(d, int) else None for d in i.shape]}
            for i in sess.get_inputs()
        ],
        "labels": [str(c) for c in clf.classes_],
        "inputs": rows,
        "expected": [
            {"label": str(l), "probabilities": [float(p) for p in ps]}
            for l, ps in zip(outs["label"].reshape(-1), outs["probabilities"])
        ],
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.join(HERE, 'expected.json')}")


if __name__ == "__main__":
    main()
