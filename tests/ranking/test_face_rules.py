"""The face rules on face rows: role weights, the hard rule on main people's eyes, passers-by, no faces."""

from __future__ import annotations

from photocull.config import RuleSettings
from photocull.ranking.face_rules import best_by_faces, judge_faces, with_verdicts

RULES = RuleSettings()


def face(role: str | None = None, eyes: str = "open", sharpness: float | None = 0.6, facing: bool = True,
         smiling: bool = True, width: float = 0.2, name: str | None = None, index: int = 0) -> dict:
    return {"role": role, "eyes": eyes, "sharpness": sharpness, "facing": facing, "smiling": smiling,
            "x0": 0.4, "x1": 0.4 + width, "person": None if role is None else 1, "person_name": name,
            "face_index": index}


def test_perfect_faces_score_one_and_say_so() -> None:
    verdict = judge_faces([face("main"), face("other", index=1)], RULES)
    assert verdict.score == 1.0 and not verdict.rejected and verdict.judged == 2
    assert verdict.reasons == ("all 2 faces: eyes open, in focus, facing, smiling",)


def test_a_main_person_blinking_rejects_the_photo_and_comes_first() -> None:
    verdict = judge_faces([face("other", smiling=False, index=0), face("main", eyes="closed", name="Anna", index=1)],
                          RULES)
    assert verdict.rejected
    assert verdict.reasons[0].startswith("Anna (main): eyes closed (rejects the photo")
    assert not judge_faces([face("main", eyes="closed")], RULES.model_copy(update={"main_eyes_open": False})).rejected


def test_roles_weigh_the_same_fault_differently() -> None:
    bystander = judge_faces([face("main"), face("other", eyes="closed", index=1)], RULES).score
    bride = judge_faces([face("main", eyes="closed"), face("other", index=1)],
                        RULES.model_copy(update={"main_eyes_open": False})).score
    important = judge_faces([face("main"), face("important", eyes="closed", index=1)], RULES).score
    assert bride < important < bystander < 1.0


def test_blur_turning_and_passers_by() -> None:
    verdict = judge_faces([face("main", sharpness=0.2, facing=False)], RULES)
    assert verdict.score == round(1 - (RULES.blurry_face_penalty + RULES.turned_away_penalty), 4)
    assert "out of focus (0.20)" in verdict.reasons[0] and "turned away" in verdict.reasons[0]
    tiny = judge_faces([face(None, eyes="closed", width=0.01)], RULES)  # a stranger far away
    assert tiny.score is None and tiny.judged == 0
    assert judge_faces([face("main", eyes="closed", width=0.01)], RULES).rejected  # main people always count


def test_photos_without_faces_are_judged_without_face_terms() -> None:
    assert judge_faces([], RULES).score is None
    photos = with_verdicts([{"path": "a"}, {"path": "b"}, {"path": "c"}],
                           [dict(face("main", eyes="closed"), path="a"), dict(face("main", smiling=False), path="b")],
                           RULES)
    assert photos[2]["face_score"] is None and photos[2]["face_issues"] is None
    assert [p["path"] for p in best_by_faces(photos)] == ["b", "a", "c"]
