"""Coding missions: task + edit authority + verifier -> RED -> edit -> GREEN -> commit -> evidence.

``service.MissionContext`` is the entry point front ends use (start, resume, load,
list); ``runner.MissionRunner`` is the persisted state machine; ``docs/missions.md``
is the user's guide.
"""
