"""course_utils.embeddings: lookups, bag of words and TF-IDF (equal to scikit-learn), word2vec, and scores."""

import math

import pytest
import torch
import torch.nn as nn

from course_utils import embeddings, storyworld
from course_utils.embeddings import WordVectors

sklearn_text = pytest.importorskip("sklearn.feature_extraction.text")


@pytest.fixture(scope="module")
def stories():
    return storyworld.load_split("train", 300)


# ---------------------------------------------------------------- lookup and gradients


def test_words_drop_spaces_punctuation_and_possessive():
    assert embeddings.words("Lily's ball.") == ["Lily", "ball"]
    assert embeddings.words('"Can I play?" asked Tom.\n') == ["Can", "I", "play", "asked", "Tom"]
    assert embeddings.words("") == []


def test_one_hot_times_matrix_equals_embedding_lookup():
    torch.manual_seed(0)
    table = nn.Embedding(30, 7)
    ids = torch.tensor([[3, 0, 29, 3], [5, 5, 1, 2]])
    by_matmul = embeddings.one_hot_lookup(ids, table.weight)
    assert torch.equal(by_matmul, table(ids))
    assert torch.equal(by_matmul, table.weight[ids])


def test_gradients_reach_only_the_rows_of_tokens_in_the_batch():
    torch.manual_seed(0)
    table = nn.Embedding(20, 4)
    batch = torch.tensor([7, 3, 7, 12])
    (table(batch) ** 2).sum().backward()
    rows = (table.weight.grad.abs().sum(1) > 0).nonzero().flatten().tolist()
    assert rows == [3, 7, 12]


# ---------------------------------------------------------------- bag of words and TF-IDF


def test_bag_of_words_equals_count_vectorizer(stories):
    texts = [s.text for s in stories.stories]
    counts, vocab = embeddings.bag_of_words([embeddings.words(t) for t in texts])
    vectorizer = sklearn_text.CountVectorizer(tokenizer=embeddings.words, lowercase=False, token_pattern=None)
    reference = torch.from_numpy(vectorizer.fit_transform(texts).toarray()).double()
    assert list(vectorizer.get_feature_names_out()) == vocab
    assert torch.equal(counts, reference)


def test_bag_of_words_with_a_fixed_vocabulary_ignores_other_words():
    counts, vocab = embeddings.bag_of_words([["a", "b", "a", "zzz"], []], vocabulary=["b", "a"])
    assert vocab == ["b", "a"]
    assert counts.tolist() == [[1.0, 2.0], [0.0, 0.0]]
    with pytest.raises(TypeError):
        embeddings.bag_of_words("a single string")
    with pytest.raises(ValueError):
        embeddings.bag_of_words([["a"]], vocabulary=["a", "a"])


@pytest.mark.parametrize("smooth_idf", [True, False])
@pytest.mark.parametrize("sublinear_tf", [False, True])
@pytest.mark.parametrize("norm", ["l2", "l1", None])
def test_tfidf_equals_tfidf_vectorizer(stories, smooth_idf, sublinear_tf, norm):
    texts = [s.text for s in stories.stories]
    counts, vocab = embeddings.bag_of_words([embeddings.words(t) for t in texts])
    weights, idf = embeddings.tfidf(counts, smooth_idf=smooth_idf, sublinear_tf=sublinear_tf, norm=norm)
    vectorizer = sklearn_text.TfidfVectorizer(tokenizer=embeddings.words, lowercase=False, token_pattern=None,
                                              smooth_idf=smooth_idf, sublinear_tf=sublinear_tf, norm=norm)
    reference = torch.from_numpy(vectorizer.fit_transform(texts).toarray())
    assert list(vectorizer.get_feature_names_out()) == vocab
    assert (weights - reference).abs().max().item() < 1e-12
    assert (idf - torch.from_numpy(vectorizer.idf_)).abs().max().item() < 1e-12


def test_tfidf_rows_have_unit_length_and_common_words_weigh_least(stories):
    counts, vocab = embeddings.bag_of_words([embeddings.words(s.text) for s in stories.stories])
    weights, idf = embeddings.tfidf(counts)
    assert torch.allclose(weights.norm(dim=1), torch.ones(len(weights), dtype=torch.float64))
    assert idf[vocab.index("Once")] == idf.min() == 1.0  # in every story: ln(1) + 1
    with pytest.raises(ValueError):
        embeddings.tfidf(counts, norm="l3")
    with pytest.raises(ValueError):
        embeddings.tfidf(counts[0])


# ---------------------------------------------------------------- word vectors


@pytest.fixture
def royals():
    # gender, rank, and a little noise so that nothing ties
    vectors = torch.tensor([[1.0, 0.0, 0.1], [-1.0, 0.0, 0.2], [1.0, 1.0, 0.3], [-1.0, 1.0, 0.4], [0.0, -3.0, 1.0]])
    return WordVectors(["man", "woman", "king", "queen", "apple"], vectors, "toy")


