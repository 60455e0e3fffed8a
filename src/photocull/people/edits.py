"""The user's corrections: name a person and give them a role, merge two people, split out a wrong face.

Every correction confirms the faces it touches: re-clustering never moves a
confirmed face, so corrections, names and roles outlive ``--recluster`` and
re-scans. Each correction recomputes the centroids it changes from the
faces themselves, so later faces are placed against what the user decided.
"""

from __future__ import annotations

from dataclasses import dataclass

from photocull.catalog.people import ROLES
from photocull.catalog.store import Catalog
from photocull.people.update import person_state


class PeopleError(ValueError):
    """A correction that cannot be made (unknown person, face not theirs, ...): says why."""


@dataclass(frozen=True, slots=True)
class Merged:
    person: int
    faces_moved: int
    shared_photos: int  # photos in which both people appear: after merging, one person twice


def label(catalog: Catalog, person_id: int, name: str | None = None, role: str | None = None) -> dict:
    """Name a person and/or set their role (main, important, other); their faces become confirmed."""
    existing(catalog, person_id)
    if name is None and role is None:
        raise PeopleError("give --name, --role or both")
    if role is not None and role not in ROLES:
        raise PeopleError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    catalog.people.label(person_id, name, role)
    return existing(catalog, person_id)


def merge(catalog: Catalog, keep: int, others: list[int]) -> Merged:
    """Move every face of ``others`` to ``keep``; the others are deleted.

    ``keep`` keeps its name, or takes the first other's; its role becomes the
    most important of theirs.
    """
    people = {pid: existing(catalog, pid) for pid in [keep, *others]}
    if keep in others or len(set(others)) != len(others):
        raise PeopleError("merge needs distinct people")
    faces = [f for f in catalog.people.faces() if f.person_id in people]
    kept_photos = {f.content_hash for f in faces if f.person_id == keep}
    moved = [f for f in faces if f.person_id != keep]
    shared = len(kept_photos & {f.content_hash for f in moved})
    state = person_state(keep, [f.descriptor for f in faces])
    catalog.people.save([state], [(f.content_hash, f.face_index, keep, True) for f in faces], drop=others)
    name = people[keep]["name"] or next((people[o]["name"] for o in others if people[o]["name"]), None)
    role = min((p["role"] for p in people.values()), key=ROLES.index)
    catalog.people.label(keep, name, role)
    return Merged(keep, len(moved), shared)


def split(catalog: Catalog, person_id: int, content_hash: str, face_index: int | None = None,
          to: int | None = None) -> tuple[int, int]:
    """Move the person's face in one photo to person ``to`` or to a new person: (face index, person)."""
    existing(catalog, person_id)
    if to is not None:
        existing(catalog, to)
        if to == person_id:
            raise PeopleError(f"the face already belongs to person {to}")
    faces = catalog.people.faces()
    theirs = [f for f in faces if f.person_id == person_id and f.content_hash == content_hash
              and (face_index is None or f.face_index == face_index)]
    if not theirs:
        which = "no face" if face_index is None else f"no face {face_index}"
        raise PeopleError(f"person {person_id} has {which} in that photo")
    face = theirs[0]
    target = to if to is not None else catalog.people.next_id()
    remaining = [f.descriptor for f in faces if f.person_id == person_id and f is not face]
    joined = [f.descriptor for f in faces if to is not None and f.person_id == to] + [face.descriptor]
    states = [person_state(target, joined)]
    if remaining:
        states.append(person_state(person_id, remaining))
    catalog.people.save(states, [(face.content_hash, face.face_index, target, True)],
                        drop=[] if remaining else [person_id])
    return face.face_index, target


def existing(catalog: Catalog, person_id: int) -> dict:
    person = catalog.people.person(person_id)
    if person is None:
        raise PeopleError(f"no person {person_id} in this catalog (see `photocull people`)")
    return person
