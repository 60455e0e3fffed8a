"""Picks and reasons on real scanned photos: the burst's sharp frame, keep rules between copies,
brackets kept whole, and the words of the reasons."""

from __future__ import annotations

from photocull.config import Settings
from photocull.grouping.groups import Group, Link
from photocull.grouping.inputs import load_input
from photocull.ranking.cull import score_catalog
from photocull.ranking.picks import rank_group
from photocull.ranking.reasons import Shot, pick_reason, loser_reason
from tests.ranking.conftest import catalog_of


def _setup(library):
    with catalog_of(library) as catalog:
        data = load_input(catalog)
        scored = score_catalog(catalog, Settings())
    index = {item.path.split("/library/", 1)[1]: i for i, item in enumerate(data.items)}
    return data, scored, index


def _rank(group, data, scored, keep_rule="best"):
    return rank_group(group, data.items, scored.by_path, scored.faces, scored.scores, keep_rule)


def test_the_sharp_frame_of_a_burst_is_picked_and_the_reason_says_sharper(library) -> None:
    data, scored, index = _setup(library)
    sharp, blurred = index["burst/frame_1.jpg"], index["burst/frame_2.jpg"]
    for relation, kind in (("burst", "moment"), ("copy", "duplicates")):
        ranked = _rank(Group(kind, [sharp, blurred], [Link(sharp, blurred, relation, "1.0 s apart")]), data, scored)
        assert ranked.pick.index == sharp
        assert "sharper" in ranked.reason
        assert "blurry" in ranked.members[1].reason or "less sharp" in ranked.members[1].reason


def test_keep_rules_between_copies(library) -> None:
    data, scored, index = _setup(library)
    raw, heic, jpeg = index["raw/Nikon_uncompressed.nef"], index["heic/IMG_5195.HEIC"], index["scenes/baboon.jpg"]
    pair = Group("duplicates", [raw, jpeg], [Link(raw, jpeg, "raw_jpeg", "same capture")])
    ranked = _rank(pair, data, scored, "raw")
    assert ranked.pick.index == raw and ranked.reason.startswith("RAW kept over its JPEG")
    assert "JPEG copy of the pick (RAW kept over its JPEG)" == ranked.members[1].reason
    heic_pair = Group("duplicates", [heic, jpeg], [Link(heic, jpeg, "copy", "pHash 2 bits apart")])
    assert _rank(heic_pair, data, scored, "heic").pick.index == heic
    sizes = [index[f"variants/obama-{p}.jpg"] for p in ("240p", "480p", "720p", "1080p")]
    copies = Group("duplicates", sizes, [Link(sizes[0], m, "copy", "pHash") for m in sizes[1:]])
    largest = _rank(copies, data, scored, "largest")
    assert largest.pick.index == sizes[-1] and largest.reason.startswith("largest copy: 1920×1080")
    smallest = _rank(copies, data, scored, "smallest")
    assert smallest.pick.index == sizes[0] and smallest.reason.startswith("smallest copy")
    # "best": the highest score among full-size copies only; the reduced copies measure sharper at the
    # working size (240p scores higher than 1080p) but cannot be better than the photo they were made from.
    best = _rank(copies, data, scored, "best")
    assert max(sizes, key=lambda m: scored.scores[data.items[m].path].score) != sizes[-1]
    assert best.pick.index == sizes[-1] and best.reason.startswith("full-size copy (1920×1080)")


def test_copies_follow_their_kept_one_and_different_shots_are_ranked_by_score(library) -> None:
    data, scored, index = _setup(library)
    a, b, c = index["scenes/leuvenA.jpg"], index["scenes/leuvenB.jpg"], index["scenes/baboon.jpg"]
    group = Group("moment", [a, b, c], [Link(a, b, "same_scene", "matched"), Link(a, c, "copy", "pHash")])
    ranked = _rank(group, data, scored, "raw")  # no RAW: the best copy
    order = [m.index for m in ranked.members]
    pixels = {m: data.items[m].width * data.items[m].height for m in (a, c)}
    full_size = [m for m in (a, c) if pixels[m] * 1.5 >= max(pixels.values())]  # leuvenA: 1.6x baboon's pixels
    representative = max(full_size, key=lambda m: scored.scores[data.items[m].path].base)
    assert order[-1] == ({a, c} - {representative}).pop()  # the other copy comes last
    assert [m.rank for m in ranked.members] == [1, 2, 3]
    assert all(m.reason for m in ranked.members)


def test_brackets_keep_every_frame(library) -> None:
    data, scored, index = _setup(library)
    a, b = index["scenes/leuvenA.jpg"], index["scenes/leuvenB.jpg"]
    ranked = _rank(Group("bracket", [a, b], [Link(a, b, "bracket", "EV -1, +1")]), data, scored)
    assert ranked.keep_all and ranked.pick is None
    assert "exposure bracket" in ranked.reason and ranked.members[1].reason.startswith("kept with the others")


def test_reasons_name_closed_eyes_and_sharper_faces(library) -> None:
    data, scored, index = _setup(library)
    item = data.items[index["obama/obama.jpg"]]
    photo = scored.by_path[item.path]

    def shot(eyes, sharpness, name="Ana", ev=0.0):
        face = {"person": 1, "person_name": name, "eyes": eyes, "sharpness": sharpness, "face_index": 0}
        return Shot(item, {**photo, "exposure_ev": ev}, [face], scored.scores[item.path])

    pick = shot("open", 0.8, ev=-0.2)
    others = [shot("closed", 0.6), shot("closed", 0.5), shot("open", 0.6, ev=-1.4)]
    reason = pick_reason(pick, others)
    assert reason.startswith("eyes closed in 2 of the 3 other shots (Ana)")
    assert "sharper face of Ana" in reason
    assert loser_reason(others[0], pick).startswith("Ana's eyes closed")
    assert "1.2 EV darker" in loser_reason(others[2], pick)


def test_a_face_rejected_shot_ranks_below_every_other_whatever_its_score(library) -> None:
    from photocull.ranking.composite import Weights, combine

    data, scored, index = _setup(library)
    a, b, c = index["scenes/leuvenA.jpg"], index["scenes/leuvenB.jpg"], index["scenes/building.jpg"]
    scores = dict(scored.scores)
    scores[data.items[a].path] = combine({"technical": 1.0, "aesthetic": 1.0, "faces": 0.9}, Weights(), rejected=True)
    group = Group("moment", [a, b, c], [Link(a, b, "burst", "1 s"), Link(b, c, "burst", "1 s")])
    ranked = rank_group(group, data.items, scored.by_path, scored.faces, scores)
    assert ranked.members[-1].index == a and ranked.members[-1].reason == "rejected by the face rules"
    assert scores[data.items[a].path].base > max(scores[data.items[m].path].base for m in (b, c))
