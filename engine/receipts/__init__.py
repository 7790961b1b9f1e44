"""Receipts service: status reports, resolve receipts and uplink replies, into per-number outcomes.

``parse`` (wire formats → ``Receipt`` / ``Reply``), ``auth`` (URL token, SMS push signature), ``tasks``
(task id → chunk reference), ``store`` (idempotent recording in Redis), ``server`` (the aiohttp app),
``register`` (callback URLs at the provider). Import-free, so the provider client can use ``auth``.
"""
