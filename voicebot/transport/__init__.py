"""Transports: the only modules that open sockets (DESIGN.md rule 1).

``voicebot.transport.sip`` carries SIP over UDP and TCP (IPv4 and IPv6); RTP sockets belong to
the media engine.
"""