def test_cosine_similarity_shapes_and_values():
    a = torch.tensor([1.0, 0.0])
    assert embeddings.cosine_similarity(a, torch.tensor([0.0, 5.0])).item() == 0.0
    assert math.isclose(embeddings.cosine_similarity(a, torch.tensor([-2.0, 0.0])).item(), -1.0)
    m = embeddings.cosine_similarity(torch.randn(4, 3), torch.randn(6, 3))
    assert m.shape == (4, 6) and m.abs().max() <= 1 + 1e-6
    assert embeddings.cosine_similarity(torch.zeros(3), torch.ones(3)).item() == 0.0  # no NaN for zero vectors


def test_nearest_and_analogy(royals):
    nearest = royals.nearest("king", k=2)
    assert [w for w, _ in nearest] == ["man", "queen"]
    assert nearest[0][1] >= nearest[1][1]
    assert royals.analogy("man", "woman", "king")[0][0] == "queen"
    assert royals.nearest("king", k=10) == royals.nearest("king", k=4)  # at most the other words
    assert "king" not in [w for w, _ in royals.nearest(royals["king"], k=5, exclude=["king"])]
    assert royals.nearest("king", k=0) == []
    assert math.isclose(royals.similarity("king", "king"), 1.0, rel_tol=1e-6)


def test_unknown_words_get_a_helpful_message(royals):
    with pytest.raises(KeyError, match="did you mean 'king'"):
        royals["kingg"]
    assert "did you mean 'queen'" in royals.unknown_message("QUEEN")
    assert royals.unknown_message("dragon").endswith("(5 words).")
    assert "kingg" not in royals and "king" in royals


def test_word_vectors_validate_and_subset(royals):
    with pytest.raises(ValueError):
        WordVectors(["a", "b"], torch.zeros(3, 2))
    with pytest.raises(ValueError):
        WordVectors(["a", "a"], torch.zeros(2, 2))
    sub = royals.subset(["queen", "king", "dragon"])
    assert sub.words == ["queen", "king"] and torch.equal(sub["king"], royals["king"])
    assert torch.allclose(royals.normalized().vectors.norm(dim=1), torch.ones(5))
    empty = WordVectors([], torch.zeros(0, 3))
    assert len(empty) == 0 and empty.dim == 3


# ---------------------------------------------------------------- word2vec


def test_skipgram_pairs_count_and_respect_documents():
    ids = torch.arange(10)
    centers, contexts = embeddings.skipgram_pairs(ids, window=3)
    assert len(centers) == 2 * sum(10 - o for o in (1, 2, 3))
    assert ((centers - contexts).abs() <= 3).all() and (centers != contexts).all()
    segments = torch.tensor([0] * 5 + [1] * 5)
    centers, contexts = embeddings.skipgram_pairs(ids, window=3, segments=segments)
    assert torch.equal(segments[centers], segments[contexts])
    assert len(centers) == 2 * 2 * sum(5 - o for o in (1, 2, 3))
    assert len(embeddings.skipgram_pairs(torch.tensor([4]), window=2)[0]) == 0
    with pytest.raises(ValueError):
        embeddings.skipgram_pairs(ids, window=0)


def test_skipgram_loss_is_the_negative_sampling_formula():
    torch.manual_seed(0)
    model = embeddings.SkipGram(12, 5)
    nn.init.normal_(model.context.weight)
    c, o, noise = torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([[5, 6], [7, 8]])
    expected = 0.0
    for b in range(2):
        v = model.center.weight[c[b]]
        expected -= math.log(torch.sigmoid(model.context.weight[o[b]] @ v).item())
        for n in noise[b]:
            expected -= math.log(torch.sigmoid(-model.context.weight[n] @ v).item())
    assert math.isclose(model(c, o, noise).item(), expected / 2, rel_tol=1e-5)
    v, u, n = model.center(c), model.context(o), model.context(noise)
    assert torch.equal(embeddings.sgns_loss(v, u, n), model(c, o, noise))
    assert torch.isfinite(embeddings.sgns_loss(100 * v, 100 * u, -100 * n))   # logsigmoid: no log(0)


def test_train_skipgram_takes_another_loss(stories):
    vocab, ids, segments = _corpus(storyworld.Corpus(stories.stories[:20], "train", "standard", 0))
    calls = []

    def counted(v, u_pos, u_neg):
        calls.append(v.shape[0])
        return embeddings.sgns_loss(v, u_pos, u_neg)

    kwargs = dict(dim=8, epochs=1, batch_size=256, segments=segments, seed=3)
    ours = embeddings.train_skipgram(ids, len(vocab), loss_fn=counted, **kwargs)
    assert calls and ours.losses == embeddings.train_skipgram(ids, len(vocab), **kwargs).losses


def test_subsampling_thins_frequent_words_only():
    ids = torch.tensor([0] * 9000 + [1] * 10)
    keep = embeddings.subsample_mask(ids, 2, t=1e-2, generator=torch.Generator().manual_seed(0))
    assert keep[9000:].all()                        # frequency 0.001 < t: always kept
    assert 0.05 < keep[:9000].float().mean() < 0.15  # frequency 0.999: kept with probability sqrt(t / f) = 0.1
    noise = embeddings.noise_distribution(ids, 3)
    assert math.isclose(noise.sum().item(), 1.0, rel_tol=1e-6) and noise[2] == 0


