"""Outbound campaigns: contacts, calling rules, the dialer, CRM webhooks, reports.

Pure parts: :mod:`~voicebot.campaign.spec` (how settings are written),
:mod:`~voicebot.campaign.rules` (retries, windows, caps), :mod:`~voicebot.campaign.contacts`.
The dialer (:mod:`~voicebot.campaign.dialer`) runs them against the store
(:mod:`voicebot.store`) and places calls through one seam, :class:`~voicebot.campaign.placer.CallPlacer`.
"""
