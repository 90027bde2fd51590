"""Several worker processes, one event loop each, behind a Kamailio dispatcher.

* :mod:`voicebot.workers.kamailio` renders the dispatcher config from its template;
* :mod:`voicebot.workers.supervisor` starts, probes and restarts processes;
* :mod:`voicebot.workers.serve` runs ``voicebot serve --workers N``;
* :mod:`voicebot.workers.outbound` splits outbound calls over N workers.
"""
