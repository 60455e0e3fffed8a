"""Face identity and people clustering on the corpus's real photos of five people."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from photocull.analysis.faces.identity import DIMENSIONS, SAME_PERSON, FaceDescriber, distance
from photocull.config import Settings
from photocull.ingest.decode import decode
from photocull.models import store
from photocull.models.runtime import InferenceRuntime
from photocull.people.clustering import DUPLICATE, Person, assign, cluster

# Who is in each photo of faces/groups, from its file name ("johnsnow" is the
# character Kit Harington plays; two_people.jpg shows Obama and Biden). Faces of
# anyone else (the girl beside Obama) must become people of their own.
GROUPS = {
    "alex_lacamoire1.jpg": {"alex_lacamoire"},
    "johnsnow_test1.jpg": {"kit_harington"},
    "kit_with_rose.jpg": {"kit_harington", "rose_leslie"},
    "obama1.jpg": {"obama"},
    "obama_and_biden.jpg": {"obama", "biden"},
    "two_people.jpg": {"obama", "biden"},
}


@dataclass
class Faces:
    rgb: dict[str, np.ndarray]  # photo id -> working copy
    boxes: list[tuple[float, float, float, float]]
    descriptors: np.ndarray
    photo_ids: list[str]  # content hash of each face's file
    names: list[str]  # folder name (faces/people) or file name (faces/groups)


@pytest.fixture(scope="module")
def describer(models_ready: Path) -> FaceDescriber:
    settings = Settings()
    descriptor = InferenceRuntime(settings).session(store.model_path("dlib-face-descriptor", settings))
    return FaceDescriber(store.model_path("dlib-landmarks-5", settings), descriptor)


@pytest.fixture(scope="module")
def read_faces(models_ready: Path, describer: FaceDescriber):
    from photocull.analysis.faces.detect import detect_faces

    settings = Settings()
    session = InferenceRuntime(settings).session(store.model_path("blazeface-full", settings))

    def read(paths: list[Path], name_of) -> Faces:
        faces = Faces({}, [], np.empty((0, DIMENSIONS), np.float32), [], [])
        for path in paths:
            data = path.read_bytes()
            photo = hashlib.sha256(data).hexdigest()
            rgb = decode(data, path, settings.ingest).rgb
            boxes = [(f.x0, f.y0, f.x1, f.y1) for f in detect_faces(rgb, session)]
            faces.rgb[photo] = rgb
            faces.boxes += boxes
            faces.descriptors = np.concatenate([faces.descriptors, describer.describe(rgb, boxes)])
            faces.photo_ids += [photo] * len(boxes)
            faces.names += [name_of(path)] * len(boxes)
        return faces

    return read


@pytest.fixture(scope="module")
def people_faces(corpus: Path, read_faces) -> Faces:
    faces = read_faces(sorted((corpus / "faces" / "people").glob("*/*")), lambda p: p.parent.name)
    assert len(faces.names) == 9 and len(set(faces.photo_ids)) == 9, "one face per photo of faces/people"
    return faces


@pytest.fixture(scope="module")
def group_faces(corpus: Path, read_faces) -> Faces:
    faces = read_faces(sorted((corpus / "faces" / "groups").glob("*.jpg")), lambda p: p.name)
    assert set(faces.names) == set(GROUPS)
    return faces


def pairwise_scores(labels: np.ndarray, truth: list[str]) -> tuple[float, float, float]:
    """Precision, recall and F1 of "same cluster" over all pairs of faces."""
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(len(truth)), 2):
        same_cluster, same_person = labels[i] == labels[j], truth[i] == truth[j]
        tp += same_cluster and same_person
        fp += same_cluster and not same_person
        fn += same_person and not same_cluster
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return precision, recall, 2 * precision * recall / max(precision + recall, 1e-9)


def faces_per_person_and_photo(labels: np.ndarray, photo_ids: list[str]) -> int:
    return max(sum(1 for l, p in zip(labels, photo_ids) if (l, p) == key) for key in zip(labels, photo_ids))


def test_descriptors_separate_the_five_people(people_faces: Faces):
    d = people_faces.descriptors
    assert d.shape == (9, DIMENSIONS) and d.dtype == np.float32
    same = [distance(d[i], d[j]) for i, j in itertools.combinations(range(9), 2)
            if people_faces.names[i] == people_faces.names[j]]
    other = [distance(d[i], d[j]) for i, j in itertools.combinations(range(9), 2)
             if people_faces.names[i] != people_faces.names[j]]
    assert len(same) == 4
    assert max(same) < 0.5 < SAME_PERSON < min(other), (max(same), min(other))
    assert np.allclose(distance(d[:1], d), [distance(d[0], x) for x in d])


def test_small_faces_still_match_their_person(people_faces: Faces, describer: FaceDescriber):
    """A face shrunk to a 40 px box (MIN_RELIABLE_FACE_PX) stays near itself and its person's other photo."""
    import cv2

    names = people_faces.names
    for k, (photo, box) in enumerate(zip(people_faces.photo_ids, people_faces.boxes)):
        scale = 40 / (box[2] - box[0])
        small = cv2.resize(people_faces.rgb[photo], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        descriptor = describer.describe(small, [tuple(v * scale for v in box)])[0]
        assert distance(descriptor, people_faces.descriptors[k]) < 0.35, names[k]
        others = [i for i in range(9) if i != k]
        dist = distance(descriptor, people_faces.descriptors[others])
        if names.count(names[k]) > 1:
            assert names[others[int(np.argmin(dist))]] == names[k]
            assert min(d for d, i in zip(dist, others) if names[i] == names[k]) < 0.5, names[k]
        assert min(d for d, i in zip(dist, others) if names[i] != names[k]) > SAME_PERSON, names[k]


def test_describe_no_faces_and_bad_input(describer: FaceDescriber):
    rgb = np.zeros((64, 64, 3), np.uint8)
    assert describer.describe(rgb, []).shape == (0, DIMENSIONS)
    with pytest.raises(ValueError):
        describer.describe(rgb[..., 0], [(0, 0, 10, 10)])
    with pytest.raises(ValueError):
        describer.describe(rgb, [(10, 10, 10, 20)])


def test_people_photos_cluster_by_person(people_faces: Faces):
    result = cluster(people_faces.descriptors, people_faces.photo_ids)
    precision, recall, f1 = pairwise_scores(result.labels, people_faces.names)
    message = f"pairwise precision {precision:.3f} recall {recall:.3f} F1 {f1:.3f}"
    print(message)
    assert f1 >= 0.95, message
    assert len(result.people) == 5
    assert sorted(p.count for p in result.people) == [1, 2, 2, 2, 2]
    assert [p.id for p in result.people] == [1, 2, 3, 4, 5]
    assert result.labels[0] == 1  # ids in the order of first faces


def test_no_person_gets_two_faces_of_one_photo(people_faces: Faces, group_faces: Faces):
    """At a threshold loose enough to merge two people of one photo, the constraint still keeps them apart."""
    descriptors = np.concatenate([people_faces.descriptors, group_faces.descriptors])
    photos = people_faces.photo_ids + group_faces.photo_ids
    loose = 0.95  # above every same-photo pair of people here (0.73-0.87)
    unconstrained = cluster(descriptors, [str(i) for i in range(len(photos))], threshold=loose).labels
    assert faces_per_person_and_photo(unconstrained, photos) > 1  # so the test below can fail
    constrained = cluster(descriptors, photos, threshold=loose).labels
    assert faces_per_person_and_photo(constrained, photos) == 1
    default = cluster(descriptors, photos).labels
    assert faces_per_person_and_photo(default, photos) == 1


def test_reflection_in_one_photo_may_be_one_person(people_faces: Faces, describer: FaceDescriber):
    """A face beside its mirror image: two faces of one photo, yet within ``DUPLICATE``: one person."""
    photo, box = people_faces.photo_ids[5], people_faces.boxes[5]  # obama/obama.jpg
    rgb = people_faces.rgb[photo]
    width = rgb.shape[1]
    both = np.hstack([rgb, rgb[:, ::-1]])
    mirrored = (2 * width - box[2], box[1], 2 * width - box[0], box[3])
    descriptors = describer.describe(both, [box, mirrored])
    assert distance(*descriptors) < DUPLICATE
    assert len(set(cluster(descriptors, ["p", "p"]).labels)) == 1
    assert len(set(cluster(descriptors, ["p", "p"], duplicate=0.0).labels)) == 2


def test_group_faces_join_the_people_they_show(people_faces: Faces, group_faces: Faces):
    known = cluster(people_faces.descriptors, people_faces.photo_ids)
    id_of = {name: int(known.labels[people_faces.names.index(name)]) for name in set(people_faces.names)}
    result = assign(group_faces.descriptors, group_faces.photo_ids, known.people)
    existing = set(id_of.values())
    for file_name, expected in GROUPS.items():
        labels = [int(l) for l, n in zip(result.labels, group_faces.names) if n == file_name]
        assert {l for l in labels if l in existing} == {id_of[name] for name in expected}, file_name
        assert len(set(labels)) == len(labels), file_name
    strangers = [l for l in result.labels if l not in existing]
    assert len(strangers) == len(group_faces.names) - sum(map(len, GROUPS.values()))  # the girl
    assert all(l > max(existing) for l in strangers)


def test_incremental_matches_batch(people_faces: Faces, group_faces: Faces):
    """Clustering faces/people then assigning faces/groups splits the faces as clustering all at once does."""
    known = cluster(people_faces.descriptors, people_faces.photo_ids)
    added = assign(group_faces.descriptors, group_faces.photo_ids, known.people)
    together = cluster(np.concatenate([people_faces.descriptors, group_faces.descriptors]),
                       people_faces.photo_ids + group_faces.photo_ids)
    incremental = np.concatenate([known.labels, added.labels])
    assert pairwise_scores(incremental, [str(l) for l in together.labels]) == (1.0, 1.0, 1.0)


def test_person_ids_stay_when_faces_are_added(people_faces: Faces, group_faces: Faces, read_faces,
                                              corpus: Path):
    known = cluster(people_faces.descriptors, people_faces.photo_ids)
    before = {p.id: (p.count, p.centroid.copy()) for p in known.people}
    first = assign(group_faces.descriptors, group_faces.photo_ids, known.people)
    assert {p.id: (p.count, p.centroid.tolist()) for p in known.people} == \
        {i: (c, v.tolist()) for i, (c, v) in before.items()}  # the given people are not changed
    counts = {p.id: p.count for p in first.people}
    for pid, (count, _) in before.items():
        assert counts[pid] == count + int(np.sum(first.labels == pid))
    # more photos of Obama: they join the same person, which keeps its id; no new person appears
    variants = read_faces(sorted((corpus / "faces" / "variants").glob("obama-*p.jpg")), lambda p: p.name)
    obama = int(known.labels[people_faces.names.index("obama")])
    second = assign(variants.descriptors, variants.photo_ids, first.people)
    assert set(second.labels.tolist()) == {obama}
    assert [p.id for p in second.people] == [p.id for p in first.people]
    # new people never reuse an id, even one given back by the caller
    stranger = assign(group_faces.descriptors[:1] + 5.0, ["x"], first.people, next_id=100)
    assert stranger.labels.tolist() == [100]


def test_person_representation_is_exact(people_faces: Faces):
    """Centroid, count and spread of a person equal those of its faces' descriptors."""
    result = cluster(people_faces.descriptors, people_faces.photo_ids)
    for person in result.people:
        members = people_faces.descriptors[result.labels == person.id].astype(np.float64)
        assert person.count == len(members)
        assert np.allclose(person.centroid, members.mean(axis=0), atol=1e-6)
        spread = np.sqrt(((members - members.mean(axis=0)) ** 2).sum(axis=1).mean())
        assert person.spread == pytest.approx(spread, abs=1e-6)


def _greedy_reference(x: np.ndarray, photos: list[str], fixed: list[Person], threshold: float) -> list[int]:
    """Textbook greedy agglomeration (merge the closest allowed pair until none is under the threshold)."""
    groups = [[("p", p.id)] for p in fixed] + [[("f", i)] for i in range(len(x))]
    stats = [(p.centroid.astype(np.float64), p.count, p.spread ** 2) for p in fixed] + \
        [(v, 1, 0.0) for v in x]

    def allowed(a: int, b: int) -> bool:
        if sum(kind == "p" for kind, _ in groups[a] + groups[b]) > 1:
            return False
        faces = [i for kind, i in groups[a] + groups[b] if kind == "f"]
        return len({photos[i] for i in faces}) == len(faces)

    while True:
        best = None
        for a, b in itertools.combinations(range(len(groups)), 2):
            (ca, na, sa), (cb, nb, sb) = stats[a], stats[b]
            d2 = ((ca - cb) ** 2).sum() + sa + sb
            if d2 < threshold ** 2 and allowed(a, b) and (best is None or d2 < best[0]):
                best = (d2, a, b)
        if best is None:
            break
        _, a, b = best
        (ca, na, sa), (cb, nb, sb) = stats[a], stats[b]
        n = na + nb
        stats[a] = ((na * ca + nb * cb) / n, n, (na * sa + nb * sb) / n + na * nb / n ** 2 * ((ca - cb) ** 2).sum())
        groups[a] += groups.pop(b)
        stats.pop(b)
    group_of = {i: g for g, members in enumerate(groups) for kind, i in members if kind == "f"}
    return [group_of[i] for i in range(len(x))]


@pytest.mark.parametrize("seed", range(5))
def test_clustering_equals_textbook_greedy_agglomeration(seed: int):
    """The nearest-neighbour chain with components gives the partition of the O(n^3) greedy algorithm."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, DIMENSIONS)) * 0.055
    x = centres[rng.integers(0, 6, 40)] + rng.normal(size=(40, DIMENSIONS)) * 0.028
    photos = [f"photo{k}" for k in rng.integers(0, 25, 40)]
    # two existing people of one centre (split by hand, say): they must stay two
    fixed = cluster(centres[[0, 0, 1]] + rng.normal(size=(3, DIMENSIONS)) * 0.02, ["a", "b", "c"],
                    threshold=0.01).people
    assert len(fixed) == 3
    result = assign(x, photos, fixed, threshold=0.5, duplicate=0.0)
    reference = _greedy_reference(x, photos, fixed, 0.5)
    precision, recall, _ = pairwise_scores(result.labels, [str(g) for g in reference])
    assert (precision, recall) == (1.0, 1.0)
    assert len(set(result.labels.tolist())) < 40  # not trivially all apart
    assert {1, 2} <= set(result.labels.tolist())
    # the reference numbers the 3 existing people's groups 0-2, joined or not
    assert len(result.people) == len(set(reference) | {0, 1, 2})


def test_bad_input_is_refused():
    x = np.zeros((2, DIMENSIONS), np.float32)
    with pytest.raises(ValueError):
        cluster(np.zeros((2, 64)), ["a", "b"])
    with pytest.raises(ValueError):
        cluster(x, ["a"])
    with pytest.raises(ValueError):
        cluster(x + np.nan, ["a", "b"])
    person = Person(3, np.zeros(DIMENSIONS, np.float32), 1, 0.0)
    with pytest.raises(ValueError):
        assign(x, ["a", "b"], [person], next_id=3)
    with pytest.raises(ValueError):
        assign(x, ["a", "b"], [person, person])
    assert cluster(np.empty((0, DIMENSIONS)), []).labels.shape == (0,)
