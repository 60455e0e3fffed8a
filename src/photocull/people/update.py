"""Keep the catalog's people up to date: new faces join people after a scan; re-clustering on demand.

After every scan with the faces analyser, :func:`update_people` places the
faces that have no person yet: each joins the person whose faces lie within
``people.threshold`` or starts a new person (``clustering.assign``: existing
people keep their ids and are never merged or split by it). Only the new
faces' descriptors are read; people are known by their stored centroid,
face count and spread.

:func:`recluster` starts over for every face the user has not placed
(``photocull people --recluster``, e.g. after changing the threshold). Faces
the user placed (by naming their person, merging or splitting) stay where
they are and anchor their people; every new cluster takes the id of the
person most of its faces had before, so ids, names and roles carry over.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from photocull.catalog.people import FaceIdentity, PersonState
from photocull.catalog.store import Catalog
from photocull.config import Settings
from photocull.models.known import MODELS
from photocull.people.clustering import Person, assign

# People's centroids are only comparable with descriptors of the same network.
SPACE = f"dlib-face-descriptor:{MODELS['dlib-face-descriptor'].sha256[:16]}"


@dataclass(frozen=True, slots=True)
class PeopleUpdate:
    faces_placed: int  # faces given a person by this update
    new_people: int
    people: int  # people in the catalog afterwards
    reclustered: bool


def update_people(catalog: Catalog, settings: Settings) -> PeopleUpdate:
    """Give every face without a person one (see the module docstring)."""
    store = catalog.people
    states = store.states()
    if any(s.space != SPACE for s in states):  # descriptors of another network: start over
        return recluster(catalog, settings)
    new = store.faces(unassigned_only=True)
    if not new:
        return PeopleUpdate(0, 0, len(states), False)
    known = [Person(s.id, s.centroid, s.face_count, s.spread) for s in states]
    shared = store.photos_of(f.content_hash for f in new)  # re-scanned photos may hold placed faces
    result = assign(np.stack([f.descriptor for f in new]), [f.content_hash for f in new], known,
                    threshold=settings.people.threshold, duplicate=settings.people.duplicate,
                    next_id=store.next_id(), people_photos=[shared.get(p.id, set()) for p in known])
    touched = {int(label) for label in result.labels}
    store.save([PersonState(p.id, SPACE, p.centroid, p.count, p.spread) for p in result.people if p.id in touched],
               [(f.content_hash, f.face_index, int(label), False) for f, label in zip(new, result.labels)])
    known_ids = {p.id for p in known}
    return PeopleUpdate(len(new), len(touched - known_ids), len(result.people), False)


def recluster(catalog: Catalog, settings: Settings) -> PeopleUpdate:
    """Cluster again every face the user has not placed; ids, names and roles carry over."""
    store = catalog.people
    faces = store.faces()
    old_ids = {s.id for s in store.states()}
    anchored: dict[int, list[FaceIdentity]] = defaultdict(list)
    for face in faces:
        if face.confirmed and face.person_id is not None:
            anchored[face.person_id].append(face)
    anchors = [person_of(pid, [f.descriptor for f in members]) for pid, members in sorted(anchored.items())]
    free = [f for f in faces if not (f.confirmed and f.person_id is not None)]
    first_new = max([store.next_id(), *old_ids, 0]) + 1
    result = assign(np.stack([f.descriptor for f in free]) if free else np.zeros((0, 128)),
                    [f.content_hash for f in free], anchors,
                    threshold=settings.people.threshold, duplicate=settings.people.duplicate, next_id=first_new,
                    people_photos=[{f.content_hash for f in anchored[p.id]} for p in anchors])

    # Each new cluster takes the id most of its faces had (largest overlaps first), else a fresh id.
    votes = Counter((int(label), f.person_id) for f, label in zip(free, result.labels)
                    if label >= first_new and f.person_id is not None and f.person_id not in anchored)
    final: dict[int, int] = {p.id: p.id for p in anchors}
    taken = set(final)
    for (label, old), _ in votes.most_common():
        if label not in final and old not in taken:
            final[label] = old
            taken.add(old)
    fresh = store.next_id()
    for label in sorted({int(label) for label in result.labels}):
        if label not in final:
            final[label] = fresh
            fresh += 1

    members: dict[int, list[np.ndarray]] = defaultdict(list)
    links = []
    for pid, group in anchored.items():
        members[pid] += [f.descriptor for f in group]
        links += [(f.content_hash, f.face_index, pid, True) for f in group]
    for face, label in zip(free, result.labels):
        pid = final[int(label)]
        members[pid].append(face.descriptor)
        links.append((face.content_hash, face.face_index, pid, False))
    people = [person_state(pid, descriptors) for pid, descriptors in members.items()]
    store.save(people, links, drop=old_ids - set(members))
    return PeopleUpdate(len(free), len(set(members) - old_ids), len(members), True)


def person_of(person_id: int, descriptors: list[np.ndarray]) -> Person:
    """A person's centroid, count and spread, computed from all their faces."""
    stacked = np.stack(descriptors).astype(np.float64)
    centroid = stacked.mean(axis=0)
    spread = float(np.sqrt(((stacked - centroid) ** 2).sum(axis=1).mean()))
    return Person(person_id, centroid.astype(np.float32), len(descriptors), spread)


def person_state(person_id: int, descriptors: list[np.ndarray]) -> PersonState:
    person = person_of(person_id, descriptors)
    return PersonState(person.id, SPACE, person.centroid, person.count, person.spread)
