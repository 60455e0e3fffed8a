"""Grouping: which photos are copies of each other or the same moment (docs/grouping.md).

Entry points: :func:`photocull.grouping.inputs.load_input` (catalog -> :class:`GroupingInput`) and
:func:`photocull.grouping.build.find_groups` (-> :class:`Group` list). One concept a module: ``groups``
(types), ``index`` (neighbour candidates), ``verify`` (local features), ``duplicates`` (same photo),
``moments`` (bursts, look-alikes), ``sets`` (brackets, panoramas), ``build`` (links -> groups).
"""