def _corpus(stories):
    documents = [embeddings.words(s.text) for s in stories.stories]
    vocab = sorted({w for d in documents for w in d})
    index = {w: i for i, w in enumerate(vocab)}
    ids = torch.tensor([index[w] for d in documents for w in d])
    segments = torch.tensor([i for i, d in enumerate(documents) for _ in d])
    return vocab, ids, segments


def test_word2vec_is_deterministic_for_a_seed(stories):
    vocab, ids, segments = _corpus(storyworld.Corpus(stories.stories[:40], "train", "standard", 0))
    runs = [embeddings.train_skipgram(ids, len(vocab), dim=8, epochs=1, batch_size=256, segments=segments, seed=3)
            for _ in range(2)]
    assert torch.equal(runs[0].model.center.weight, runs[1].model.center.weight)
    assert runs[0].losses == runs[1].losses


def test_word2vec_learns_categories_far_above_random(stories):
    vocab, ids, segments = _corpus(stories)
    result = embeddings.train_skipgram(ids, len(vocab), dim=16, epochs=2, batch_size=1024, lr=0.02,
                                       segments=segments, seed=0)
    assert sum(result.losses[-10:]) < sum(result.losses[:10])
    w2v = WordVectors(vocab, result.model.center.weight)
    purity = embeddings.neighbour_purity(w2v, storyworld.LEXICON.category)
    random_purity = embeddings.neighbour_purity(embeddings.random_vectors(vocab, 16), storyworld.LEXICON.category)
    assert purity > 0.5 and random_purity < 0.2
    assert w2v.nearest("red", 1)[0][0] in {"blue", "green", "yellow", "pink", "purple", "brown", "white"}


def test_train_skipgram_validates_input():
    with pytest.raises(ValueError):
        embeddings.train_skipgram(torch.tensor([0, 5]), vocab_size=3)
    with pytest.raises(ValueError):
        embeddings.train_skipgram(torch.tensor([1]), vocab_size=3)


# ---------------------------------------------------------------- scores against ground truth


def test_scores_for_perfect_and_random_vectors():
    categories = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B", "b3": "B", "c1": "C", "c2": "C"}
    centres = {"A": [1.0, 0, 0], "B": [0, 1.0, 0], "C": [0, 0, 1.0]}
    words = list(categories) + ["the"]
    vectors = torch.tensor([centres[categories[w]] for w in categories] + [[1.0, 1.0, 1.0]])
    vectors = vectors + 0.01 * torch.randn(len(words), 3, generator=torch.Generator().manual_seed(0))
    perfect = WordVectors(words, vectors)
    assert embeddings.neighbour_purity(perfect, categories, k=1) == 1.0
    # chance: a random other categorized word shares the category with probability (n_c - 1) / (N - 1)
    assert math.isclose(embeddings.chance_purity(categories), (3 * 2 / 7 + 3 * 2 / 7 + 2 * 1 / 7) / 8)
    with pytest.raises(ValueError):
        embeddings.neighbour_purity(WordVectors(["a1"], torch.ones(1, 3)), categories)


def test_analogy_accuracy_on_storyworld_roles():
    # vectors built from the true attributes: every analogy is exactly solvable
    roles = storyworld.LEXICON.roles
    attributes = torch.tensor([[r.gender == "female", r.age == "adult", r.rank == "royal"] for r in roles]).float()
    vectors = torch.cat([attributes, torch.ones(len(roles), 1)], dim=1)
    wv = WordVectors([r.word for r in roles], vectors)
    analogies = storyworld.LEXICON.analogies
    assert len(analogies) == 36
    assert embeddings.analogy_accuracy(wv, analogies) == 1.0
    results = embeddings.analogy_results(wv, analogies)
    assert len(results) == 36 and all(r[3] == r[4] for r in results)
    assert embeddings.score_embeddings(wv, {r.word: r.gender for r in roles}, analogies)["analogy"] == 1.0
    assert math.isnan(embeddings.analogy_accuracy(wv, [("x", "y", "z", "w")]))
    random = embeddings.random_vectors(wv.words, 4, seed=0)
    assert embeddings.analogy_accuracy(random, analogies) < 0.5


def test_tfidf_refuses_negative_or_nan_counts_and_subsampling_needs_t_above_zero():
    counts = torch.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 1.0]])
    with pytest.raises(ValueError, match=r"counts must be >= 0 .* got -1.0"):
        embeddings.tfidf(counts - torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="counts must be >= 0"):
        embeddings.tfidf(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(TypeError, match="counts must be a tensor"):
        embeddings.tfidf([[1, 0], [0, 1]])
    for t in (0, -1e-3, float("nan")):
        with pytest.raises(ValueError, match="t must be a number > 0"):
            embeddings.subsample_mask(torch.tensor([0, 1, 1]), 2, t=t)
