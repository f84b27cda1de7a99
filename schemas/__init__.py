"""NSED wire messages, subjects and the round's flow table.

Every message is a frozen, keyword-only msgspec Struct with a stable ``type`` tag and JSON
on the wire. Modules follow the round in order: ``task`` (intake), ``team`` (selection),
``propose``, ``review``, ``ballot``, ``tally``, ``gate`` (continue/conclude), then
``record`` (the deliberation record kept in KV, and its life cycle), ``timers`` and ``dlq``.
``subjects`` holds every subject, stream and bucket name and the flow table; nothing else
spells a subject. ``outputs`` names what each handler emits.
"""
