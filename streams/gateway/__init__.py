"""``carpass gateway``: the HTTP front door for dealer-management software that does not speak Kafka.

Pure parts (no I/O, no clock): :mod:`.requests` (bodies -> events, field errors, ids), :mod:`.limits`
(token buckets), :mod:`.receipts` (the bounded receipt index). Shell: :mod:`.kafka` (producer awaiting
delivery reports, receipt follower thread), :mod:`.service` (aiohttp routes), :mod:`.openapi`.
"""
